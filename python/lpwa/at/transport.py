"""The byte pipe to the module: anything ``serial.serial_for_url`` opens, or a pty path.

Owns opening, blocking reads that a ``close()`` can interrupt, and writes. It knows
nothing of AT syntax. pyserial's URLs cover a device or pty path, ``socket://``,
``rfc2217://`` and ``loop://``; a pty slave is an ordinary device path for pyserial
(it tolerates the modem-line ioctls a pty refuses).
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
from typing import Any

import serial

from lpwa.errors import TransportError

# One read takes whatever the OS has, up to this; QHTTPREAD bodies arrive in
# large pieces on socket:// and USB, so a small cap would only add calls.
READ_SIZE = 1 << 16


class Transport:
    """A serial link to the module, with reads that ``close()`` can interrupt."""

    def __init__(self, port: str | serial.SerialBase, baudrate: int = 115200, **kwargs: Any):
        if isinstance(port, serial.SerialBase):
            self._serial = port
            self.name = str(port.port)
        else:
            self.name = port
            try:
                self._serial = serial.serial_for_url(port, baudrate=baudrate, **kwargs)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise TransportError(f"cannot open {port!r}: {exc}") from exc
        self._fd: int | None
        try:
            self._fd = int(self._serial.fileno())
        except (OSError, serial.SerialException):
            # loop://, rfc2217://: pyserial's ports are io.RawIOBase, whose
            # fileno() raises io.UnsupportedOperation (an OSError) without one.
            self._fd = None
        # With a descriptor we wait in select() and then read without blocking;
        # the wake pipe lets close() end that wait at once instead of polling.
        self._serial.timeout = 0 if self._fd is not None else 0.05
        self._wake_r, self._wake_w = os.pipe()
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
                    ready, _, _ = select.select([self._fd, self._wake_r], [], [])
                    if self._wake_r in ready:
                        return b""
                    data = self._serial.read(READ_SIZE)
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
                self._serial.write(data)
                self._serial.flush()
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.name}: write failed: {exc}") from exc

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
