"""``lpwa trace``: decode a captured module→host byte stream into JSON events.

For fleet collectors that archive raw serial traffic. Each event becomes one JSON
object per line, written as soon as it is framed: ``kind`` (the tokenizer's),
``text`` for lines (UTF-8, invalid bytes replaced), ``name`` for ``+NAME:`` lines,
``code`` when the event has one, ``length`` plus ``data_b64`` for bodies and for
bytes that could not be framed (``invalid``), ``payload_length`` plus
``payload_b64`` for binary URC payloads (``+QCOAPRECV``). ``--brief`` leaves the
base64 out; ``--stats`` prints one JSON summary instead (events by kind, URCs by
name, input bytes, seconds, MB/s).

The capture must have echo on (the module's power-up default, design §2): the
echoed commands stand in for the host's side. The trace replays them as the host
would have declared them, so a ``AT+QHTTPREAD`` body is framed by the
``<content_length>`` of the ``+QHTTPGET``/``+QHTTPPOST`` URC before it, or by its
``Content-Length`` header after ``AT+QHTTPCFG="responseheader",1``, and by the
trailer ``\\r\\nOK\\r\\n\\r\\n+QHTTPREAD: <err>\\r\\n`` only when neither is known.

Logs are read too, their dialect detected from the first bytes or forced with
``--format`` (``FORMATS``): ``raw`` captures, ``escaped`` (``[SEND][  3][AT\\r]``),
``tagged`` (``TX: AT<cr>`` / ``RX: <cr><lf>OK<cr><lf>``), ``dots`` (CR and LF printed as
``.``), ``hex`` dumps and plain ``text`` transcripts. In a log with directions the
host's lines declare the commands as echoes do in a capture (so echo may be off).
For ``dots`` and ``text`` the framing is reconstructed: stderr says so.

The command runs in the Rust core (``rust/src/trace.rs``: reading, capture replay,
JSON writing, counts; ``rust/src/trace_file.rs``: a large file on two cores;
``rust/src/dialect.rs``: the logs). The Python classes below are the same decoder
written in Python: ``run_reference`` is the oracle of the differential tests
(``tests/test_trace_differential.py``), whose output the Rust path matches byte for
byte. Framing rules are the tokenizer's (``lpwa.tokenizer``).

An archive larger than one machine: ``decode_stats`` / ``decode_events`` are plain
picklable functions of one file (bytes or a path), ``merge_stats`` the reduce step.
With ``dask.bag`` (tested in ``tests/test_trace_dask.py``)::

    import dask.bag as db
    from lpwa.cli.trace import decode_stats, merge_stats
    total = db.from_sequence(paths, npartitions=64).map(decode_stats).fold(merge_stats).compute()

The same two functions map onto Spark (``sc.parallelize(paths).map(decode_stats)
.reduce(merge_stats)``, or ``binaryFiles(...).map(lambda kv: decode_stats(kv[1]))``
for files the workers cannot open by path) and Ray
(``ray.data.from_items(paths).map(lambda r: decode_stats(r["item"]))`` then
``functools.reduce(merge_stats, ...)``). One file is one task: a capture is a
single stream, so the unit of parallelism is the file, and within a large file the
two-core block decoding of ``lpwa trace``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Protocol, Union

from lpwa import _lpwa
from lpwa.errors import ParameterError
from lpwa.tokenizer import Event, Tokenizer

__all__ = [
    "FORMATS",
    "CaptureDecoder",
    "Readable",
    "Stats",
    "decode_events",
    "decode_stats",
    "events",
    "merge_stats",
    "record",
    "run",
    "run_reference",
]

READ_SIZE = 1 << 16

# The echo whose body framing depends on what came before it.
_READ_ECHO = b"AT+QHTTPREAD"
# +QHTTPGET/+QHTTPPOST/+QHTTPPOSTFILE: <err>[,<httpcode>[,<content_length>]] (design §2).
_RESULT_URC = re.compile(rb"\+QHTTP(?:GET|POST|POSTFILE): (\d+),\d+,(\d+)\s*$")
_RESPONSE_HEADER = re.compile(rb'AT\+QHTTPCFG="responseheader",([01])\s*$', re.IGNORECASE)
# An echo longer than this is not waited for: its bytes go to the tokenizer as they are.
_MAX_ECHO = 1024


class Readable(Protocol):
    """What ``events`` reads from: a binary file, ``sys.stdin.buffer``, a pipe."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (fewer when that is all there is); ``b""`` at the end."""
        ...


