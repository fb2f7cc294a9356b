"""Differential: ``lpwa trace`` in Rust (``_lpwa.Trace``, ``_lpwa.trace_fd`` behind
the command) against today's Python path (``lpwa.cli.trace.run_reference``:
``CaptureDecoder`` + ``record`` + ``json.dumps``), byte for byte, on generated
captures cut at random places: HTTP reads framed by announced length, by headers
and by trailer, reboots, CoAP payloads, prompts, non-ASCII and invalid UTF-8,
quotes, backslashes and control bytes. ``--stats`` is identical except its
wall-clock fields (``seconds``, ``mb_per_s``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lpwa import _lpwa
from lpwa.cli.trace import CaptureDecoder, Stats, record, run, run_reference

DATA = Path(__file__).parent / "data"
TIMEOUT = 60
CLOCK = ("seconds", "mb_per_s")

ODD_TEXT = st.sampled_from(
    [
        'café "quoted" \\back\\slash',
        "température 23°C ✓ 😀",
        "tab\there",
        "\x7f del",
    ]
).map(str.encode) | st.sampled_from(
    [b"bad \xff\xfe utf8", b"\xed\xa0\x80 surrogate", b"\xf0\x9f\x98 cut", b"\xc3"]
)
URC = st.sampled_from(
    [b'+QIURC: "pdpdeact",1', b"+CEREG: 1", b"RDY", b"APP RDY", b"POWERED DOWN", b"+QIND: SMS DONE"]
)
CONTENT = st.lists(
    st.sampled_from(
        [b"\r\nOK\r\n", b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n", b"AT+QHTTPREAD=80\r", b"\r\n"]
    )
    | st.binary(max_size=24),
    max_size=6,
).map(b"".join)


@st.composite
def captures(draw: st.DrawFn) -> bytes:
    """A capture with echo on, as a module writes it, plus a little garbage."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(1, 8))):
        shape = draw(
            st.sampled_from(["info", "urc", "odd", "get", "cfg", "read", "coap", "prompt", "junk"])
        )
        if shape == "info":
            parts.append(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
        elif shape == "urc":
            parts.append(b"\r\n" + draw(URC) + b"\r\n")
        elif shape == "odd":
            text = draw(ODD_TEXT)
            parts.append(
                draw(st.sampled_from([b"ATI\r\r\n%s\r\n\r\nOK\r\n", b"\r\n+QNTP: %s\r\n"])) % text
            )
        elif shape == "get":
            err = draw(st.sampled_from([0, 0, 701]))
            length = draw(st.integers(0, 80))
            parts.append(b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: %d,200,%d\r\n" % (err, length))
        elif shape == "cfg":
            on = draw(st.sampled_from([b"0", b"1"]))
            parts.append(b'AT+QHTTPCFG="responseheader",' + on + b"\r\r\nOK\r\n")
        elif shape == "read":
            content = draw(CONTENT)
            if draw(st.booleans()):
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(content)
                content = head + content
            trailer = draw(
                st.sampled_from(
                    [b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n", b"\r\n+CME ERROR: 717\r\n", b""]
                )
            )
            command = draw(st.sampled_from([b"AT+QHTTPREAD=80\r", b"AT+QHTTPREAD\r"]))
            parts.append(command + b"\r\nCONNECT\r\n" + content + trailer)
        elif shape == "coap":
            payload = draw(st.binary(max_size=20))
            parts.append(b'\r\n+QCOAPRECV: 0,7,2.05,2,ab,1,"x",%d\r\n' % len(payload) + payload)
        elif shape == "prompt":
            parts.append(b"AT+QCOAPSEND=0,0,1,0\r\r\n> \r\nOK\r\n")
        else:
            parts.append(draw(st.binary(max_size=30)))
    return b"".join(parts)


def pieces(capture: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(capture) + 1) for c in cuts})
    return [capture[a:b] for a, b in zip([0, *points], [*points, len(capture)])]


def python_lines(parts: list[bytes], brief: bool) -> bytes:
    """What today's Python path writes for these reads."""
    dec = CaptureDecoder()
    events = [e for part in parts for e in dec.feed(part)] + dec.close()
    return "".join(json.dumps(record(e, brief)) + "\n" for e in events).encode("ascii")


def python_stats(parts: list[bytes]) -> dict[str, Any]:
    dec = CaptureDecoder()
    counts = Stats()
    for event in [e for part in parts for e in dec.feed(part)] + dec.close():
        counts.add(event)
    counts.input_bytes = sum(map(len, parts))
    return without_clock(json.loads(json.dumps(counts.summary(1.0), indent=2)))


def without_clock(summary: dict[str, Any]) -> dict[str, Any]:
    assert set(CLOCK) <= summary.keys()
    return {k: v for k, v in summary.items() if k not in CLOCK}


def rust_lines(parts: list[bytes], brief: bool) -> bytes:
    # Raw captures: arbitrary bytes may look like a log of another dialect to
    # the detection (tests/test_trace_dialects.py), which is not compared here.
    trace = _lpwa.Trace(brief=brief, format="raw")
    return b"".join(trace.feed(part) for part in parts) + trace.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(captures(), st.lists(st.integers(0, 10_000), max_size=10), st.booleans())
def test_json_lines_are_byte_identical_however_split(
    capture: bytes, cuts: list[int], brief: bool
) -> None:
    expected = python_lines([capture], brief)
    assert rust_lines(pieces(capture, cuts), brief) == expected
    assert python_lines(pieces(capture, cuts), brief) == expected  # the oracle agrees with itself


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(captures(), st.lists(st.integers(0, 10_000), max_size=10))
def test_stats_are_identical_but_for_the_clock(capture: bytes, cuts: list[int]) -> None:
    trace = _lpwa.Trace(stats=True, format="raw")
    for part in pieces(capture, cuts):
        assert trace.feed(part) == b""
    assert trace.close() == b""
    text = trace.summary(0.25)
    got = json.loads(text)
    assert without_clock(got) == python_stats([capture])
    # The layout is json.dumps(indent=2)'s, key order included.
    assert text == json.dumps(got, indent=2)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200), st.lists(st.integers(0, 1000), max_size=6))
