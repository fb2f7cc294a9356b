"""The asyncio shell itself: no thread per module, cancellation, URCs, reboots,
timeouts and concurrent tasks, against the simulator over real sockets.

(The protocol tests that run through both shells are the SHELLS modules; these
are what only an event loop can show.)
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

import pytest

from fakemodule import Body, FakeModule
from lpwa.aio import AsyncATChannel, AsyncModem
from lpwa.aio.transport import AsyncTransport
from lpwa.errors import ATTimeout, ModuleRebooted
from lpwa.sim import Simulator
from servers import pattern_bytes


def lpwa_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("lpwa-")]


def test_modules_cost_no_thread(make_sim: Callable[..., Simulator]) -> None:
    sims = [make_sim() for _ in range(12)]

    async def main() -> list[str]:
        modems = [await AsyncModem.open(sim.url) for sim in sims]
        try:
            statuses = await asyncio.gather(*(m.network.sim_status() for m in modems))
            assert statuses == ["READY"] * len(modems)
            return lpwa_threads()
        finally:
            for m in modems:
                await m.close()

    assert asyncio.run(main()) == []


def test_cancelled_download_leaves_the_module_usable(sim: Simulator) -> None:
    data = pattern_bytes(300_000)

    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            await m.files.upload("big.bin", data)
            started = asyncio.Event()
            m.channel.on_trace = lambda way, kind, _: started.set() if kind == "body" else None
            task = asyncio.create_task(m.files.download("big.bin"))
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            m.channel.on_trace = None
            # The rest of the body never becomes events; the next command
            # brings the channel back in step first.
            assert await m.network.sim_status() == "READY"
            assert await m.files.download("big.bin") == data

    asyncio.run(main())


def test_urcs_come_in_order_and_claimed_ones_stay_claimed(sim: Simulator) -> None:
    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            waiter = m.channel.claim("+QIURC")
            for i in range(5):
                sim.module.emit_urc(f'+QIND: "csq",{i},99')
            sim.module.emit_urc('+QIURC: "pdpdeact",1')
            sim.module.emit_urc('+QIND: "csq",9,99')
            got = []
            async for urc in m.urcs():
                got.append(urc.text)
                if len(got) == 6:
                    break
            assert got == [f'+QIND: "csq",{i},99' for i in (0, 1, 2, 3, 4, 9)]
            assert (await waiter.wait(5)).fields == ["pdpdeact", "1"]
            waiter.cancel()

    asyncio.run(main())


def test_reboot_mid_command_raises_and_the_session_comes_back(sim: Simulator) -> None:
    data = pattern_bytes(30_000)

    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            await m.files.upload("big.bin", data)
            await m.network.activate(1)
            sim.faults.reboot_on("AT+QFDWL")
            with pytest.raises(ModuleRebooted):
                await m.files.download("big.bin")
            assert sim.wait_booted(10)
            # Set up again (ATE0, CMEE) before the next command; the UFS survives.
            assert await m.files.download("big.bin") == data
            assert m.health().reboots == 1
            assert (await m.network.status()) == []  # the reboot dropped the context

    asyncio.run(main())


def test_concurrent_tasks_never_get_each_others_answers(sim: Simulator) -> None:
    contents = {f"f{i}.bin": pattern_bytes(5000 + 997 * i) for i in range(4)}

    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            for name, data in contents.items():
                await m.files.upload(name, data)

            async def reader(name: str) -> None:
                for _ in range(5):
                    assert await m.files.download(name) == contents[name]
                    assert await m.network.sim_status() == "READY"

            await asyncio.wait_for(asyncio.gather(*(reader(n) for n in contents)), 120)

    asyncio.run(main())


def test_a_silent_module_times_out_with_the_sync_shells_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        async def main() -> None:
            channel = await AsyncATChannel.open(f"socket://127.0.0.1:{port}")
            try:
                with pytest.raises(ATTimeout):
                    await channel.command("AT", timeout=0.3)
            finally:
                await channel.close()

        asyncio.run(main())


def test_ports_without_a_descriptor_use_a_reader_thread() -> None:
    # loop:// echoes what is written; it has no fileno(), like rfc2217://.
    async def main() -> bytes:
        transport = AsyncTransport("loop://")
        sent = bytes(range(256)) * 39 + b"0123456789"
        got = bytearray()
        done = asyncio.Event()

        def on_data(data: bytes) -> None:
            got.extend(data)
            if len(got) >= len(sent):
                done.set()

        transport.start(asyncio.get_running_loop(), on_data, lambda exc: None)
        try:
            await transport.write(sent)
            await asyncio.wait_for(done.wait(), 10)
        finally:
            transport.close()
        return bytes(got)

    assert asyncio.run(main()) == bytes(range(256)) * 39 + b"0123456789"


# -- the asyncio channel against tests/fakemodule.py (shares no code with lpwa) ---------------

ICCID = b"\r\n+QCCID: 89860000000000000001\r\n\r\nOK\r\n"
IMEI = b"\r\n867698040000001\r\n\r\nOK\r\n"


def test_a_late_answer_never_answers_the_next_command_on_the_loop() -> None:
    fake = FakeModule()
    fake.answers["AT+QCCID"] = lambda _: ICCID
    fake.answers["AT+CGSN"] = lambda _: IMEI
    fake.delays["AT+QCCID"] = 0.8

    async def main() -> None:
        ch = await AsyncATChannel.open(fake.url)
        try:
            await ch.command("ATE0")
            with pytest.raises(ATTimeout):
                await ch.command("AT+QCCID", timeout=0.2)
            assert (await ch.command("AT+CGSN")).lines == ("867698040000001",)
            assert fake.echo is False  # the session's echo setting is restored
        finally:
            await ch.close()

    try:
        asyncio.run(main())
    finally:
        fake.close()


def test_a_cancelled_body_leaves_data_mode_and_becomes_no_event() -> None:
    body = (b"x" * 200 + b'\r\n+QIURC: "pdpdeact",1\r\n\r\nRDY\r\n') * 40
    fake = FakeModule()
    fake.bodies["AT+QHTTPREAD"] = Body(body, gap=0.1)
    fake.answers["AT+CGSN"] = lambda _: IMEI

    async def main() -> None:
        ch = await AsyncATChannel.open(fake.url)
        try:
            await ch.command("ATE0")
            stream = ch.stream(
                "AT+QHTTPREAD=60", timeout=None, idle_timeout=62, body_length=len(body)
            )
            task = asyncio.create_task(stream.pull())
            assert await task  # the first chunk
            task = asyncio.create_task(stream.pull())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await ch.command("AT+CGSN")).lines == ("867698040000001",)
            assert fake.escapes == 1  # left data mode with +++
            assert ch.reboots == 0 and ch.urcs.empty()  # no body byte became a URC
        finally:
            await ch.close()

    try:
        asyncio.run(main())
    finally:
        fake.close()


def test_a_reboot_inside_a_body_is_proven_by_a_probe_on_the_loop() -> None:
    body = bytes(range(256)) * 64
    fake = FakeModule()
    fake.bodies["AT+QHTTPREAD"] = Body(body, reboot_at=5000)
    fake.answers["AT+CGSN"] = lambda _: IMEI

    async def main() -> None:
        ch = await AsyncATChannel.open(fake.url)
        try:
            await ch.command("ATE0")
            with pytest.raises(ModuleRebooted):
                await ch.command(
                    "AT+QHTTPREAD=60", timeout=None, idle_timeout=60, body_length=len(body)
                )
            assert ch.reboots == 1
            names = []
            while not ch.urcs.empty():
                names.append(ch.urcs.get_nowait().text)
            assert names == ["RDY", "+CFUN: 1", "+CPIN: READY"]
            assert (await ch.command("AT+CGSN")).lines == ("867698040000001",)
        finally:
            await ch.close()

    try:
        asyncio.run(main())
    finally:
        fake.close()