class CaptureDecoder:
    """Feeds a capture to a ``Tokenizer``, declaring each ``AT+QHTTPREAD`` echo with
    what the host knew when it wrote it (the body length, response headers on).

    ``feed(data)`` takes any split of the capture and returns the events completed;
    ``close()`` returns those held back at the end of the capture.
    """

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        # An archive holds the module's own broken reads: a 717 trailer inside
        # the announced length ends the body, as it did on the wire.
        self.tokenizer.early_errors = True
        self._held = b""
        self._content_length: int | None = None
        self._response_header = False

    def feed(self, data: bytes) -> list[Event]:
        """The events that ``data`` (the next bytes of the capture) completes."""
        buf = self._held + bytes(data)
        self._held = b""
        out: list[Event] = []
        pos = 0
        while True:
            mark = buf.find(_READ_ECHO, pos)
            if mark < 0:
                break
            end = buf.find(b"\r", mark)
            if end < 0 and len(buf) - mark <= _MAX_ECHO:
                # The echo may go on in the next piece: hold it until it ends.
                self._push(buf[pos:mark], out)
                self._held = buf[mark:]
                return out
            self._push(buf[pos:mark], out)
            command = buf[mark : end + 1] if end >= 0 else b""
            if command and self._at_line_start():
                self._declare(command)
            pos = mark + len(_READ_ECHO)
            self._push(buf[mark:pos], out)
        tail = _partial_mark(buf, pos)
        self._push(buf[pos : len(buf) - tail], out)
        self._held = buf[len(buf) - tail :]
        return out

    def close(self) -> list[Event]:
        """The events of bytes held back waiting for more (end of the capture)."""
        held, self._held = self._held, b""
        out: list[Event] = []
        self._push(held, out)
        return out

    def _at_line_start(self) -> bool:
        tok = self.tokenizer
        return tok.in_flight is None and tok.buffered == 0

    def _declare(self, command: bytes) -> None:
        name_end = len(_READ_ECHO)
        if command[name_end : name_end + 1] not in (b"=", b"\r"):
            return  # AT+QHTTPREADFILE and the like: nothing to frame
        if self._response_header:
            self.tokenizer.sent(command, response_header=True)
        else:
            self.tokenizer.sent(command, body_length=self._content_length)
        self._content_length = None

    def _push(self, data: bytes, out: list[Event]) -> None:
        if not data:
            return
        for event in self.tokenizer.feed(data):
            self._observe(event)
            out.append(event)

    def _observe(self, event: Event) -> None:
        if event.kind in ("urc", "line"):
            if event.data in (b"RDY", b"POWERED DOWN"):  # a reboot forgets QHTTPCFG
                self._response_header = False
                self._content_length = None
                return
            result = _RESULT_URC.match(event.data)
            if result is not None:
                ok = result.group(1) == b"0"
                self._content_length = int(result.group(2)) if ok else None
        elif event.kind == "echo":
            header = _RESPONSE_HEADER.match(event.data)
            if header is not None:
                self._response_header = header.group(1) == b"1"


def _partial_mark(buf: bytes, pos: int) -> int:
    """How many bytes at the end of ``buf`` (from ``pos``) could begin an echo mark."""
    for size in range(min(len(_READ_ECHO) - 1, len(buf) - pos), 0, -1):
        if _READ_ECHO.startswith(buf[len(buf) - size :]):
            return size
    return 0


