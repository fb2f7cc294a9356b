"""Tokenizer throughput: the Rust ``lpwa.tokenizer`` against the pure-Python
reference (``reference_tokenizer.py``, same contract) on the same streams.

Run: ``pytest benches/bench_tokenizer.py --benchmark-only --benchmark-group-by=group``.
The cases are the issue's targets:

(a) a 10 MB stream of mixed responses and URCs (echo on and off, info lines,
    finals, URCs, prompts, ``+QCOAPRECV`` payloads, short QHTTPREAD bodies),
    fed in 64-byte and 4 KiB reads: Rust >= 10x the reference;
(b) a 1 MiB QHTTPREAD body fed in 4 KiB reads and in one piece, framed by
    length and by trailer: >= 5 GB/s in 4 KiB reads;
(c) 1-16-byte feeds, as serial reads return them: <= 300 ns per feed call.

The consumer reads every event's ``kind`` and ``data``. ``extra_info`` holds
MB/s, events/s and ns per feed call; the streams are built deterministically.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional

import pytest

from lpwa.tokenizer import Tokenizer
from reference_tokenizer import Tokenizer as ReferenceTokenizer

IMPLEMENTATIONS = {"rust": Tokenizer, "reference": ReferenceTokenizer}

# A script: (command written or None, bytes read, body_length for sent()).
Script = list[tuple[Optional[bytes], bytes, Optional[int]]]
# A plan: (command written or None, body_length, the reads that follow it).
Plan = list[tuple[Optional[bytes], Optional[int], list[bytes]]]


def mixed_script(size: int, seed: int = 7) -> Script:
    """Exchanges as a gateway sees them, until `size` bytes of module output."""
    rng = random.Random(seed)
    script: Script = []
    total = 0
    while total < size:
        echo = rng.random() < 0.3
        shape = rng.randrange(8)
        if shape == 0:
            cmd, wire, length = b"AT+CPIN?", b"\r\n+CPIN: READY\r\n\r\nOK\r\n", None
        elif shape == 1:
            cmd, wire, length = (
                b"AT+CEREG?",
                b'\r\n+CEREG: 2,1,"1A2B","01C2D3E4",9\r\n\r\nOK\r\n',
                None,
            )
        elif shape == 2:
            cmd = b"AT+QIACT?"
            wire, length = b'\r\n+QIACT: 1,1,1,"10.7.157.1"\r\n\r\nOK\r\n', None
        elif shape == 3:
            cmd = b"AT+QCOAPSEND=0,1,2,1,20"
            wire, length = b"\r\n> \r\nOK\r\n\r\n+QCOAPACK: 0,1,1234,0\r\n", None
        elif shape == 4:
            cmd, length = b"AT+QHTTPREAD=80", rng.randrange(100, 400)
            body = rng.randbytes(length)
            wire = b"\r\nCONNECT\r\n" + body + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
        elif shape == 5:
            cmd, length = b"ATI", None
            wire = b"\r\nQuectel\r\nBG96\r\nRevision: BG96MAR02A07M1G\r\n\r\nOK\r\n"
        elif shape == 6:
            cmd, length = b"AT+QHTTPGET=80", None
            wire = b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,%d\r\n" % rng.randrange(1, 100_000)
        else:
            cmd, length = None, None
            payload = rng.randbytes(rng.randrange(0, 64))
            wire = (
                b'\r\n+QIURC: "pdpdeact",1\r\n\r\n+CEREG: 1\r\n'
                b'\r\n+QCOAPRECV: 0,1234,2.05,2,ab12,1,"11:sensors",%d\r\n' % len(payload) + payload
            )
        if cmd is not None and echo:
            wire = cmd + b"\r" + wire
        script.append((None if cmd is None else cmd + b"\r", wire, length))
        total += len(wire)
    return script


def chunked(script: Script, sizes: list[int]) -> Plan:
    """Split each exchange's bytes into reads of the given sizes (cycled)."""
    out = []
    k = 0
    for cmd, wire, length in script:
        reads = []
        i = 0
        while i < len(wire):
            n = sizes[k % len(sizes)]
            k += 1
            reads.append(wire[i : i + n])
            i += n
        out.append((cmd, length, reads))
    return out


