"""A small fake module that misbehaves on purpose, for what the simulator cannot do.

It shares no code with lpwa or its simulator: it reads command lines from a real
socket on 127.0.0.1 and answers them from a table, with echo per ``ATE0``/``ATE1``
(on after power-up, design §2), and lets a test make it misbehave:

- ``delays[name] = s``: answer that command ``s`` seconds late (a late answer);
- ``answers[name] = fn(line) -> bytes``: a command's whole answer (after the echo);
- ``urc(text)``: a URC now; ``reboot(partial=…)``: ``RDY`` and boot URCs in one write;
- ``read_body(data, gap)``: what ``AT+QHTTPREAD`` sends, in pieces, honouring ``+++``
  with the note's guard times (HTTP note 1.3), which ends the data mode with ``OK``.

Commands are handled one at a time, in order, like a module's AT interpreter;
input that arrives meanwhile waits. ``AT+QFLST="<pattern>"`` with no file answers
``OK``; unknown commands answer ``OK`` too (tests set what matters).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

GUARD = 1.0


@dataclass
class Body:
    """What ``AT+QHTTPREAD`` sends: ``data`` in 256-byte pieces ``gap`` s apart;
    at ``stall_at`` a pause of ``stall`` s; at ``reboot_at`` the module restarts
    (RDY and boot URCs, echo back on) and the body never ends."""

    data: bytes
    gap: float = 0.0
    stall_at: int | None = None
    stall: float = 0.0
    reboot_at: int | None = None
    end_at: int | None = None
    """The read breaks there: ``+QHTTPREAD: 717`` and back to command mode."""


class FakeModule:
    def __init__(self) -> None:
        self.echo = True
        self.delays: dict[str, float] = {}
        self.answers: dict[str, Callable[[str], bytes]] = {}
        self.bodies: dict[str, Body] = {}
        self.lines: list[str] = []
        """Every command line received, in order."""
        self.escapes = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._inbuf = bytearray()
        self._in_cond = threading.Condition()
        self._last_rx = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    # -- the test's controls -------------------------------------------------------

    def send(self, data: bytes) -> None:
        with self._send_lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):
                    self._conn.sendall(data)

    def urc(self, text: str) -> None:
        self.send(b"\r\n" + text.encode() + b"\r\n")

    def reboot(self, partial: bytes = b"") -> None:
        """RDY (and the start of the next boot URC) in one write; echo back on."""
        self.echo = True
        self.send(b"\r\nRDY\r\n" + partial)

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.close()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)
            self._conn.close()
        self._thread.join(5)

    # -- the module ------------------------------------------------------------------

    def _run(self) -> None:
        self._server.settimeout(10)
        try:
            conn, _ = self._server.accept()
        except OSError:
            return
        self._conn = conn
        reader = threading.Thread(target=self._read, args=(conn,), daemon=True)
        reader.start()
        while not self._stop.is_set():
            line = self._next_line()
            if line is None:
                continue
            self._handle(line)

    def _read(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            with self._in_cond:
                self._inbuf += data
                self._last_rx = time.monotonic()
                self._in_cond.notify_all()

    def _next_line(self) -> str | None:
        with self._in_cond:
            end = self._inbuf.find(b"\r")
            if end < 0:
                self._in_cond.wait(0.1)
                return None
            raw = bytes(self._inbuf[: end + 1])
            del self._inbuf[: end + 1]
        if self.echo:
            self.send(raw)
        text = raw[:-1].decode("latin-1").strip()
        return text or None

    def _escape_pending(self) -> bool:
        """``+++`` alone in the input, with a guard time of silence after it."""
        with self._in_cond:
            if bytes(self._inbuf) != b"+++":
                return False
            if time.monotonic() - self._last_rx < GUARD:
                return False
            self._inbuf.clear()
            return True

    def _handle(self, line: str) -> None:
        self.lines.append(line)
        upper = line.upper()
        name = upper.split("=")[0].split("?")[0]
        delay = self.delays.get(name)
        if delay:
            time.sleep(delay)
        if name in ("ATE0", "ATE1", "ATE"):
            self.echo = name == "ATE1"
            self.send(b"\r\nOK\r\n")
        elif name in self.answers:
            self.send(self.answers[name](line))
        elif name == "AT+QHTTPREAD" and name in self.bodies:
            self._read_body(self.bodies[name])
        else:
            self.send(b"\r\nOK\r\n")

    def _pause(self, seconds: float) -> bool:
        """Sleep; True if the host escaped with ``+++`` meanwhile (then OK is sent)."""
        deadline = time.monotonic() + seconds
        while True:
            if self._escape_pending():
                self.escapes += 1
                self.send(b"\r\nOK\r\n")
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def _read_body(self, body: Body) -> None:
        self.send(b"\r\nCONNECT\r\n")
        data = body.data
        for i in range(0, len(data), 256):
            piece = data[i : i + 256]
            if body.end_at is not None and i + len(piece) > body.end_at:
                self.send(piece[: body.end_at - i] + b"\r\nOK\r\n\r\n+QHTTPREAD: 717\r\n")
                return
            if body.reboot_at is not None and i + len(piece) > body.reboot_at:
                self.send(piece[: body.reboot_at - i])
                self.reboot(b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n")
                return
            if body.stall_at is not None and i <= body.stall_at < i + len(piece):
                cut = body.stall_at - i
                self.send(piece[:cut])
                if self._pause(body.stall):
                    return
                piece = piece[cut:]
            self.send(piece)
            if self._pause(body.gap):
                return
        self.send(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
