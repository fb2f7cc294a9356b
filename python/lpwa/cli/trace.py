"""``lpwa trace``: decode a captured module→host byte stream into JSON events.

For fleet collectors that archive raw serial traffic. Each event becomes one JSON
object per line: ``kind`` (the tokenizer's), ``text`` for lines (UTF-8, invalid
bytes replaced), ``name`` for ``+NAME:`` lines, ``code`` when the event has one,
and ``length`` plus ``data_b64`` for bodies and binary URC payloads
(``payload_b64``). Echoed commands in the capture drive the framing, so a
``AT+QHTTPREAD`` echo frames the body that follows it.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from lpwa.tokenizer import Event, Tokenizer

READ_SIZE = 1 << 16


def _record(event: Event, brief: bool) -> dict[str, Any]:
    kind = event.kind
    record: dict[str, Any] = {"kind": kind}
    if kind == "body":
        record["length"] = len(event.data)
        if event.more:
            record["more"] = True
        if not brief:
            record["data_b64"] = base64.b64encode(event.data).decode("ascii")
    else:
        record["text"] = event.data.decode("utf-8", "replace")
        if event.name is not None:
            record["name"] = event.name
    if event.code is not None:
        record["code"] = event.code
    if event.payload is not None:
        record["payload_length"] = len(event.payload)
        if not brief:
            record["payload_b64"] = base64.b64encode(event.payload).decode("ascii")
    return record


def events(stream: IO[bytes], tokenizer: Tokenizer | None = None) -> Iterator[Event]:
    """Every event of a captured stream, read in large pieces."""
    tok = tokenizer or Tokenizer()
    while True:
        data = stream.read(READ_SIZE)
        if not data:
            return
        yield from tok.feed(data)


def run(source: str, *, stats: bool, brief: bool, out: IO[str] = sys.stdout) -> int:
    """Decode ``source`` (a path or ``-``) to ``out``; returns the exit status."""
    stream = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    start = time.perf_counter()
    kinds: Counter[str] = Counter()
    urcs: Counter[str] = Counter()
    size = 0
    try:
        for event in events(stream):
            if stats:
                kinds[event.kind] += 1
                if event.kind == "urc":
                    urcs[event.name or event.data.decode("utf-8", "replace")] += 1
                size += len(event.data)
            else:
                out.write(json.dumps(_record(event, brief)) + "\n")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if stats:
        elapsed = time.perf_counter() - start
        summary = {
            "events": sum(kinds.values()),
            "by_kind": dict(kinds.most_common()),
            "urcs_by_name": dict(urcs.most_common()),
            "seconds": round(elapsed, 6),
        }
        out.write(json.dumps(summary, indent=2) + "\n")
    return 0
