"""``SimulatorFleet`` and ``lpwa sim --count N``: many modules from one process
on the shared I/O core, each behaving as a lone ``Simulator`` does.

The host side is a plain socket client (not lpwa's AT stack) so the checks do
not lean on the code under test. Every wait is bounded; everything is on
127.0.0.1; no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from lpwa.sim import SimulatorFleet
from lpwa.tokenizer import Tokenizer

WAIT = 10.0

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX sockets and signals")


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.scheme == "socket" and parts.hostname and parts.port
    return parts.hostname, parts.port


def read_until(sock: socket.socket, end: bytes, times: int = 1) -> bytes:
    """Bytes from ``sock`` until they end with ``end`` and hold it ``times`` times
    (bounded by WAIT)."""
    data = b""
    deadline = time.monotonic() + WAIT
    while not (data.endswith(end) and data.count(end) >= times):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {end!r} within {WAIT} s: {data!r}"
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        assert chunk, f"connection closed: {data!r}"
        data += chunk
    return data


def at(sock: socket.socket, line: bytes) -> bytes:
    """Send one command line; its echo and answer up to the final OK."""
    sock.sendall(line)
    return read_until(sock, b"\r\nOK\r\n")


def test_fifty_modules_each_on_its_own_port_answer_at_without_a_thread_each() -> None:
    before = threading.active_count()
    with SimulatorFleet(50, time_scale=0.05) as fleet:
        urls = fleet.urls
        assert len(urls) == 50 and len(set(urls)) == 50
        assert all(url.startswith("socket://127.0.0.1:") for url in urls)
        for url in urls:
            with socket.create_connection(address(url), timeout=WAIT) as sock:
                assert at(sock, b"AT\r") == b"AT\r\r\nOK\r\n"
        # Today's per-port design cost ~5 threads a module (250 here).
        grown = threading.active_count() - before
        assert grown < 10, f"{grown} threads for 50 modules"
        # All at once: every module answers its own host.
        socks = [socket.create_connection(address(url), timeout=WAIT) for url in urls]
        try:
            for i, sock in enumerate(socks):
                sock.sendall(b"AT+QGMR\r" if i % 2 else b"AT\r")
            for i, sock in enumerate(socks):
                assert read_until(sock, b"\r\nOK\r\n") == (
                    b"AT+QGMR\r\r\nBG96MAR02A07M1G_01.016.01.016\r\n\r\nOK\r\n"
                    if i % 2
                    else b"AT\r\r\nOK\r\n"
                )
        finally:
            for sock in socks:
                sock.close()
    for url in urls:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address(url), timeout=WAIT).close()


def test_fleet_modules_are_independent_simulators() -> None:
    with SimulatorFleet(2, time_scale=0.05) as fleet:
        first, second = fleet.simulators
        assert first.url != second.url
        first.ufs["a.txt"] = b"only on the first"
        assert "a.txt" in first.ufs and "a.txt" not in second.ufs
        with pytest.raises(RuntimeError):
            _ = first.pty  # no pty per module by default


def test_fleet_refuses_a_fixed_port_and_a_bad_count() -> None:
    with pytest.raises(ValueError):
        SimulatorFleet(2, port=5000)
    with pytest.raises(ValueError):
        SimulatorFleet(0)
    with pytest.raises(ValueError):
        SimulatorFleet(2, urc_every=0)


def test_urc_every_sends_csq_urcs_that_the_tokenizer_routes_as_urcs() -> None:
    every = 0.2
    wanted = 5
    line = b'\r\n+QIND: "csq",20,99\r\n'
    with SimulatorFleet(3, urc_every=every) as fleet:
        sock = socket.create_connection(address(fleet.urls[1]), timeout=WAIT)
        with sock:
            start = time.monotonic()
            data = read_until(sock, line, wanted)
            elapsed = time.monotonic() - start
    assert data == line * wanted  # nothing else, nothing torn
    # Paced, not a burst: five URCs take at least four periods (less a margin
    # for where the first one falls); a slow machine only makes it longer.
    assert elapsed >= (wanted - 1) * every * 0.5
    events = Tokenizer().feed(data)
    assert [(e.kind, e.data) for e in events] == [("urc", b'+QIND: "csq",20,99')] * wanted


def test_a_reboot_fault_leaves_the_neighbours_alone() -> None:
    # A long boot (30 s, never waited for) so the neighbour is checked while
    # module 0 is surely still down.
    with SimulatorFleet(3, boot_delay=30.0) as fleet:
        rebooting, neighbour = fleet.simulators[0], fleet.simulators[1]
        with (
            socket.create_connection(address(fleet.urls[0]), timeout=WAIT) as down,
            socket.create_connection(address(fleet.urls[1]), timeout=WAIT) as up,
        ):
            rebooting.faults.reboot_on("AT+CSQ")
            down.sendall(b"AT+CSQ\r")
            assert read_until(down, b"AT+CSQ\r") == b"AT+CSQ\r"  # echoed, then gone
            deadline = time.monotonic() + WAIT
            while not rebooting.booting:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            assert at(up, b"AT+CSQ\r") == b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
            assert rebooting.booting and rebooting.module.generation == 1
            assert neighbour.module.generation == 0 and neighbour.ready


def test_a_fleet_module_reboots_like_a_lone_simulator() -> None:
    with SimulatorFleet(2, time_scale=0.05) as fleet:
        sim = fleet.simulators[1]
        with socket.create_connection(address(fleet.urls[1]), timeout=WAIT) as sock:
            sim.reboot()
            data = read_until(sock, b"\r\n+QIND: SMS DONE\r\n")
            assert data == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QUSIM: 1\r\n" + (
                b"\r\n+QIND: SMS DONE\r\n"
            )
            assert sim.wait_booted(WAIT)
            assert at(sock, b"AT\r") == b"AT\r\r\nOK\r\n"


# -- lpwa sim --count N ------------------------------------------------------------------


def test_cli_count_prints_one_url_per_module_and_stops_on_sigint() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa", "sim", "--count", "3", "--urc-every", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Background jobs of a shell without job control ignore SIGINT: reset it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        text = b""
        deadline = time.monotonic() + 20
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
            while b"Ctrl-C to stop\n" not in text:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no banner: {text!r}"
                if sel.select(remaining):
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    assert chunk, f"lpwa sim exited: {text!r}"
                    text += chunk
        header, *urls, last = text.decode().splitlines()
        assert header == "lpwa simulator BG96MAR02A07M1G_01.016.01.016 x3"
        assert last == "Ctrl-C to stop"
        assert len(urls) == 3 and len(set(urls)) == 3
        for url in urls:
            with socket.create_connection(address(url), timeout=WAIT) as sock:
                assert at(sock, b"AT\r") == b"AT\r\r\nOK\r\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_cli_count_with_a_fixed_port_is_a_parameter_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lpwa", "sim", "--count", "2", "--port", "5000"],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(b"lpwa: ParameterError:")
    assert result.stdout == b""


@pytest.mark.parametrize("args", [["--count", "0"], ["--urc-every", "-1"]])
def test_cli_bad_count_or_period_is_a_usage_error(args: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lpwa", "sim", *args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert b"usage: lpwa sim" in result.stderr
