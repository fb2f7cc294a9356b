"""Per-module health counters: what went wrong and what was done about it.

``Modem.health()`` returns a ``HealthReport``: reboots the channel saw (``RDY``),
errors by code (``"704"``, ``"710"``, ``"ERROR"`` for a plain ERROR) from
commands and from request URCs, and the recovery steps run (by step name:
``"reactivate"``, ``"reboot"``, HTTP note chapter 4). Counting is thread safe.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["Health", "HealthReport"]


@dataclass(frozen=True)
class HealthReport:
    """A snapshot of one module's counters."""

    reboots: int
    errors: Mapping[str, int] = field(default_factory=dict)
    recoveries: Mapping[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        """All errors counted."""
        return sum(self.errors.values())


class Health:
    """The counters behind ``Modem.health()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: Counter[str] = Counter()
        self._recoveries: Counter[str] = Counter()

    def error(self, code: int | None) -> None:
        """Count an error: a CME/HTTP code, or None for a plain ERROR."""
        with self._lock:
            self._errors["ERROR" if code is None else str(code)] += 1

    def recovery(self, step: str) -> None:
        """Count a recovery step that ran."""
        with self._lock:
            self._recoveries[step] += 1

    def report(self, reboots: int) -> HealthReport:
        """A snapshot (``reboots`` comes from the channel)."""
        with self._lock:
            return HealthReport(
                reboots,
                MappingProxyType(dict(self._errors)),
                MappingProxyType(dict(self._recoveries)),
            )
