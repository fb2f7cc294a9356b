"""The simulator's two AT ports: a TCP server (``socket://``) and a pseudo-terminal.

Each port owns an input buffer, filled by the process's shared reactor thread
(``lpwa.sim.reactor``: no thread per port or connection), and a ``write`` that
sends to whoever is connected right now from the caller's thread (bytes for
nobody are dropped, as on a UART with nothing attached). The port knows
nothing about AT commands: the engine (``lpwa.sim.engine``) consumes the
buffer, woken by ``on_input``, and decides what to send.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import functools
import logging
import os
import select
import socket
import threading
import time
import tty
from typing import Callable

from lpwa.sim.reactor import Reactor, shared

__all__ = ["InputBuffer", "Port", "PtyPort", "TcpPort"]

Tap = Callable[[str, str, bytes], None]
"""Transcript hook: ``tap(port_name, direction, data)``, direction ``"in"``/``"out"``."""

# How long a write may wait for a host that does not read before the bytes are
# dropped (a real UART would overrun; a simulator thread must not hang).
WRITE_STALL_LIMIT = 10.0

ACCEPT_RETRY_SECONDS = 0.1
"""After a failed accept (no descriptors left) the listener is watched again this much later."""

log = logging.getLogger("lpwa.sim")


class InputBuffer:
    """Bytes received from the host, with arrival time, for one consumer at a time."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self.last_rx = time.monotonic()

    def feed(self, data: bytes) -> None:
        """Append bytes from the reactor thread."""
        with self._cond:
            self._buf += data
            self.last_rx = time.monotonic()
            self._cond.notify_all()

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Up to ``max_bytes`` bytes, waiting at most ``timeout`` s; ``b""`` on timeout."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while not self._buf:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return b""
                self._cond.wait(remaining)
            chunk = bytes(self._buf[:max_bytes])
            del self._buf[:max_bytes]
            return chunk

    def unread(self, data: bytes) -> None:
        """Put bytes back at the front (the engine read past a command line)."""
        if data:
            with self._cond:
                self._buf[:0] = data
                self._cond.notify_all()

    def peek(self) -> bytes:
        """A copy of what is buffered, not consumed."""
        with self._cond:
            return bytes(self._buf)

    def clear(self) -> None:
        """Forget everything buffered."""
        with self._cond:
            self._buf.clear()


class Port(abc.ABC):
    """One AT port of the module: an input buffer and a write to the host."""

    def __init__(self, name: str, tap: Tap | None = None, reactor: Reactor | None = None) -> None:
        self.name = name
        self.input = InputBuffer()
        self.on_input: Callable[[], None] | None = None
        """Called on the reactor thread after input arrived (must not block)."""
        self._tap = tap
        self._reactor = reactor or shared().reactor
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self.connection_id = 0
        """Increases on every new host connection (the engine resets its line state)."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether a host is attached (always True for a pty)."""

    def write(self, data: bytes) -> None:
        """Send ``data`` to the host, or drop it if nobody is connected."""
        if not data:
            return
        with self._write_lock:
            if self._tap is not None:
                self._tap(self.name, "out", data)
            self._send(data)

    @abc.abstractmethod
    def _send(self, data: bytes) -> None:
        """Write to the host's side of the link."""

    def _received(self, data: bytes) -> None:
        if self._tap is not None:
            self._tap(self.name, "in", data)
        self.input.feed(data)
        on_input = self.on_input
        if on_input is not None:
            on_input()

    @abc.abstractmethod
    def drop(self) -> None:
        """Cut the host's connection now (the fault "dropped connection")."""

    def close(self) -> None:
        """Stop serving; idempotent."""
        self._closed.set()


