"""The byte pipe to the module: anything ``serial.serial_for_url`` opens, or a pty path.

Owns opening, blocking reads that a ``close()`` can interrupt, and writes. It knows
nothing of AT syntax. pyserial's URLs cover a device or pty path, ``socket://``,
``rfc2217://`` and ``loop://``; a pty slave is an ordinary device path for pyserial
(it tolerates the modem-line ioctls a pty refuses).

On Linux, ModemManager probes and keeps the AT ports of cellular modules it
recognises; its commands and ours then steal each other's answers. Opening a
device path therefore looks (in ``/proc``, where the OS lets us read it) for the
processes that hold it: one named ModemManager is refused outright; any holder is
named in the error when the open fails (``holders_hint`` gives the same text to
callers whose module then answers strangely).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import serial
from serial.urlhandler import protocol_socket

from lpwa.errors import TransportError

# One read takes whatever the OS has, up to this; QHTTPREAD bodies arrive in
# large pieces on socket:// and USB, so a small cap would only add calls.
READ_SIZE = 1 << 16
# Seconds a write may take before the link counts as gone (see Transport).
WRITE_TIMEOUT = 120.0
PROC = "/proc"

# Processes that open modem AT ports on their own and must be told to keep off.
PORT_GRABBERS = ("ModemManager",)
EXCLUDE_HOWTO = (
    "exclude the port from ModemManager with a udev rule "
    'ENV{ID_MM_PORT_IGNORE}="1" (see README, "ModemManager"), or stop ModemManager'
)


class Transport:
    """A serial link to the module, with reads that ``close()`` can interrupt."""

    def __init__(self, port: str | serial.SerialBase, baudrate: int = 115200, **kwargs: Any):
        self._serial, self.name = open_serial(port, baudrate, **kwargs)
        self._fd = descriptor(self._serial)
        # With a descriptor we wait in poll() and then read without blocking;
        # the wake pipe lets close() end that wait at once instead of polling.
        # poll(), and the descriptor's own reads and writes: pyserial's use
        # select(), which fails for descriptors past 1023 (a fleet's ports).
        self._serial.timeout = 0 if self._fd is not None else 0.05
        self._wake_r, self._wake_w = os.pipe()
        self._poll = select.poll()
        if self._fd is not None:
            self._poll.register(self._fd, select.POLLIN)
            self._poll.register(self._wake_r, select.POLLIN)
        timeout = getattr(self._serial, "write_timeout", None)
        self._write_timeout = WRITE_TIMEOUT if timeout is None else float(timeout)
        self._closed = threading.Event()
        self._write_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed.is_set()

    def read(self) -> bytes:
        """Block until bytes arrive and return them; ``b""`` once closed.

        Raises TransportError when the link fails or the peer goes away.
        """
        while not self._closed.is_set():
            try:
                if self._fd is not None:
                    ready = {fd for fd, _ in self._poll.poll()}
                    if self._wake_r in ready:
                        return b""
                    try:
                        data = os.read(self._fd, READ_SIZE)
                    except (BlockingIOError, InterruptedError):
                        continue
                    if not data:
                        # Readable yet empty: pyserial's posix backend reports a
                        # hang-up this way only on some kernels; treat it as one.
                        raise TransportError(f"{self.name}: connection closed by the module")
                else:
                    data = self._serial.read(max(1, min(self._serial.in_waiting, READ_SIZE)))
                    if not data:
                        continue
                return bytes(data)
            except TransportError:
                raise
            except (serial.SerialException, OSError, ValueError, TypeError) as exc:
                if self._closed.is_set():
                    return b""
                raise TransportError(f"{self.name}: read failed: {exc}") from exc
        return b""

    def write(self, data: bytes) -> None:
        """Write all of ``data``; raises TransportError if the link is gone."""
        if self._closed.is_set():
            raise TransportError(f"{self.name}: closed")
        try:
            with self._write_lock:
                if self._fd is None:
                    self._serial.write(data)
                else:
                    self._write_fd(self._fd, memoryview(data))
                self._serial.flush()  # a tty: until it is sent (tcdrain)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: write failed: {exc}") from exc

    def _write_fd(self, fd: int, view: memoryview) -> None:
        deadline = time.monotonic() + self._write_timeout
        writable = select.poll()
        writable.register(fd, select.POLLOUT)
        while view:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                view = view[os.write(fd, view) :]
            if view:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed.is_set():
                    raise TransportError(f"{self.name}: write timed out (the module reads nothing)")
                writable.poll(min(left, 0.5) * 1000)

    def close(self) -> None:
        """Close the link; a read blocked in another thread returns ``b""``."""
        if self._closed.is_set():
            return
        self._closed.set()
        os.write(self._wake_w, b"x")
        # Closing a link that already failed has nothing left to release.
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()

    def release(self) -> None:
        """Free the wake pipe; call once no thread can be reading any more."""
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


class _SocketSerial(protocol_socket.Serial):  # type: ignore[misc]
    """pyserial's socket:// port, opened without select() and closed without a
    pause: its ``reset_input_buffer`` (run by ``open``) calls select(), which
    fails for a descriptor past 1023, as a collector with a thousand ports
    has. Both shells read and write the descriptor themselves."""

    _socket: socket.socket | None
    is_open: bool

    def close(self) -> None:
        # pyserial's sleeps 0.3 s "for quick reconnects": a fleet closing a
        # thousand ports (or an event loop closing one) cannot wait that.
        if self.is_open and self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
            self._socket = None
        self.is_open = False

    def reset_input_buffer(self) -> None:
        if not self.is_open:
            raise serial.PortNotOpenError()
        sock = self._socket
        while sock is not None:
            try:
                if not sock.recv(4096):
                    return
            except (BlockingIOError, InterruptedError):
                return


def descriptor(port: serial.SerialBase) -> int | None:
    """The port's file descriptor, or None: loop:// and rfc2217:// ports are
    io.RawIOBase, whose fileno() raises io.UnsupportedOperation (an OSError)."""
    try:
        return int(port.fileno())
    except (OSError, serial.SerialException):
        return None


def open_serial(
    port: str | serial.SerialBase, baudrate: int = 115200, **kwargs: Any
) -> tuple[serial.SerialBase, str]:
    """Open ``port`` (or take an open pyserial port) as both shells do: a port
    ModemManager holds is refused, a failure names the port's holders."""
    if isinstance(port, serial.SerialBase):
        return port, str(port.port)
    device = _char_device(port)
    if device is not None:
        # Only the grabbers' fds: a full scan costs too much for every open.
        grabbers = port_holders(port, names=PORT_GRABBERS)
        if grabbers:
            raise TransportError(
                f"{port} is held by {_names(grabbers)}, which sends its own AT "
                f"commands on it; {EXCLUDE_HOWTO}"
            )
    # A module that stops reading (or a wedged USB-serial adapter) must
    # not hang a write for ever: long enough for the largest data phase
    # (a 1,024,000-byte POST at 115200 baud, about 90 s), then an error.
    kwargs.setdefault("write_timeout", WRITE_TIMEOUT)
    try:
        if port.lower().startswith("socket://"):
            return _SocketSerial(port, baudrate=baudrate, **kwargs), port
        return serial.serial_for_url(port, baudrate=baudrate, **kwargs), port
    except (serial.SerialException, OSError, ValueError) as exc:
        hint = holders_hint(port) if device is not None else ""
        raise TransportError(f"cannot open {port!r}: {exc}{'; ' + hint if hint else ''}") from exc


