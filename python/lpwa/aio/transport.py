"""The byte pipe to the module for the asyncio shell: no thread per module.

Opened like the blocking :class:`lpwa.at.Transport` (every pyserial URL, a device
or pty path, the same ModemManager checks: :func:`lpwa.at.transport.open_serial`).
Where the port has a file descriptor (a device, a pty, ``socket://``, all opened
non-blocking by pyserial) the event loop watches it (``add_reader``) and writes
go out as the descriptor takes them (``add_writer``), so a thousand modules cost
no thread at all. Ports without one (``rfc2217://``, ``loop://``) fall back to a
reader thread that hands bytes to the loop, and writes in the loop's executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import serial

from lpwa.at.transport import READ_SIZE, descriptor, open_serial
from lpwa.errors import TransportError

log = logging.getLogger("lpwa.at")


class AsyncTransport:
    """A serial link read by the event loop; ``start()`` begins delivering bytes."""

    def __init__(self, port: str | serial.SerialBase, baudrate: int = 115200, **kwargs: Any):
        self._serial, self.name = open_serial(port, baudrate, **kwargs)
        self._fd = descriptor(self._serial)
        if self._fd is None:
            self._serial.timeout = 0.05  # the reader thread's poll
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_data: Callable[[bytes], None] = lambda data: None
        self._on_lost: Callable[[TransportError], None] = lambda exc: None
        self._closed = False
        self._thread: threading.Thread | None = None
        self._write_lock = asyncio.Lock()

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._closed

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[TransportError], None],
    ) -> None:
        """Deliver every read to ``on_data`` and the link's loss to ``on_lost``,
        both called on ``loop``."""
        self._loop, self._on_data, self._on_lost = loop, on_data, on_lost
        if self._fd is not None:
            loop.add_reader(self._fd, self._readable)
        else:
            self._thread = threading.Thread(
                target=self._read_thread, name=f"lpwa-aio-reader {self.name}", daemon=True
            )
            self._thread.start()

    def _readable(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lost(TransportError(f"{self.name}: read failed: {exc}"))
            return
        if not data:
            # End of file on a socket; readable yet empty on a tty is a hang-up.
            self._lost(TransportError(f"{self.name}: connection closed by the module"))
            return
        self._on_data(data)

    def _read_thread(self) -> None:
        loop = self._loop
        assert loop is not None
        try:
            while not self._closed:
                data = self._serial.read(max(1, min(self._serial.in_waiting, READ_SIZE)))
                if data:
                    loop.call_soon_threadsafe(self._on_data, bytes(data))
        except (serial.SerialException, OSError, ValueError, TypeError) as exc:
            if not self._closed:
                error = TransportError(f"{self.name}: read failed: {exc}")
                with contextlib.suppress(RuntimeError):  # the loop is closed
                    loop.call_soon_threadsafe(self._lost, error)

    def _lost(self, exc: TransportError) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
        if not self._closed:
            self._on_lost(exc)

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` (in order with other writes); TransportError if
        the link is gone."""
        if self._closed:
            raise TransportError(f"{self.name}: closed")
        async with self._write_lock:
            if self._fd is None:
                loop = asyncio.get_running_loop()
                try:
                    await loop.run_in_executor(None, self._blocking_write, data)
                except (serial.SerialException, OSError, ValueError) as exc:
                    raise TransportError(f"{self.name}: write failed: {exc}") from exc
                return
            await self._write_fd(self._fd, memoryview(data))

    def _blocking_write(self, data: bytes) -> None:
        self._serial.write(data)
        self._serial.flush()

    async def _write_fd(self, fd: int, view: memoryview) -> None:
        loop = asyncio.get_running_loop()
        while view:
            try:
                sent = os.write(fd, view)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                raise TransportError(f"{self.name}: write failed: {exc}") from exc
            view = view[sent:]
            if view:
                # The descriptor is full (a slow UART): wait until it takes more.
                ready = loop.create_future()
                loop.add_writer(fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(fd)
                if self._closed:
                    raise TransportError(f"{self.name}: closed")

    def close(self) -> None:
        """Stop reading and close the link (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and self._fd is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()  # socket://: without pyserial's 0.3 s pause
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)


__all__ = ["AsyncTransport"]