class TcpPort(Port):
    """A TCP listener on loopback; one host at a time, a new one replaces the old.

    Accepting and reading happen on the reactor thread, which alone closes the
    sockets it watches; ``drop()`` from any thread shuts the connection down at
    once and leaves the close to the reactor.
    """

    def __init__(
        self,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tap: Tap | None = None,
        reactor: Reactor | None = None,
    ):
        super().__init__(name, tap, reactor)
        self._listener = socket.create_server((host, port))
        self._listener.setblocking(False)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._conn: socket.socket | None = None
        self._conn_lock = threading.Lock()
        try:
            self._reactor.call(lambda: self._reactor.add_reader(self._listener, self._accept))
        except BaseException:
            self._listener.close()
            raise

    @property
    def url(self) -> str:
        """``socket://host:port`` for ``serial.serial_for_url``."""
        return f"socket://{self.address[0]}:{self.address[1]}"

    @property
    def connected(self) -> bool:
        """Whether a host is attached to this port."""
        return self._conn is not None

    def _accept(self) -> None:
        # Reactor thread: take every pending connection; the last one wins.
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # Out of descriptors (EMFILE...): the listener stays readable,
                # so stop watching it for a moment instead of spinning.
                log.warning("simulator %s: accept failed: %s", self.name, exc)
                self._reactor.remove_reader(self._listener)
                shared().scheduler.call_later(
                    ACCEPT_RETRY_SECONDS, lambda: self._reactor.call_soon(self._rewatch)
                )
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(WRITE_STALL_LIMIT)
            with self._conn_lock:
                old, self._conn = self._conn, conn
                self.connection_id += 1
                self.input.clear()
            if old is not None:
                self._close_conn(old)
            self._reactor.add_reader(conn, functools.partial(self._readable, conn))

    def _rewatch(self) -> None:
        # Reactor thread.
        if not self._closed.is_set():
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._reactor.add_reader(self._listener, self._accept)

    def _readable(self, conn: socket.socket) -> None:
        # Reactor thread: the selector said so, so recv does not wait.
        try:
            data = conn.recv(65536)
        except (OSError, ValueError):
            data = b""
        with self._conn_lock:
            current = self._conn is conn
            if data and current:
                self._received(data)
                return
            if current:
                self._conn = None
        self._close_conn(conn)

    def _close_conn(self, conn: socket.socket) -> None:
        # Reactor thread only.
        self._reactor.remove_reader(conn)
        _close_socket(conn)

    def _send(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.sendall(data)
        except OSError:
            self._forget(conn)

    def _forget(self, conn: socket.socket) -> None:
        with self._conn_lock:
            if self._conn is conn:
                self._conn = None
        # Cut it now; the reactor closes it (it alone closes what it watches).
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        self._reactor.call_soon(lambda: self._close_conn(conn))

    def drop(self) -> None:
        """Cut the link to the host (the dropped-connection fault)."""
        conn = self._conn
        if conn is not None:
            self._forget(conn)

    def close(self) -> None:
        """Stop serving this port and release it."""
        if self._closed.is_set():
            return
        super().close()

        def release() -> None:
            with self._conn_lock:
                conn, self._conn = self._conn, None
            if conn is not None:
                self._close_conn(conn)
            self._reactor.remove_reader(self._listener)
            with contextlib.suppress(OSError):
                self._listener.close()

        self._reactor.call(release)


class PtyPort(Port):
    """A pseudo-terminal: the host opens ``path`` (the slave) with ``serial.Serial``.

    The simulator keeps its own descriptor on the slave so the master never sees
    EIO between host sessions; the slave is in raw mode so no byte is translated.
    ``drop()`` closes the master (the host sees the device vanish) and opens a new
    pty; ``path`` then names the new one. The master is read by the reactor.
    """

    RETRY_SECONDS = 0.05
    """After a read error the master is watched again this much later."""

    def __init__(self, name: str, tap: Tap | None = None, reactor: Reactor | None = None) -> None:
        super().__init__(name, tap, reactor)
        self._master = -1
        self._slave = -1
        self.path = ""
        self._reactor.call(self._open)

    def _open(self) -> None:
        # Reactor thread.
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        self.connection_id += 1
        self.input.clear()
        self._reactor.add_reader(master, lambda: self._readable(master))

    @property
    def connected(self) -> bool:
        """Whether a host is attached to this port."""
        return self._master >= 0

    def _readable(self, master: int) -> None:
        # Reactor thread.
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except (OSError, ValueError):
            # EIO while no slave is open: look again a little later rather
            # than spin on a descriptor that stays "readable".
            self._reactor.remove_reader(master)
            shared().scheduler.call_later(
                self.RETRY_SECONDS, lambda: self._reactor.call_soon(lambda: self._rewatch(master))
            )
            return
        if data:
            self._received(data)

    def _rewatch(self, master: int) -> None:
        # Reactor thread: only if that master is still ours.
        if master == self._master and not self._closed.is_set():
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._reactor.add_reader(master, lambda: self._readable(master))

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + WRITE_STALL_LIMIT
        while view and not self._closed.is_set():
            master = self._master
            try:
                written = os.write(master, view)
                view = view[written:]
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # nobody reads: drop, like an overrun UART
                select.select([], [master], [], 0.05)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    return
                raise

    def _release(self) -> None:
        # Reactor thread.
        self._reactor.remove_reader(self._master)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def drop(self) -> None:
        """Cut the link to the host (the dropped-connection fault)."""

        def reopen() -> None:
            if self._closed.is_set():
                return
            old_master, old_slave = self._master, self._slave
            self._open()
            self._reactor.remove_reader(old_master)
            for fd in (old_master, old_slave):
                with contextlib.suppress(OSError):
                    os.close(fd)

        self._reactor.call(reopen)

    def close(self) -> None:
        """Stop serving this port and release it."""
        if self._closed.is_set():
            return
        super().close()

        def release() -> None:
            self._release()
            self._master = self._slave = -1

        self._reactor.call(release)


def _close_socket(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        conn.close()
