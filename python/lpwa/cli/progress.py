"""A one-line progress bar for large transfers, on a terminal or a log file."""

from __future__ import annotations

import sys
import time
from typing import IO


class ProgressBar:
    """``[#######.....]  512.0/1024.0 KiB  2.1 MiB/s``, redrawn at most 10 times a second."""

    def __init__(
        self, label: str, out: IO[str] = sys.stderr, width: int = 30, min_total: int = 0
    ) -> None:
        self.label = label
        self.min_total = min_total
        """Transfers known to be smaller than this draw no bar."""
        self.out = out
        self.width = width
        self.start = time.monotonic()
        self._last = 0.0
        self._done = False

    def __call__(self, received: int, total: int | None) -> None:
        if total is not None and total < self.min_total:
            return
        now = time.monotonic()
        final = total is not None and received >= total
        if not final and now - self._last < 0.1:
            return
        self._last = now
        rate = received / max(now - self.start, 1e-6) / 1024 / 1024
        if total:
            filled = int(self.width * min(received, total) / total)
            bar = "#" * filled + "." * (self.width - filled)
            amount = f"{received / 1024:7.1f}/{total / 1024:.1f} KiB"
        else:
            bar = "?" * self.width
            amount = f"{received / 1024:7.1f} KiB"
        self.out.write(f"\r  {self.label} [{bar}] {amount} {rate:5.1f} MiB/s")
        if final:
            self.finish()
        self.out.flush()

    def finish(self) -> None:
        """End the bar's line (once, and only if a bar was drawn)."""
        if not self._done and self._last:
            self._done = True
            self.out.write("\n")
            self.out.flush()
