"""``lpwa trace``: hand-made captures (``tests/data/``, see its README) decode to
exactly the JSON events below; a large generated capture decodes with ``--stats``
to exactly the counts it was built with. Runs are real subprocesses, bounded.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lpwa.cli.trace import CaptureDecoder
from servers import oklines, pattern_bytes

DATA = Path(__file__).parent / "data"
TIMEOUT = 60


def trace(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``lpwa trace ARGS`` to completion (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "lpwa.cli", "trace", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
    )


def decoded(*args: str, stdin: bytes | None = None) -> list[dict[str, Any]]:
    """The JSON lines of a successful run."""
    result = trace(*args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def echo(text: str) -> dict[str, Any]:
    return {"kind": "echo", "text": text}


def urc(text: str) -> dict[str, Any]:
    return {"kind": "urc", "text": text, "name": text.split(":", 1)[0]}


OK = {"kind": "final", "text": "OK"}
CONNECT = {"kind": "connect", "text": "CONNECT"}


def body(data: bytes, code: int = 0) -> dict[str, Any]:
    return {"kind": "body", "length": len(data), "data_b64": b64(data), "code": code}


# -- the hand-made captures, event by event ---------------------------------------------


def test_qhttpread_with_headers_is_framed_by_content_length() -> None:
    content = b"line one\r\nOK\r\n\r\n+QHTTPREAD: 0\r\nend\r\n"
    head = (
        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 36\r\n\r\n"
    )
    assert decoded(str(DATA / "qhttpget_headers.bin")) == [
        echo('AT+QHTTPCFG="responseheader",1'),
        OK,
        echo("AT+QHTTPURL=33,80"),
        CONNECT,
        OK,
        echo("AT+QHTTPGET=80"),
        OK,
        urc("+QHTTPGET: 0,200,36"),
        echo("AT+QHTTPREAD=80"),
        CONNECT,
        body(head + content),
        OK,
    ]


def test_qhttpread_body_holding_the_trailer_is_framed_by_the_announced_length() -> None:
    content = b"first\r\nOK\r\n\r\n+QHTTPREAD: 0\r\nlast"
    assert decoded(str(DATA / "qhttpread_trailer_in_body.bin")) == [
        echo("AT+QHTTPGET=80"),
        OK,
        urc("+QHTTPGET: 0,200,32"),
        echo("AT+QHTTPREAD=80"),
        CONNECT,
        body(content),
        OK,
    ]


def test_urcs_before_echoes_and_inside_responses() -> None:
    assert decoded(str(DATA / "urc_before_echo.bin")) == [
        urc('+QIURC: "pdpdeact",1'),
        echo("AT+QIACT=1"),
        OK,
        echo("AT+CSQ"),
        urc("+QIND: SMS DONE"),
        {"kind": "line", "text": "+CSQ: 20,99", "name": "+CSQ"},
        OK,
        echo("AT+QHTTPPOST=11,80,80"),
        CONNECT,
        OK,
        urc("+QHTTPPOST: 0,200"),
        echo("AT+QHTTPREAD=60"),
        CONNECT,
        body(b'{"ok":true}'),
        OK,
    ]


def test_qcoaprecv_binary_payload_and_prompt() -> None:
    payload = b"\x00\r\nOK\r\n\x1a\x1b\xff"
    recv = urc("+QCOAPRECV: 0,1234,2.05,4,A1B2C3D4,0,10")
    recv.update(payload_length=10, payload_b64=b64(payload))
    assert decoded(str(DATA / "qcoaprecv_binary.bin")) == [
        echo('AT+QCOAPOPEN=0,"127.0.0.1",5683'),
        OK,
        urc("+QCOAPOPEN: 0,0"),
        echo("AT+QCOAPHEADER=0,1234,1"),
        OK,
        echo("AT+QCOAPSEND=0,0,1,0"),
        {"kind": "prompt", "text": "> "},
        OK,
        urc("+QCOAPACK: 0,2,1234,0"),
        recv,
        echo("AT+QCOAPCLOSE=0"),
        OK,
        urc("+QCOAPCLOSE: 0,0"),
    ]


def test_broken_read_ends_the_body_with_its_error_code() -> None:
    assert decoded(str(DATA / "qhttpread_broken.bin")) == [
        echo("AT+QHTTPGET=80"),
        OK,
        urc("+QHTTPGET: 0,200,1000"),
        echo("AT+QHTTPREAD=80"),
        CONNECT,
        body(b"0123456789" * 4, code=717),
        OK,
        echo("AT"),
        OK,
    ]


# -- options and sources --------------------------------------------------------------


def test_brief_leaves_out_bodies_and_payloads() -> None:
    events = decoded(str(DATA / "qcoaprecv_binary.bin"), "--brief")
    recv = [e for e in events if e.get("name") == "+QCOAPRECV"]
    assert recv == [{**urc("+QCOAPRECV: 0,1234,2.05,4,A1B2C3D4,0,10"), "payload_length": 10}]
    assert not any("data_b64" in e or "payload_b64" in e for e in events)


def test_dash_reads_standard_input() -> None:
    capture = (DATA / "urc_before_echo.bin").read_bytes()
    assert decoded("-", stdin=capture) == decoded(str(DATA / "urc_before_echo.bin"))


def test_stats_counts_a_capture() -> None:
    capture = DATA / "urc_before_echo.bin"
    result = trace(str(capture), "--stats")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats["events"] == 15
    assert stats["by_kind"] == {"echo": 4, "final": 4, "urc": 3, "connect": 2, "line": 1, "body": 1}
    assert stats["urcs_by_name"] == {"+QIURC": 1, "+QIND": 1, "+QHTTPPOST": 1}
    assert stats["body_bytes"] == 11
    assert stats["input_bytes"] == capture.stat().st_size
    assert {"seconds", "mb_per_s"} <= stats.keys()


def test_events_stream_out_before_the_input_ends() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa.cli", "trace", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n")
        proc.stdin.flush()
        fd = proc.stdout.fileno()
        got = b""
        deadline = time.monotonic() + 20
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while got.count(b"\n") < 2 and time.monotonic() < deadline:
                if sel.select(deadline - time.monotonic()):
                    chunk = os.read(fd, 4096)
                    if not chunk:
                        break
                    got += chunk
        assert [json.loads(line) for line in got.splitlines()] == [
            echo("AT+CSQ"),
            {"kind": "line", "text": "+CSQ: 20,99", "name": "+CSQ"},
        ]
        proc.stdin.close()
        assert proc.wait(timeout=TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        proc.stdout.close()
        assert proc.stderr is not None
        proc.stderr.close()


def test_missing_capture_is_a_one_line_error(tmp_path: Path) -> None:
    result = trace(str(tmp_path / "absent.bin"))
    assert result.returncode == 1
    assert result.stderr.decode().startswith("lpwa: FileNotFoundError: ")
    assert len(result.stderr.splitlines()) == 1


def test_closed_output_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.bin"
    path.write_bytes(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n" * 100_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa.cli", "trace", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        assert proc.stdout.readline() == b'{"kind": "echo", "text": "AT+CSQ"}\n'
        proc.stdout.close()  # like "| head -1"
        assert proc.wait(timeout=TIMEOUT) == 141
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        proc.stderr.close()


@pytest.mark.parametrize(
    "name",
    [
        "qhttpget_headers.bin",
        "qhttpread_trailer_in_body.bin",
        "urc_before_echo.bin",
        "qcoaprecv_binary.bin",
        "qhttpread_broken.bin",
    ],
)
def test_decoding_is_the_same_for_any_split(name: str) -> None:
    capture = (DATA / name).read_bytes()
    whole = CaptureDecoder()
    reference = whole.feed(capture) + whole.close()
    for cut in range(len(capture) + 1):
        dec = CaptureDecoder()
        assert dec.feed(capture[:cut]) + dec.feed(capture[cut:]) + dec.close() == reference
    dec = CaptureDecoder()
    per_byte = [e for i in range(len(capture)) for e in dec.feed(capture[i : i + 1])]
    assert per_byte + dec.close() == reference


# -- a large capture -------------------------------------------------------------------


def test_large_mixed_capture_stats(tmp_path: Path) -> None:
    """About 31 MB of HTTP reads (binary and AT-looking bodies framed only by their
    announced length), CoAP payloads, bursts of URCs and plain commands."""
    binary = pattern_bytes(256 * 1024)
    at_lines = oklines(4000)  # holds the read trailer many times over
    coap = pattern_bytes(512, seed=9)
    path = tmp_path / "large.bin"
    blocks = 0
    body_bytes = 0
    with path.open("wb") as out:
        while body_bytes < 30_000_000:
            content = binary if blocks % 2 == 0 else at_lines
            out.write(
                b'\r\n+QIURC: "pdpdeact",1\r\n'
                * 50
                + b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,%d\r\n"
                b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n"
                % len(content)
                + content
                + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
                + b"\r\n+QCOAPRECV: 0,%d,2.05,4,A1B2C3D4,0,512\r\n" % blocks
                + coap
                + b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
            )
            body_bytes += len(content)
            blocks += 1
    result = trace(str(path), "--stats")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    n = blocks
    assert stats["by_kind"] == {
        "echo": 3 * n,
        "final": 3 * n,
        "urc": 52 * n,
        "connect": n,
        "body": n,
        "line": n,
    }
    assert stats["urcs_by_name"] == {"+QIURC": 50 * n, "+QHTTPGET": n, "+QCOAPRECV": n}
    assert stats["events"] == 61 * n
    assert stats["body_bytes"] == body_bytes
    assert stats["input_bytes"] == path.stat().st_size


def test_ctrl_c_while_waiting_for_input_exits_130() -> None:
    """The Rust reader waits without the GIL; SIGINT still reaches Python."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa.cli", "trace", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(b"AT\r\r\nOK\r\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == b'{"kind": "echo", "text": "AT"}\n'  # it is reading
        # A signal landing between two reads is seen before the next read;
        # one landing in the instant before the read system call is not (as
        # in CPython's own reads), so it is sent again, a bounded number of times.
        for _ in range(100):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        assert proc.wait(timeout=TIMEOUT) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            stream.close()
