"""lpwa for asyncio: the same procedures as :class:`lpwa.Modem`, awaited.

``AsyncModem.open(url)`` drives one module without a thread (where the port has
a file descriptor); :class:`Fleet` drives many from one event loop with bounded
concurrency, per-module health and one merged URC stream.
"""

from __future__ import annotations

from lpwa.aio.channel import AsyncATChannel, AsyncCommandStream, AsyncUrcWaiter
from lpwa.aio.fleet import Fleet, ModuleHealth
from lpwa.aio.modem import AsyncLease, AsyncModem
from lpwa.at.core import Reply, Urc

__all__ = [
    "AsyncATChannel",
    "AsyncCommandStream",
    "AsyncLease",
    "AsyncModem",
    "AsyncUrcWaiter",
    "Fleet",
    "ModuleHealth",
    "Reply",
    "Urc",
]
