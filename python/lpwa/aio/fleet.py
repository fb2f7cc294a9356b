"""``Fleet``: many modules driven from one event loop.

For collectors that watch hundreds of modules from one process::

    async with Fleet.open(urls, concurrency=100) as fleet:
        results = await fleet.run(lambda m: m.http.get(url))
        async for name, urc in fleet.urcs():
            ...

Opening and ``run`` go through at most ``concurrency`` modules at a time; a
module that fails (to open, or in ``run``) is reported for that module and never
stops the others. ``health()`` gives each module's reboots, errors by code,
recoveries and last URC time; ``urcs()`` merges the URCs no procedure claimed,
tagged with the module's name, in each module's arrival order.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lpwa.aio.channel import AsyncMailbox
from lpwa.aio.modem import AsyncModem
from lpwa.at.core import Urc

log = logging.getLogger("lpwa.fleet")

T = TypeVar("T")

# Each module holds one descriptor (its port); a thousand of them need more
# than the usual soft limit of 1024.
FDS_PER_MODULE = 1


@dataclass(frozen=True)
class ModuleHealth:
    """One module's state in a fleet."""

    name: str
    open: bool
    """Whether its session is up (opened, and the link not lost)."""
    error: str | None = None
    """Why it failed to open or lost its link, when it did."""
    reboots: int = 0
    errors: Mapping[str, int] = field(default_factory=dict)
    recoveries: Mapping[str, int] = field(default_factory=dict)
    last_urc: float | None = None
    """Seconds since its last URC (None: none yet)."""


def raise_fd_limit(wanted: int) -> None:
    """Raise the soft descriptor limit towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class Fleet:
    """Many modules on one event loop (see the module docstring)."""

    def __init__(self, urls: Iterable[str], *, concurrency: int = 64, **open_options: Any):
        self.urls = list(dict.fromkeys(urls))
        if not self.urls:
            raise ValueError("a fleet needs at least one module URL")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self._options = open_options
        self.modems: dict[str, AsyncModem] = {}
        """The modules whose session is up, by URL."""
        self.failed: dict[str, BaseException] = {}
        """Why a module could not be opened, by URL."""
        self._urcs = AsyncMailbox()

    @classmethod
    def open(
        cls, urls: Iterable[str], *, concurrency: int = 64, **open_options: Any
    ) -> _FleetOpening:
        """``async with Fleet.open(urls) as fleet`` (or ``await``): open every module,
        ``concurrency`` at a time; those that fail are in ``fleet.failed``."""
        return _FleetOpening(cls(urls, concurrency=concurrency, **open_options))

    async def start(self) -> Fleet:
        """Open every module (at most ``concurrency`` at a time)."""
        raise_fd_limit(len(self.urls) * FDS_PER_MODULE + 256)
        gate = asyncio.Semaphore(self.concurrency)

        async def open_one(url: str) -> None:
            async with gate:
                try:
                    modem = await AsyncModem.open(url, **self._options)
                except Exception as exc:
                    log.warning("%s: not opened: %s", url, exc)
                    self.failed[url] = exc
                    return
            self.modems[url] = modem
            self._merge(url, modem)

        try:
            await asyncio.gather(*(open_one(url) for url in self.urls))
        except BaseException:
            await self.close()  # cancelled while opening: nothing left open
            raise
        return self

    def _merge(self, name: str, modem: AsyncModem) -> None:
        # The module's unclaimed URCs go to the fleet's stream, tagged.
        box = modem.channel.urcs
        while not box.empty():
            self._urcs.put_nowait((name, box.get_nowait()))
        box.forward = lambda urc: self._urcs.put_nowait((name, urc))

    async def run(
        self,
        work: Callable[[AsyncModem], Awaitable[T]],
        *,
        concurrency: int | None = None,
    ) -> dict[str, T | BaseException]:
        """``await work(modem)`` for every open module, at most ``concurrency``
        (default the fleet's) at a time; each module's result or exception."""
        gate = asyncio.Semaphore(concurrency or self.concurrency)

        async def one(modem: AsyncModem) -> T | BaseException:
            async with gate:
                try:
                    return await work(modem)
                except Exception as exc:
                    return exc

        names = list(self.modems)
        results = await asyncio.gather(*(one(self.modems[n]) for n in names))
        return dict(zip(names, results))

    async def urcs(self) -> AsyncIterator[tuple[str, Urc]]:
        """Every open module's unclaimed URCs as ``(url, urc)``, as they come
        (iterate it, or it grows: no URC is dropped)."""
        while True:
            item = await self._urcs.get(None)
            if item is not None:
                yield item

    def health(self) -> dict[str, ModuleHealth]:
        """Each module's state, by URL."""
        now = time.monotonic()
        report: dict[str, ModuleHealth] = {}
        for url in self.urls:
            modem = self.modems.get(url)
            if modem is None:
                failure = self.failed.get(url)
                report[url] = ModuleHealth(url, False, None if failure is None else str(failure))
                continue
            counters = modem.health()
            channel = modem.channel
            lost = channel._failure
            report[url] = ModuleHealth(
                url,
                lost is None,
                None if lost is None else str(lost),
                counters.reboots,
                counters.errors,
                counters.recoveries,
                None if channel.last_urc is None else now - channel.last_urc,
            )
        return report

    async def close(self) -> None:
        """Close every module's link (the modules are left as they are)."""
        modems, self.modems = list(self.modems.values()), {}
        await asyncio.gather(*(m.close() for m in modems), return_exceptions=True)

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _FleetOpening(Awaitable[Fleet]):
    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    def __await__(self) -> Generator[Any, None, Fleet]:
        return self._fleet.start().__await__()

    async def __aenter__(self) -> Fleet:
        return await self._fleet.start()

    async def __aexit__(self, *exc: object) -> None:
        await self._fleet.close()


__all__ = ["Fleet", "ModuleHealth"]