def events(stream: Readable, decoder: CaptureDecoder | None = None) -> Iterator[list[Event]]:
    """The events of a captured stream, one list per read (a read returns what is
    available, so a live pipe is decoded as it arrives)."""
    dec = decoder or CaptureDecoder()
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(READ_SIZE)
        if not data:
            break
        yield dec.feed(data)
    yield dec.close()


def record(event: Event, brief: bool = False) -> dict[str, Any]:
    """The JSON object of one event (see the module docstring for the keys)."""
    kind = event.kind
    rec: dict[str, Any] = {"kind": kind}
    if kind in ("body", "invalid"):
        rec["length"] = len(event.data)
        if event.more:
            rec["more"] = True
        if not brief:
            rec["data_b64"] = base64.b64encode(event.data).decode("ascii")
    else:
        rec["text"] = event.data.decode("utf-8", "replace")
        if event.name is not None:
            rec["name"] = event.name
    if event.code is not None:
        rec["code"] = event.code
    if event.payload is not None:
        rec["payload_length"] = len(event.payload)
        if not brief:
            rec["payload_b64"] = base64.b64encode(event.payload).decode("ascii")
    return rec


@dataclass
class Stats:
    """Counts for ``--stats``: events by kind, URCs by name, input bytes."""

    kinds: Counter[str] = field(default_factory=Counter)
    urcs: Counter[str] = field(default_factory=Counter)
    body_bytes: int = 0
    input_bytes: int = 0

    def add(self, event: Event) -> None:
        """Count one event."""
        self.kinds[event.kind] += 1
        if event.kind == "urc":
            self.urcs[event.name or event.data.decode("utf-8", "replace")] += 1
        elif event.kind == "body":
            self.body_bytes += len(event.data)

    def summary(self, seconds: float) -> dict[str, Any]:
        """The JSON summary."""
        mb = self.input_bytes / 1e6
        return {
            "events": sum(self.kinds.values()),
            "by_kind": dict(self.kinds.most_common()),
            "urcs_by_name": dict(self.urcs.most_common()),
            "body_bytes": self.body_bytes,
            "input_bytes": self.input_bytes,
            "seconds": round(seconds, 6),
            "mb_per_s": round(mb / seconds, 1) if seconds > 0 else None,
        }


class _CountingStream:
    """Counts the bytes read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes, fewer when that is what is there; ``b""`` at the end."""
        read = getattr(self.raw, "read1", self.raw.read)
        data: bytes = read(size)
        self.count += len(data)
        return data


#: The log dialects ``run`` reads (``lpwa trace --format``); see ``rust/src/dialect.rs``.
FORMATS = _lpwa.DIALECTS
# Framing reconstructed rather than recorded: the user is told on stderr.
_APPROXIMATE = frozenset(("dots", "text"))


def run(
    source: str,
    *,
    stats: bool,
    brief: bool,
    out: IO[str] | None = None,
    format: str | None = None,
) -> int:
    """Decode ``source`` (a path or ``-`` for standard input) to ``out`` (default:
    standard output); the exit status. ``format`` is one of ``FORMATS``, or None
    to detect the dialect from the first bytes. The Rust core reads, decodes and
    writes (``_lpwa.trace_fd``, without the GIL) when ``out`` has a descriptor."""
    if format is not None and format not in FORMATS:
        raise ParameterError(f"unknown log format {format!r} (one of {', '.join(FORMATS)})")
    target = out if out is not None else sys.stdout
    raw = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    try:
        out_fd = _fileno(target)
        if out_fd is not None and hasattr(_lpwa, "trace_fd"):
            target.flush()
            used = _lpwa.trace_fd(raw.fileno(), out_fd, stats=stats, brief=brief, format=format)
        else:
            used = _run_on_bytes(raw, target, stats=stats, brief=brief, format=format)
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()
    if used in _APPROXIMATE:
        print(
            f"lpwa: note: {source} read as a {used!r} log: its CR/LF framing was "
            "reconstructed, so lines, bodies and payloads are approximate",
            file=sys.stderr,
        )
    return 0


