"""``lpwa.aio.Fleet`` against a ``SimulatorFleet`` served from this process:
bounded concurrency, per-module results and health, the merged URC stream, and
one module's trouble never reaching its neighbours."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from lpwa.aio import AsyncModem, Fleet
from lpwa.aio.fleet import raise_fd_limit
from lpwa.errors import ModuleRebooted
from lpwa.modem import Modem
from lpwa.sim import SimulatorFleet
from servers import HTTPTestServer, pattern_bytes

FAST = 0.05


@pytest.fixture
def sims() -> Iterator[SimulatorFleet]:
    with SimulatorFleet(40, time_scale=FAST) as fleet:
        yield fleet


def test_run_reaches_every_module_within_its_concurrency(sims: SimulatorFleet) -> None:
    active = peak = 0

    async def work(m: AsyncModem) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            ctx = await m.network.activate(1, apn="internet")
            await m.files.upload("id.txt", m.name.encode())
            return (await m.files.download("id.txt")).decode() + " " + ctx.address
        finally:
            active -= 1

    async def main() -> dict[str, object]:
        async with Fleet.open(sims.urls, concurrency=8) as fleet:
            assert sorted(fleet.modems) == sorted(sims.urls) and not fleet.failed
            return await fleet.run(work)

    results = asyncio.run(main())
    assert results == {url: f"{url} 10.7.157.1" for url in sims.urls}
    assert 1 < peak <= 8


def test_urcs_are_merged_and_tagged_with_their_module(sims: SimulatorFleet) -> None:
    async def main() -> None:
        async with Fleet.open(sims.urls) as fleet:
            for i, sim in enumerate(sims.simulators):
                sim.module.emit_urc(f'+QIND: "csq",{i % 32},99')
                sim.module.emit_urc('+QIURC: "pdpdeact",1')
            got: dict[str, list[str]] = {url: [] for url in sims.urls}
            stream = fleet.urcs()
            for _ in range(2 * len(sims.urls)):
                url, urc = await asyncio.wait_for(stream.__anext__(), 10)
                got[url].append(urc.text)
            for i, url in enumerate(sims.urls):
                assert got[url] == [f'+QIND: "csq",{i % 32},99', '+QIURC: "pdpdeact",1']
            health = fleet.health()
            assert all(h.open and h.last_urc is not None for h in health.values())

    asyncio.run(main())


def test_a_rebooting_module_does_not_disturb_the_others(sims: SimulatorFleet) -> None:
    data = pattern_bytes(20_000)
    victim = sims.urls[7]
    sims.simulators[7].faults.reboot_on("AT+QFDWL")

    async def work(m: AsyncModem) -> bytes:
        await m.files.upload("d.bin", data)
        return await m.files.download("d.bin")

    async def main() -> None:
        async with Fleet.open(sims.urls, concurrency=40) as fleet:
            results = await fleet.run(work)
            assert isinstance(results.pop(victim), ModuleRebooted)
            assert results == {url: data for url in sims.urls if url != victim}
            health = fleet.health()
            assert health[victim].reboots == 1
            assert all(h.reboots == 0 for url, h in health.items() if url != victim)
            # The victim's session comes back before its next command.
            assert sims.simulators[7].wait_booted(10)
            assert await fleet.modems[victim].files.download("d.bin") == data

    asyncio.run(main())


def test_a_module_that_cannot_be_opened_is_reported_not_raised(sims: SimulatorFleet) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"socket://127.0.0.1:{unused.getsockname()[1]}"  # bound, not listening
        urls = [*sims.urls[:5], dead]

        async def main() -> None:
            async with Fleet.open(urls) as fleet:
                assert sorted(fleet.modems) == sorted(sims.urls[:5])
                assert list(fleet.failed) == [dead]
                health = fleet.health()
                assert not health[dead].open and health[dead].error
                results = await fleet.run(lambda m: m.network.sim_status())
                assert results == dict.fromkeys(sims.urls[:5], "READY")

        asyncio.run(main())


def test_two_hundred_modules_in_one_loop(http_server: HTTPTestServer) -> None:
    """The issue's test: 200 modules on one event loop doing concurrent GETs of
    distinct bodies, each module's URCs reaching that module, and one module
    rebooting in the middle of its body while the others carry on."""
    victim = 123
    # Real module timers: 200 GETs at once through one local server can take
    # longer than a 60 s rsptime scaled by FAST (3 s).
    with SimulatorFleet(200) as sims:
        sims.simulators[victim].faults.reboot_during_read(3000)
        sizes = {url: 5000 + 37 * i for i, url in enumerate(sims.urls)}

        async def work(m: AsyncModem) -> bytes:
            await m.network.activate(1, apn="internet")
            r = await m.http.get(http_server.url(f"/bytes/{sizes[m.name]}"))
            return r.content

        async def main() -> None:
            async with Fleet.open(sims.urls, concurrency=200) as fleet:
                assert len(fleet.modems) == 200 and not fleet.failed
                assert not [t for t in threading.enumerate() if t.name.startswith("lpwa-")]
                for i, sim in enumerate(sims.simulators):
                    sim.module.emit_urc(f'+QIURC: "pdpdeact",{i % 16 + 1}')
                results = await asyncio.wait_for(fleet.run(work), 120)
                failed = results.pop(sims.urls[victim])
                assert isinstance(failed, ModuleRebooted)
                for url, body in results.items():
                    assert body == pattern_bytes(sizes[url]), url
                seen: dict[str, list[str]] = {}
                stream = fleet.urcs()
                while sum(map(len, seen.values())) < 200:
                    url, urc = await asyncio.wait_for(stream.__anext__(), 10)
                    if urc.name == "+QIURC":
                        seen.setdefault(url, []).append(urc.text)
                for i, url in enumerate(sims.urls):
                    assert seen[url] == [f'+QIURC: "pdpdeact",{i % 16 + 1}'], url
                health = fleet.health()
                assert [u for u, h in health.items() if h.reboots] == [sims.urls[victim]]
                # The rebooted module's session comes back for its next request.
                again = await work(fleet.modems[sims.urls[victim]])
                assert again == pattern_bytes(sizes[sims.urls[victim]])

        asyncio.run(main())


def test_ports_past_descriptor_1023_work_in_both_shells(sims: SimulatorFleet) -> None:
    """A collector with a thousand ports has descriptors past select()'s limit
    of 1023: both shells must read and write them (pyserial's own socket://
    reads and writes use select() and fail there)."""
    raise_fd_limit(1400)
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with Modem.open(sims.urls[0]) as modem:
            assert modem.channel.transport._fd is not None
            assert modem.channel.transport._fd > 1023
            modem.files.upload("big.bin", pattern_bytes(200_000))
            assert modem.files.download("big.bin") == pattern_bytes(200_000)

        async def main() -> None:
            async with AsyncModem.open(sims.urls[1]) as m:
                await m.files.upload("big.bin", pattern_bytes(200_000))
                assert await m.files.download("big.bin") == pattern_bytes(200_000)

        asyncio.run(main())
    finally:
        for fd in filler:
            os.close(fd)