def test_any_bytes_give_the_same_output(capture: bytes, cuts: list[int]) -> None:
    assert rust_lines(pieces(capture, cuts), False) == python_lines([capture], False)


def test_text_escaping_matches_json_dumps_for_every_byte() -> None:
    """Every single byte and every 2-byte sequence after a lead byte, in a URC line."""
    lines = [b"+QNTP: %s" % bytes([b]) for b in range(256) if b not in (10, 13)]
    lines += [b"+QNTP: \xc3%s\xe2\x82%s" % (bytes([b]), bytes([b])) for b in range(256)]
    capture = b"".join(b"\r\n" + line + b"\r\n" for line in lines if b"\r" not in line[7:])
    assert rust_lines([capture], False) == python_lines([capture], False)


# -- the command end to end: the Rust path against the Python path -----------------------


def cli(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run(
        [sys.executable, "-m", "lpwa.cli", "trace", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == b""
    return result.stdout


def reference(path: Path, *options: str) -> str:
    out = io.StringIO()
    run_reference(str(path), stats="--stats" in options, brief="--brief" in options, out=out)
    return out.getvalue()


MIXED = (
    b"\r\nRDY\r\n"
    + b'AT+QHTTPCFG="responseheader",1\r\r\nOK\r\n'
    + b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,44\r\n"
    + b"AT+QHTTPREAD=80\r\r\nCONNECT\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n\xff\x00\r\nOK"
    + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
    + '\r\n+QNTP: 0,"température\\""\r\n'.encode()
    + b'\r\n+QCOAPRECV: 0,7,2.05,2,ab,1,"x",3\r\n\x00\xff\r'
    + b"\r\n+QIND: \xff\xfe\r\n"
    + b"ATI\r\r\nQuectel\r\nBG95\r\n\r\nOK\r\n"
) * 50


@pytest.mark.parametrize("options", [(), ("--brief",), ("--stats",)])
def test_the_command_writes_what_the_python_path_writes(
    tmp_path: Path, options: tuple[str, ...]
) -> None:
    path = tmp_path / "mixed.bin"
    path.write_bytes(MIXED)
    got = cli(str(path), *options).decode("ascii")
    expected = reference(path, *options)
    if "--stats" in options:
        assert without_clock(json.loads(got)) == without_clock(json.loads(expected))
        assert got == json.dumps(json.loads(got), indent=2) + "\n"
    else:
        assert got == expected
        assert cli("-", *options, stdin=MIXED).decode("ascii") == expected


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.bin")))
def test_the_shipped_captures_decode_the_same(name: str) -> None:
    assert cli(str(DATA / name)).decode("ascii") == reference(DATA / name)


def test_run_into_a_text_stream_writes_the_same(tmp_path: Path) -> None:
    path = tmp_path / "mixed.bin"
    path.write_bytes(MIXED)
    out = io.StringIO()
    assert run(str(path), stats=False, brief=False, out=out) == 0
    assert out.getvalue() == reference(path)


def test_a_file_large_enough_for_blocks_on_two_cores_decodes_the_same(tmp_path: Path) -> None:
    """Over 16 MiB: the Rust path decodes blocks in pairs, the second one
    speculatively (rust/src/trace_file.rs); the output stays the Python path's."""
    path = tmp_path / "large.bin"
    with path.open("wb") as out:
        for i in range(900):
            # Bodies announced by +QHTTPGET and holding "\r\nOK\r\n", so some
            # block cuts land inside a body and the speculation is redone.
            body = (b"\r\nOK\r\n%d" % i) * (i % 300)
            out.write(
                MIXED[: 2000 + i * 13]
                + b"\r\n"
                + b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,%d\r\n" % len(body)
                + b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n"
                + body
                + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
                + b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n" * 400
            )
    assert path.stat().st_size > 16 << 20
    assert cli(str(path), "--brief").decode("ascii") == reference(path, "--brief")