def _run_on_bytes(
    raw: IO[bytes], target: IO[str], *, stats: bool, brief: bool, format: str | None
) -> str:
    """``run`` into a stream without a descriptor (``io.StringIO``); the dialect used."""
    trace = _lpwa.Trace(stats=stats, brief=brief, format=format)
    read = getattr(raw, "read1", raw.read)
    start = time.perf_counter()
    while data := read(READ_SIZE):
        if chunk := trace.feed(data):
            target.write(chunk.decode("ascii"))
            target.flush()
    target.write(trace.close().decode("ascii"))
    if stats:
        target.write(trace.summary(time.perf_counter() - start) + "\n")
    target.flush()
    return trace.format or "raw"


# -- plain functions for map/reduce engines (dask.bag, Spark, Ray) -------------------------

Source = Union[bytes, str, "os.PathLike[str]"]
_CHUNK = 1 << 20


def _chunks(source: Source) -> Iterator[bytes]:
    """The bytes of ``source`` (a capture's bytes, or a path read in chunks)."""
    if isinstance(source, bytes):
        yield source
        return
    with open(source, "rb") as f:
        while data := f.read(_CHUNK):
            yield data


def decode_events(
    source: Source, *, brief: bool = True, format: str | None = None
) -> list[dict[str, Any]]:
    """The events of one capture or log (bytes or a path) as JSON objects, as
    ``lpwa trace`` writes them. A plain module-level function of picklable
    arguments, for ``dask.bag.map`` and its kin."""
    trace = _lpwa.Trace(brief=brief, format=format)
    out = [trace.feed(data) for data in _chunks(source)]
    out.append(trace.close())
    return [json.loads(line) for line in b"".join(out).splitlines()]


def decode_stats(source: Source, *, format: str | None = None) -> dict[str, Any]:
    """The ``--stats`` counts of one capture or log (bytes or a path), without the
    wall-clock fields: ``events``, ``by_kind``, ``urcs_by_name``, ``body_bytes``,
    ``input_bytes``. Memory is bounded for a path. Reduce with ``merge_stats``."""
    trace = _lpwa.Trace(stats=True, format=format)
    for data in _chunks(source):
        trace.feed(data)
    trace.close()
    summary: dict[str, Any] = json.loads(trace.summary(0.0))
    del summary["seconds"], summary["mb_per_s"]
    return summary


def merge_stats(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The counts of two ``decode_stats`` results together (associative and
    commutative up to the order of equal counts, which is first seen first)."""
    kinds = Counter(a["by_kind"])
    kinds.update(b["by_kind"])
    urcs = Counter(a["urcs_by_name"])
    urcs.update(b["urcs_by_name"])
    return {
        "events": a["events"] + b["events"],
        "by_kind": dict(kinds.most_common()),
        "urcs_by_name": dict(urcs.most_common()),
        "body_bytes": a["body_bytes"] + b["body_bytes"],
        "input_bytes": a["input_bytes"] + b["input_bytes"],
    }


def _fileno(stream: IO[str]) -> int | None:
    """The descriptor under ``stream``, or None (``io.StringIO``, a wrapper)."""
    try:
        return stream.fileno()
    except (OSError, AttributeError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


def run_reference(source: str, *, stats: bool, brief: bool, out: IO[str] | None = None) -> int:
    """The pure-Python ``lpwa trace`` (the differential tests' oracle for ``run``)."""
    out = out if out is not None else sys.stdout
    raw = sys.stdin.buffer if source == "-" else open(source, "rb")  # noqa: SIM115
    stream = _CountingStream(raw)
    start = time.perf_counter()
    counts = Stats()
    try:
        for batch in events(stream):
            if stats:
                for event in batch:
                    counts.add(event)
            elif batch:
                out.write("".join(json.dumps(record(e, brief)) + "\n" for e in batch))
                out.flush()
    finally:
        if raw is not sys.stdin.buffer:
            raw.close()
    if stats:
        counts.input_bytes = stream.count
        out.write(json.dumps(counts.summary(time.perf_counter() - start), indent=2) + "\n")
        out.flush()
    return 0
