"""``--timeout`` (and ``--retries`` for CoAP) shorten the module's long silent waits,
and a spinner shows on a terminal while the command waits (issue 12).

The silent peers are real sockets on 127.0.0.1: a TCP port that accepts but never
answers, a UDP port that never answers. Without the options these commands wait
61 s and about 190 s; each test bounds its subprocess well below that, so a
``--timeout`` that was not honoured fails the test by ``TimeoutExpired``.
"""

from __future__ import annotations

import io
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from cli_run import lpwa as run_lpwa
from lpwa.cli.progress import Spinner

BOUND = 40  # seconds: far below the 61 s / 190 s waits the options replace


def lpwa(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_lpwa(*args, timeout=BOUND)


@pytest.fixture
def silent_tcp_url() -> Iterator[str]:
    """An http:// URL whose server completes the TCP handshake and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)  # never accepted: the kernel completes the handshake
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/x"


def test_http_timeout_ends_the_wait_for_a_silent_server(silent_tcp_url: str) -> None:
    result = lpwa("http", "get", "--port", "sim", silent_tcp_url, "--timeout", "1")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    # The module's "wait HTTP(S) response timeout" (728) after rsptime=1.
    assert lines[0].startswith("lpwa: HTTPWaitResponseTimeoutError: "), lines[0]
    assert "AT+QHTTPGET=1'" in lines[0]


@pytest.mark.parametrize("value", ["0", "-1", "65535.5", "nan", "inf"])
def test_http_timeout_out_of_the_modules_range_is_refused(value: str) -> None:
    result = lpwa("http", "get", "--port", "sim", "http://127.0.0.1:9/x", "--timeout", value)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("lpwa: ParameterError: --timeout must be")


def test_coap_timeout_ends_the_wait_for_a_silent_peer(silent_udp_port: int) -> None:
    url = f"coap://127.0.0.1:{silent_udp_port}/x"
    result = lpwa("coap", "get", "--port", "sim", url, "--timeout", "1.5")
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lpwa: CoAPTimeout: "), lines[0]
    assert "1.5 s" in lines[0]


def test_coap_retries_and_timeout_together(silent_udp_port: int) -> None:
    url = f"coap://127.0.0.1:{silent_udp_port}/x"
    result = lpwa("coap", "get", "--port", "sim", url, "--retries", "4", "--timeout", "1")
    assert result.returncode == 1
    assert result.stderr.decode().startswith("lpwa: CoAPTimeout: ")


@pytest.mark.parametrize("value", ["0", "-2", "nan", "inf"])
def test_coap_timeout_must_be_a_positive_number_of_seconds(value: str) -> None:
    result = lpwa("coap", "get", "--port", "sim", "coap://127.0.0.1/x", "--timeout", value)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("lpwa: ParameterError: --timeout must be")


@pytest.mark.parametrize("value", ["3", "9"])
def test_coap_retries_outside_4_to_8_are_refused(value: str) -> None:
    result = lpwa("coap", "get", "--port", "sim", "coap://127.0.0.1/x", "--retries", value)
    assert result.returncode == 1
    assert "--retries must be 4-8" in result.stderr.decode()


def test_spinner_on_a_terminal_while_waiting_then_erased(silent_udp_port: int) -> None:
    master, slave = os.openpty()
    url = f"coap://127.0.0.1:{silent_udp_port}/x"
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa", "coap", "get", "--port", "sim", url, "--timeout", "2"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + BOUND
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        proc.kill() if proc.poll() is None else None
        proc.wait(5)
    # The terminal turns each "\n" into "\r\n" (onlcr): undo that first.
    text = out.decode(errors="replace").replace("\r\n", "\n")
    assert "\r  waiting for 127.0.0.1 " in text, text
    assert "(timeout 2 s)" in text
    # The spinner line is blanked before the error line is written.
    spun, _, error = text.rpartition("\r")
    assert error.startswith("lpwa: CoAPTimeout: "), text
    assert spun.rsplit("\r", 1)[-1].strip() == ""


def test_spinner_draws_nothing_off_a_terminal() -> None:
    out = io.StringIO()
    with Spinner("waiting", out, timeout=1.0, interval=0.01):
        time.sleep(0.05)
    assert out.getvalue() == ""


def test_spinner_redraws_in_place_and_erases_its_line() -> None:
    out = io.StringIO()
    spinner = Spinner("waiting for h", out, live=True, interval=0.01).start()
    for _ in range(500):  # bounded: until two frames were drawn
        if out.getvalue().count("\r  waiting for h ") >= 2:
            break
        time.sleep(0.01)
    spinner.stop()
    text = out.getvalue()
    assert text.count("\r  waiting for h ") >= 2
    frames = text.split("\r")
    assert frames[-1] == "" and frames[-2].strip() == ""
    spinner.stop()  # idempotent
    assert out.getvalue() == text
