"""``lpwa sim``: a simulated module as a long-running process. It prints where it
listens (socket:// URL and pty path), answers AT on both, and stops cleanly on
SIGINT or SIGTERM. Every wait is bounded; everything is on 127.0.0.1.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest
import serial

STARTUP = 20.0
STOP = 10.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")


class SimProcess:
    """``lpwa sim ARGS`` in a subprocess, with its banner parsed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lpwa.cli", "sim", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # A shell without job control starts background jobs with SIGINT
            # ignored, and Python keeps it ignored: give the child the default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.banner = self._read_banner()

    def _read_banner(self) -> dict[str, str]:
        """``name: value`` lines up to "Ctrl-C to stop", within STARTUP seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + STARTUP
        text = b""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"Ctrl-C to stop\n" not in text:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no banner within {STARTUP} s: {text!r}"
                if sel.select(remaining):
                    chunk = os.read(fd, 4096)
                    assert chunk, f"lpwa sim exited: {text!r} {self.stderr()!r}"
                    text += chunk
        lines = text.decode().splitlines()
        fields = dict(line.split(": ", 1) for line in lines if ": " in line)
        fields["first"] = lines[0]
        return fields

    def stderr(self) -> bytes:
        if self.proc.poll() is None or self.proc.stderr is None:
            return b""
        return self.proc.stderr.read()

    def address(self) -> tuple[str, int]:
        host, port = self.banner["url"].removeprefix("socket://").rsplit(":", 1)
        return host, int(port)

    def stop(self, signum: int) -> int:
        """Send ``signum``; the exit status, which must come within STOP seconds."""
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=STOP)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def lpwa_sim() -> Iterator[Callable[..., SimProcess]]:
    """``lpwa_sim(*args)`` starts ``lpwa sim``; every process is killed at teardown."""
    started: list[SimProcess] = []

    def start(*args: str) -> SimProcess:
        process = SimProcess(*args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def at_over_socket(address: tuple[str, int], line: bytes) -> bytes:
    """Send one command line; the bytes up to its final OK (bounded)."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(line)
        data = b""
        deadline = time.monotonic() + 5
        while not data.endswith(b"\r\nOK\r\n") and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def test_sim_prints_its_url_and_pty(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim()
    assert sim.banner["first"] == "lpwa simulator BG96MAR02A07M1G_01.016.01.016"
    assert sim.banner["url"].startswith("socket://127.0.0.1:")
    assert os.path.exists(sim.banner["pty"])


def test_sim_without_pty_prints_only_the_url(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim("--no-pty")
    assert "url" in sim.banner
    assert "pty" not in sim.banner


def test_sim_firmware_option_sets_the_revision(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim("--no-pty", "--firmware", "BG77LAR02A04_01.003.01.003")
    assert sim.banner["first"] == "lpwa simulator BG77LAR02A04_01.003.01.003"
    reply = at_over_socket(sim.address(), b"AT+QGMR\r")
    assert b"\r\nBG77LAR02A04_01.003.01.003\r\n" in reply


def test_sim_answers_at_on_its_socket_with_echo(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim("--no-pty")
    assert at_over_socket(sim.address(), b"AT\r") == b"AT\r\r\nOK\r\n"


def test_sim_answers_at_on_its_pty(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim()
    with serial.Serial(sim.banner["pty"], 115200, timeout=0.2) as port:
        port.write(b"AT\r")
        data = b""
        deadline = time.monotonic() + 5
        while not data.endswith(b"\r\nOK\r\n") and time.monotonic() < deadline:
            data += port.read(64)
    assert data == b"AT\r\r\nOK\r\n"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sim_stops_on_signal(lpwa_sim: Callable[..., SimProcess], signum: int) -> None:
    sim = lpwa_sim()
    assert sim.stop(signum) == 0


def test_sim_stop_closes_its_port(lpwa_sim: Callable[..., SimProcess]) -> None:
    sim = lpwa_sim("--no-pty")
    address = sim.address()
    sim.stop(signal.SIGTERM)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=5).close()


def test_sim_bad_option_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lpwa.cli", "sim", "--port", "eighty"],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert b"usage: lpwa sim" in result.stderr
