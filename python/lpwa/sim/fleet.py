"""``SimulatorFleet``: many simulated modules served from one process.

    from lpwa.sim import SimulatorFleet

    with SimulatorFleet(200, time_scale=0.05, urc_every=1.0) as fleet:
        for url in fleet.urls:                 # socket://127.0.0.1:<port> each
            ...
        fleet.simulators[3].reboot()           # the Simulator API, per module

Each module is a full ``Simulator`` with its own listening socket and no pty
(``pty=True`` opts back in). They all share the process's I/O core
(``lpwa.sim.reactor``): one reader thread, one timer thread and a worker pool
that runs a module's commands only while it has input, so an idle module
costs a few sockets and its state, no thread (issue 13).
"""

from __future__ import annotations

import contextlib
import resource
from types import TracebackType
from typing import Any

from lpwa.sim.simulator import Simulator

__all__ = ["SimulatorFleet"]

FLEET_TRANSCRIPT_SIZE = 200
"""Transcript chunks kept per module unless ``transcript_size`` says otherwise
(a single Simulator keeps 10000, which a thousand modules cannot afford)."""

DESCRIPTORS_PER_MODULE = 3
"""Listening socket, a host's connection, and one to spare (HTTP, CoAP)."""


class SimulatorFleet:
    """``count`` simulated modules; ``Simulator`` options apply to each.

    ``urc_every`` (None = off): seconds between each module's
    ``+QIND: "csq"`` URCs (``lpwa.sim.ticker``). ``port`` is refused (every
    module listens on its own free port).
    Start with ``start()`` or ``with``; ``close()`` stops them all.
    """

    def __init__(
        self,
        count: int,
        *,
        pty: bool = False,
        transcript_size: int = FLEET_TRANSCRIPT_SIZE,
        urc_every: float | None = None,
        **simulator_options: Any,
    ) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a whole number >= 1")
        if simulator_options.get("port"):
            raise ValueError("a fleet picks a free port per module: do not pass port")
        simulator_options.pop("port", None)
        self.simulators: list[Simulator] = [
            Simulator(
                pty=pty, transcript_size=transcript_size, urc_every=urc_every, **simulator_options
            )
            for _ in range(count)
        ]
        self._started = False

    def start(self) -> SimulatorFleet:
        """Open every module's ports; returns self. On failure none stay open."""
        if self._started:
            return self
        self._started = True
        _raise_descriptor_limit(DESCRIPTORS_PER_MODULE * len(self.simulators) + 64)
        try:
            for sim in self.simulators:
                sim.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every module (idempotent)."""
        for sim in self.simulators:
            sim.close()

    def __enter__(self) -> SimulatorFleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return len(self.simulators)

    @property
    def urls(self) -> list[str]:
        """``socket://127.0.0.1:<port>`` of each module, in ``simulators`` order."""
        return [sim.url for sim in self.simulators]

    @property
    def firmware(self) -> str:
        """The modules' full revision (they all run the same)."""
        return self.simulators[0].firmware


def _raise_descriptor_limit(needed: int) -> None:
    """Lift the soft RLIMIT_NOFILE towards the hard one when a fleet needs more
    descriptors than the default 1024 (a process-wide change, so only upward and
    only when needed; a failure leaves accept() to report EMFILE)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
