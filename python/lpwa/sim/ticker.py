"""Periodic signal-quality URCs (``urc_every``), for fleet load tests.

A real BG96/BG95 reports signal changes as ``+QIND: "csq",<rssi>,<ber>`` once
``AT+QINDCFG="csq",1`` enables it (Quectel BG96 AT manual, QINDCFG). The
simulator's radio never changes, so with ``urc_every=S`` it reports every ``S``
seconds instead: a steady URC stream a collector has to route. ``<rssi>`` is
what ``AT+CSQ`` answers (20 registered, 99 otherwise), ``<ber>`` 99 (unknown).
The lpwa tokenizer's default table routes ``+QIND`` as a URC.

Ticks run on the shared scheduler (``lpwa.sim.reactor``), not a thread per
module. Each module ticks on the grid ``k * S + phase`` with the phase taken
from its TCP port number modulo 100: a fleet's ticks fall on at most 100
instants per period, so the timer thread wakes at most 100 times per period
however many modules there are. While the module boots, or nobody is
connected to the port the URC would go to, a tick sends nothing.
"""

from __future__ import annotations

import math
import threading
import time

from lpwa.sim.module import Module
from lpwa.sim.reactor import TimerHandle, shared

__all__ = ["PHASES", "UrcTicker", "csq_urc"]

PHASES = 100
"""Distinct tick instants per period across a fleet."""


def csq_urc(module: Module) -> str:
    """The ``+QIND: "csq"`` line for the module's current radio state."""
    registered = module.cfun == 1 and module.sim_ready and module.registered
    return f'+QIND: "csq",{20 if registered else 99},99'


class UrcTicker:
    """Emits ``csq_urc`` every ``every`` seconds until ``cancel()``."""

    def __init__(self, module: Module, every: float, slot: int = 0) -> None:
        if not every > 0:
            raise ValueError("urc_every must be > 0 seconds")
        self._module = module
        self._every = every
        self._phase = every * (slot % PHASES) / PHASES
        self._tick = 0
        self._handle: TimerHandle | None = None
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self) -> UrcTicker:
        """Schedule the first tick (one period from now at most)."""
        now = time.monotonic()
        self._tick = math.floor((now - self._phase) / self._every) + 1
        self._schedule()
        return self

    def _schedule(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            when = self._tick * self._every + self._phase
            self._handle = shared().scheduler.call_at(when, self._fire)

    def _fire(self) -> None:
        module = self._module
        if module.closed:
            return
        if not module.booting and any(ch.port.connected for ch in module.urc_targets()):
            module.emit_urc(csq_urc(module))
        # A late tick (busy pool) skips the ones it missed rather than bursting.
        now = time.monotonic()
        self._tick = max(self._tick + 1, math.floor((now - self._phase) / self._every) + 1)
        self._schedule()

    def cancel(self) -> None:
        """Stop ticking."""
        with self._lock:
            self._cancelled = True
            if self._handle is not None:
                self._handle.cancel()
