"""A one-line progress bar for large transfers, and a spinner for silent waits.

On a terminal the bar is redrawn in place (at most 10 times a second); anywhere
else (a pipe, a log file) only the final state is written, once, so logs hold
one line per transfer instead of a run of carriage returns. The spinner is for
terminals only: off one it writes nothing at all.
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO

__all__ = ["ProgressBar", "Spinner"]


class ProgressBar:
    """``body [#######.....]  512.0/1024.0 KiB  2.1 MiB/s``: call it with
    ``(received, total)`` as bytes arrive (``total`` None when unknown), then
    ``finish()``."""

    def __init__(
        self,
        label: str,
        out: IO[str] | None = None,
        width: int = 30,
        min_total: int = 0,
        live: bool | None = None,
    ) -> None:
        self.label = label
        self.out = out if out is not None else sys.stderr
        self.width = width
        self.min_total = min_total
        """Transfers known to be smaller than this draw no bar."""
        isatty = getattr(self.out, "isatty", None)
        self.live = live if live is not None else bool(isatty and isatty())
        """Redraw in place; when False only the final state is written."""
        self.start = time.monotonic()
        self._last = 0.0
        self._state: tuple[int, int | None] | None = None
        self._done = False

    def __call__(self, received: int, total: int | None) -> None:
        """Record progress; redraws when live and a tenth of a second has passed."""
        if self._done or (total is not None and total < self.min_total):
            return
        self._state = (received, total)
        if total is not None and received >= total:
            self.finish()
            return
        now = time.monotonic()
        if self.live and now - self._last >= 0.1:
            self._last = now
            self._draw(received, total, now)
            self.out.flush()

    def finish(self) -> None:
        """Draw the final state and end the line (once; nothing if nothing was recorded)."""
        if self._done or self._state is None:
            return
        self._done = True
        self._draw(*self._state, time.monotonic())
        self.out.write("\n")
        self.out.flush()

    def _draw(self, received: int, total: int | None, now: float) -> None:
        rate = received / max(now - self.start, 1e-6) / 1024 / 1024
        if total:
            filled = int(self.width * min(received, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            amount = f"{received / 1024:7.1f}/{total / 1024:.1f} KiB"
        else:
            bar = "?" * self.width
            amount = f"{received / 1024:7.1f} KiB"
        start = "\r" if self.live else ""
        self.out.write(f"{start}  {self.label} [{bar}] {amount} {rate:5.1f} MiB/s")


class Spinner:
    """``  waiting for example.com | 3 s (timeout 60 s)`` redrawn in place on a
    terminal while a module command runs, erased by ``stop()`` (or leaving the
    ``with`` block); nothing at all when ``out`` is not a terminal."""

    FRAMES = "|/-\\"

    def __init__(
        self,
        label: str,
        out: IO[str] | None = None,
        *,
        timeout: float | None = None,
        live: bool | None = None,
        interval: float = 0.1,
    ) -> None:
        self.label = label
        self.out = out if out is not None else sys.stderr
        self.timeout = timeout
        isatty = getattr(self.out, "isatty", None)
        self.live = live if live is not None else bool(isatty and isatty())
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._width = 0
        self._thread: threading.Thread | None = None

    def start(self) -> Spinner:
        """Start redrawing (when live); returns self."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lpwa-spinner", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and erase the line (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._width:
                self.out.write("\r" + " " * self._width + "\r")
                self.out.flush()
                self._width = 0

    def _run(self) -> None:
        start = time.monotonic()
        frame = 0
        while not self._stop.wait(0 if frame == 0 else self.interval):
            elapsed = time.monotonic() - start
            limit = f" (timeout {self.timeout:g} s)" if self.timeout is not None else ""
            text = f"  {self.label} {self.FRAMES[frame % 4]} {elapsed:.0f} s{limit}"
            frame += 1
            with self._lock:
                if self._stop.is_set():
                    return
                pad = max(self._width - len(text), 0)
                self.out.write("\r" + text + " " * pad)
                self.out.flush()
                self._width = len(text)

    def __enter__(self) -> Spinner:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
