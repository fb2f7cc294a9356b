"""libcoap's ``coap-server-openssl`` on 127.0.0.1: a DTLS PSK CoAP server nobody here wrote.

Debian package ``libcoap3-bin`` (installed by ``.ci/run``). ``-k <key> -h <hint>``
turns PSK on; the server listens for plain CoAP on ``port`` and for DTLS on
``port + 1``. ``-d 10`` lets POST/PUT create up to 10 resources. A missing binary
is an error, never a skip: the DTLS tests must run wherever the suite runs.

Its stock resources (libcoap 4.3): ``/`` GET 2.05 with the server's banner text,
``/time`` GET 2.05, ``/example_data`` GET/PUT, anything else 4.04 unless created
by POST/PUT (then GET returns what was stored, DELETE 2.02 removes it).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

__all__ = ["BINARY", "LibcoapServer", "free_port_pair"]

BINARY = "coap-server-openssl"
START_ATTEMPTS = 5
READY_WITHIN = 5.0


try:  # resolved here, so the forked child only makes one call (no loading, no imports)
    _PRCTL = ctypes.CDLL(None).prctl
except (OSError, AttributeError):  # not Linux
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child: SIGTERM when the test process dies, so no server outlives a run
    that was killed before its teardown (Linux prctl PR_SET_PDEATHSIG = 1)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)


def _pair_free(port: int) -> bool:
    """Whether UDP and TCP ``port`` and ``port + 1`` on 127.0.0.1 can be bound now."""
    probes = [
        socket.socket(socket.AF_INET, kind)
        for kind in (socket.SOCK_DGRAM, socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM)
    ]
    try:
        for probe, p in zip(probes, (port, port + 1, port, port + 1)):
            probe.bind(("127.0.0.1", p))
    except OSError:
        return False
    finally:
        for probe in probes:
            probe.close()
    return True


def free_port_pair() -> int:
    """A port P such that P and P+1 (UDP and TCP) were free on 127.0.0.1 just now.

    The server binds them itself, so a race is possible: ``LibcoapServer`` retries
    with another pair when the server does not come up.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            if port >= 65535:
                continue
            probes = [
                socket.socket(socket.AF_INET, kind)
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_STREAM)
            ]
            try:
                probes[0].bind(("127.0.0.1", port + 1))
                probes[1].bind(("127.0.0.1", port))
                probes[2].bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            finally:
                for probe in probes:
                    probe.close()
            return port
    raise RuntimeError("no free pair of ports on 127.0.0.1")


def _answers_ping(port: int) -> bool:
    """A CoAP ping (Empty CON) to the plain port comes back as RST (RFC 7252 4.3)."""
    mid = int.from_bytes(os.urandom(2), "big")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.connect(("127.0.0.1", port))
        try:
            sock.send(bytes([0x40, 0x00]) + mid.to_bytes(2, "big"))
            reply = sock.recv(64)
        except OSError:  # refused (not bound yet) or timed out
            return False
    return len(reply) >= 4 and reply[0] & 0x30 == 0x30 and reply[2:4] == mid.to_bytes(2, "big")


class LibcoapServer:
    """``coap-server-openssl -A 127.0.0.1 -p <port> -k <key> -h <hint>``; ``close()`` stops it.

    ``port`` None picks a free pair (retrying when another process took it first);
    a given port is used as is (one attempt).
    """

    def __init__(self, key: str, *, hint: str = "lpwa", port: int | None = None) -> None:
        exe = shutil.which(BINARY)
        if exe is None:
            raise RuntimeError(
                f"{BINARY} is not installed: apt-get install -y libcoap3-bin "
                "(.ci/run does this; the DTLS tests need a real DTLS server)"
            )
        self.key = key
        self._proc: subprocess.Popen[bytes] | None = None
        errors: list[str] = []
        for _ in range(1 if port is not None else START_ATTEMPTS):
            chosen = free_port_pair() if port is None else port
            # A given port (the note's 5683/5684) may be held a moment by another run:
            # wait for it, bounded, so that our ping never reaches someone else's server.
            if port is not None:
                for _ in range(120):  # 30 s: another run of this test may hold them
                    if _pair_free(chosen):
                        break
                    time.sleep(0.25)
                else:
                    raise RuntimeError(f"127.0.0.1 ports {chosen} and {chosen + 1} stay in use")
            # Output to a file, not a pipe nobody reads (a full pipe would stall it).
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            proc = subprocess.Popen(
                [exe, "-A", "127.0.0.1", "-p", str(chosen), "-k", key, "-h", hint, "-d", "10"],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
            if self._wait_ready(proc, chosen):
                self._proc = proc
                self.port = chosen
                self.dtls_port = chosen + 1
                return
            self._stop(proc)
            errors.append(f"port {chosen}: {self.output()[-300:]!r}")
            self._log.close()
        raise RuntimeError(f"{BINARY} did not start: {'; '.join(errors)}")

    @staticmethod
    def _wait_ready(proc: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if _answers_ping(port):
                return True
        return False

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def output(self) -> bytes:
        """What the server printed so far."""
        self._log.seek(0)
        return self._log.read()

    def close(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self._proc is not None:
            self._stop(self._proc)
            self._proc = None
        with contextlib.suppress(OSError):
            self._log.close()