def run(tokenizer: Any, plan: Plan) -> int:
    """Feed a plan as an AT channel would (body_length only for the reads that
    have one); read every event's kind and data; return the event count."""
    sent, feed = tokenizer.sent, tokenizer.feed
    events = 0
    for cmd, length, reads in plan:
        if cmd is not None:
            if length is None:
                sent(cmd)
            else:
                sent(cmd, body_length=length)
        for data in reads:
            for event in feed(data):
                event.kind  # noqa: B018 (the consumer reads each field)
                event.data  # noqa: B018
                events += 1
    return events


def measure(benchmark: Any, impl: str, rounds: int, fn: Callable[[], int]) -> int:
    events = benchmark.pedantic(
        fn, rounds=rounds, iterations=1, warmup_rounds=1 if impl == "rust" else 0
    )
    return int(events)


# ---- (a) a 10 MB mixed stream -------------------------------------------------------------

MIXED = mixed_script(10_000_000)
MIXED_BYTES = sum(len(wire) for _, wire, _ in MIXED)


@pytest.mark.parametrize("read_size", [64, 4096])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_a_mixed_stream(benchmark: Any, impl: str, read_size: int) -> None:
    benchmark.group = f"(a) 10 MB mixed stream, {read_size}-byte reads"
    plan = chunked(MIXED, [read_size])
    tokenizer_class = IMPLEMENTATIONS[impl]
    events = measure(
        benchmark, impl, 5 if impl == "rust" else 2, lambda: run(tokenizer_class(), plan)
    )
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["MB_per_s"] = round(MIXED_BYTES / seconds / 1e6, 1)
    benchmark.extra_info["events_per_s"] = round(events / seconds)
    benchmark.extra_info["events"] = events


# ---- (b) a 1 MiB QHTTPREAD body --------------------------------------------------------------

BODY = random.Random(1).randbytes(1 << 20)
BODY_WIRE = b"\r\nCONNECT\r\n" + BODY + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"


@pytest.mark.parametrize("framing", ["length", "trailer"])
@pytest.mark.parametrize("read_size", [4096, len(BODY_WIRE)], ids=["4KiB", "whole"])
@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_b_http_read_body(benchmark: Any, impl: str, read_size: int, framing: str) -> None:
    benchmark.group = f"(b) 1 MiB QHTTPREAD body, {framing}, reads of {read_size}"
    length = len(BODY) if framing == "length" else None
    plan = chunked([(b"AT+QHTTPREAD=80\r", BODY_WIRE, length)], [read_size])
    tokenizer_class = IMPLEMENTATIONS[impl]

    def once() -> int:
        tok = tokenizer_class()
        events = run(tok, plan)
        assert events == 3
        return events

    measure(benchmark, impl, 50 if impl == "rust" else 10, once)
    benchmark.extra_info["GB_per_s"] = round(len(BODY) / benchmark.stats.stats.mean / 1e9, 2)


# ---- (c) 1-16-byte feeds --------------------------------------------------------------------

SMALL = mixed_script(256_000, seed=3)
SMALL_PLAN = chunked(SMALL, list(range(1, 17)))
SMALL_FEEDS = sum(len(reads) for _, _, reads in SMALL_PLAN)


@pytest.mark.parametrize("impl", ["rust", "reference"])
def test_c_small_feeds(benchmark: Any, impl: str) -> None:
    benchmark.group = "(c) 1-16-byte feeds"
    tokenizer_class = IMPLEMENTATIONS[impl]
    events = measure(
        benchmark, impl, 10 if impl == "rust" else 3, lambda: run(tokenizer_class(), SMALL_PLAN)
    )
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info["ns_per_feed"] = round(seconds / SMALL_FEEDS * 1e9, 1)
    benchmark.extra_info["ns_per_feed_best_round"] = round(
        benchmark.stats.stats.min / SMALL_FEEDS * 1e9, 1
    )
    benchmark.extra_info["feeds"] = SMALL_FEEDS
    benchmark.extra_info["events_per_s"] = round(events / seconds)