# -- who holds a port (Linux /proc; elsewhere, or unreadable, nobody is named) -----


class Holder(NamedTuple):
    """A process with the port open."""

    pid: int
    name: str


def _char_device(path: str) -> int | None:
    """The device number of a local character device path, else None (URLs, files)."""
    if "://" in path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_rdev if stat.S_ISCHR(st.st_mode) else None


def _processes() -> Iterator[tuple[int, str]]:
    """(pid, command name) of every other process /proc lists."""
    own = os.getpid()
    try:
        entries = os.listdir(PROC)
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            with open(f"{PROC}/{entry}/comm", encoding="utf-8", errors="replace") as f:
                name = f.read().strip()
        except OSError:
            continue  # gone meanwhile
        yield int(entry), name


def port_holders(path: str, names: tuple[str, ...] | None = None) -> list[Holder]:
    """Other processes (named one of ``names``, if given) with the character device
    ``path`` open, by ``/proc/<pid>/fd``.

    Only processes whose descriptors this user may read are seen (another user's,
    e.g. root's ModemManager, need root): an empty list does not prove the port free.
    """
    rdev = _char_device(path)
    if rdev is None:
        return []
    found: list[Holder] = []
    for pid, name in _processes():
        if names is not None and name not in names:
            continue
        try:
            fds = os.listdir(f"{PROC}/{pid}/fd")
        except OSError:
            continue  # not ours to read, or gone
        for fd in fds:
            try:
                st = os.stat(f"{PROC}/{pid}/fd/{fd}")
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev:
                found.append(Holder(pid, name))
                break
    return found


def holders_hint(path: str) -> str:
    """One sentence on who else may be using ``path`` and what to do, or ``""``.

    Names the processes that hold it when ``/proc`` tells; else, when a
    ModemManager process runs (its fds unreadable to us), says it may hold it.
    """
    if _char_device(path) is None:
        return ""
    holders = port_holders(path)
    if holders:
        text = f"{path} is also open in {_names(holders)}"
        if any(h.name in PORT_GRABBERS for h in holders):
            text += f"; {EXCLUDE_HOWTO}"
        return text
    running = [Holder(pid, name) for pid, name in _processes() if name in PORT_GRABBERS]
    if running:
        return f"{_names(running)} is running and may hold {path}; {EXCLUDE_HOWTO}"
    return ""


def _names(holders: list[Holder]) -> str:
    return ", ".join(f"{h.name} (pid {h.pid})" for h in holders)
