"""A scripted module peer for AT channel tests: it plays the module's side of a real
socket or pty from a list of steps, and records every byte the host sent.

Steps (run in order in the peer's own thread):
    ("expect", b"AT+CPIN?\\r")   read until exactly these bytes have arrived
    ("send", b"\\r\\nOK\\r\\n")  write these bytes
    ("read", 20)                 read exactly 20 bytes (a data phase) into ``data``
    ("sleep", 0.2)               pause
    ("close", None)              close the module's side of the link
Every wait is bounded by ``deadline`` seconds; a step that does not complete
in time is recorded in ``errors``.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from typing import Any

Step = tuple[str, Any]


class ScriptedModule:
    def __init__(self, steps: list[Step], *, deadline: float = 10.0) -> None:
        self.steps = steps
        self.deadline = deadline
        self.received = bytearray()
        self.data: list[bytes] = []
        self.errors: list[str] = []
        self._buf = bytearray()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._recv: Callable[[], bytes] = lambda: b""
        self._send: Callable[[bytes], None] = lambda data: None
        self._close: Callable[[], None] = lambda: None

    # -- links ------------------------------------------------------------------

    def serve_socket(self) -> str:
        """Listen on 127.0.0.1; return the ``socket://`` URL for the host."""
        server = socket.create_server(("127.0.0.1", 0))
        server.settimeout(self.deadline)
        port = server.getsockname()[1]

        def run() -> None:
            try:
                conn, _ = server.accept()
            except OSError as exc:
                self.errors.append(f"accept: {exc}")
                return
            finally:
                server.close()
            conn.settimeout(self.deadline)
            self._recv = lambda: conn.recv(65536)
            self._send = conn.sendall
            self._close = conn.close
            self._run()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return f"socket://127.0.0.1:{port}"

    def serve_pty(self) -> str:
        """Open a pseudo-terminal; return the slave path for the host."""
        master, slave = pty.openpty()
        tty.setraw(slave)
        path = os.ttyname(slave)

        def recv() -> bytes:
            # Poll so that stop() ends the wait: the peer's own slave fd keeps
            # the pty open, so the host closing its side is not seen as EOF.
            end = time.monotonic() + self.deadline
            while not self._stop.is_set() and time.monotonic() < end:
                ready, _, _ = select.select([master], [], [], 0.05)
                if ready:
                    return os.read(master, 65536)
            return b""

        def send(data: bytes) -> None:
            view = memoryview(data)
            while view:
                view = view[os.write(master, view) :]

        def close() -> None:
            os.close(master)
            os.close(slave)

        self._recv, self._send, self._close = recv, send, close
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return path

    # -- the script -------------------------------------------------------------

    def _fill(self, n: int, end: float) -> bool:
        while len(self._buf) < n:
            if time.monotonic() > end:
                return False
            try:
                chunk = self._recv()
            except OSError:
                return False
            if not chunk:
                return False
            self.received += chunk
            self._buf += chunk
        return True

    def _run(self) -> None:
        closed = False
        for op, arg in self.steps:
            end = time.monotonic() + self.deadline
            if op == "expect":
                if not self._fill(len(arg), end) or bytes(self._buf[: len(arg)]) != arg:
                    self.errors.append(f"expected {arg!r}, got {bytes(self._buf)!r}")
                    break
                del self._buf[: len(arg)]
            elif op == "read":
                if not self._fill(arg, end):
                    self.errors.append(f"expected {arg} data bytes, got {bytes(self._buf)!r}")
                    break
                self.data.append(bytes(self._buf[:arg]))
                del self._buf[:arg]
            elif op == "send":
                self._send(arg)
            elif op == "sleep":
                time.sleep(arg)
            elif op == "close":
                self._close()
                closed = True
        if not closed:
            # Keep the link open until the host closes it, as a module would.
            end = time.monotonic() + self.deadline
            while time.monotonic() < end:
                try:
                    chunk = self._recv()
                except OSError:
                    break
                if not chunk:
                    break
                self.received += chunk
            with contextlib.suppress(OSError):
                self._close()

    def stop(self) -> None:
        """End the wait for the host to hang up (call after closing the host side)."""
        self._stop.set()

    def join(self) -> None:
        assert self._thread is not None
        self._thread.join(timeout=self.deadline + 5)
