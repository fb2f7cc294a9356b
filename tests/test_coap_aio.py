"""``AsyncModem.coap``: the CoAP procedures driven by the asyncio shell, on one event loop.

The simulator's CoAP clients talk UDP to a real aiocoap server (``coap_server``)
on 127.0.0.1. The protocol tests also run through both shells (``SHELLS`` in
test_coap_client.py); these show what only an event loop can: requests from
concurrent tasks, cancellation, handlers on the loop, typed errors awaited.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from lpwa.aio import AsyncModem
from lpwa.coap import Code, Message, Type
from lpwa.coap.client import CoAPClient
from lpwa.errors import CoAPTimeout, LpwaError, ModuleRebooted
from lpwa.sim import Simulator
from servers import CoAPTestServer


def test_get_post_put_delete_round_trip_through_async_with(
    sim: Simulator, coap_server: CoAPTestServer
) -> None:
    async def main() -> list[tuple[Code, Type, bytes]]:
        async with AsyncModem.open(sim.url) as m:
            client = m.coap.client(0)
            assert isinstance(client, CoAPClient) and m.coap.client(0) is client
            got = []
            async with await client.open("127.0.0.1", coap_server.port):
                assert client.is_open
                for response in (
                    await client.get("hello", token=b"\x01\x02"),
                    await client.post("echo", b"\x00post\r\n", confirmable=False),
                    await client.put("echo", "put"),
                    await client.delete("item"),
                ):
                    got.append((response.code, response.type, response.payload))
                assert (await client.get("hello", token=b"\x01\x02")).token == b"\x01\x02"
            assert not client.is_open  # async with closed it
            return got

    assert asyncio.run(main()) == [
        (Code.CONTENT, Type.ACK, b"Hello, CoAP!"),
        (Code.CHANGED, Type.NON, b"\x00post\r\n"),  # aiocoap answers a NON with a NON
        (Code.CREATED, Type.ACK, b"put"),
        (Code.DELETED, Type.ACK, b""),
    ]
    assert b"AT+QCOAPCLOSE=0" in sim.transcript_bytes("in")


def test_requests_of_several_clients_from_concurrent_tasks_get_their_own_answers(
    sim: Simulator, coap_server: CoAPTestServer
) -> None:
    async def one_client(m: AsyncModem, cid: int) -> list[tuple[bytes, bytes, bytes]]:
        client = m.coap.client(cid)
        out = []
        for i in range(6):
            token = bytes([cid, i])
            body = f"client {cid} request {i}".encode()
            response = await client.post("echo", body, token=token, confirmable=i % 2 == 0)
            out.append((token, response.token, response.payload))
        return out

    async def main() -> list[list[tuple[bytes, bytes, bytes]]]:
        async with AsyncModem.open(sim.url) as m:
            clients = [m.coap.client(cid) for cid in (0, 1, 2)]
            for client in clients:
                await client.open("127.0.0.1", coap_server.port)
            try:
                return await asyncio.gather(*(one_client(m, c.client_id) for c in clients))
            finally:
                for client in clients:
                    await client.close()

    results = asyncio.run(main())
    for cid, answers in zip((0, 1, 2), results):
        assert len(answers) == 6
        for i, (sent, got, payload) in enumerate(answers):
            assert got == sent
            assert payload == f"client {cid} request {i}".encode()


def test_requests_on_two_modules_run_in_one_loop(
    make_sim: Callable[..., Simulator], coap_server: CoAPTestServer
) -> None:
    sims = [make_sim(), make_sim()]

    async def on(sim: Simulator) -> list[bytes]:
        async with AsyncModem.open(sim.url) as m:
            client = await m.coap.client(0).open("127.0.0.1", coap_server.port)
            async with client:
                return [(await client.get("hello")).payload for _ in range(3)]

    async def main() -> list[list[bytes]]:
        return await asyncio.gather(*(on(sim) for sim in sims))

    assert asyncio.run(main()) == [[b"Hello, CoAP!"] * 3] * 2


def test_unanswered_requests_raise_the_same_typed_timeout_as_sync(
    sim: Simulator, silent_udp_port: int
) -> None:
    async def main() -> tuple[CoAPTimeout, CoAPTimeout, list[int]]:
        async with AsyncModem.open(sim.url) as m:
            client = m.coap.client(0)
            await client.configure(ack_timeout=2, retries=4)  # 2 s * 31, scaled by 0.05
            async with await client.open("127.0.0.1", silent_udp_port):
                with pytest.raises(CoAPTimeout) as non:
                    await client.get("x", confirmable=False, timeout=0.3)
                with pytest.raises(CoAPTimeout) as con:
                    await client.get("x")
                return non.value, con.value, [r.retry_times for r in client.retransmissions]

    non, con, retries = asyncio.run(main())
    assert "no answer" in str(non)
    assert "4 retransmissions" in str(con)
    assert retries == [1, 2, 3, 4]


def test_cancelled_request_leaves_the_client_and_module_usable(
    sim: Simulator, coap_server: CoAPTestServer, silent_udp_port: int
) -> None:
    async def main() -> tuple[bytes, bytes]:
        async with AsyncModem.open(sim.url) as m:
            silent = await m.coap.client(0).open("127.0.0.1", silent_udp_port)
            served = await m.coap.client(1).open("127.0.0.1", coap_server.port)
            sent = asyncio.Event()
            m.channel.on_trace = lambda way, kind, data: (
                sent.set() if data.startswith(b"AT+QCOAPSEND=0") else None
            )
            task = asyncio.create_task(silent.get("x", confirmable=False, timeout=30))
            await asyncio.wait_for(sent.wait(), 10)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            m.channel.on_trace = None
            # The module is free again and the cancelled exchange is gone: the
            # next request on that client is its own, and times out as its own.
            first = (await served.get("hello")).payload
            with pytest.raises(CoAPTimeout):
                await silent.get("x", confirmable=False, timeout=0.2)
            await silent.close()
            second = (await served.post("echo", b"after")).payload
            await served.close()
            return first, second

    assert asyncio.run(main()) == (b"Hello, CoAP!", b"after")


def test_late_answer_reaches_on_message_on_the_loop_which_may_start_a_request_task(
    sim: Simulator, coap_server: CoAPTestServer
) -> None:
    async def main() -> tuple[Message, Message, bool, bytes, bool]:
        async with AsyncModem.open(sim.url) as m:
            client = await m.coap.client(0).open("127.0.0.1", coap_server.port)
            loop = asyncio.get_running_loop()
            handled: list[Message] = []
            on_loop: list[bool] = []
            followups: list[asyncio.Task[Message]] = []
            seen = asyncio.Event()

            def handler(message: Message) -> None:
                on_loop.append(threading.current_thread() is loop_thread)
                handled.append(message)
                # A request cannot be waited for here, but a task may make one.
                followups.append(loop.create_task(client.get("hello")))
                seen.set()

            loop_thread = threading.current_thread()
            client.on_message = handler
            with pytest.raises(CoAPTimeout):
                await client.get("separate", token=b"\x1a\x7e", timeout=0.2)
            await asyncio.wait_for(seen.wait(), 5)
            followup = (await asyncio.wait_for(followups[0], 30)).payload
            late = client.incoming.get_nowait()
            drained = client.incoming.empty()
            await client.close()
            return late, handled[0], all(on_loop), followup, drained

    late, handled, on_loop, followup, drained = asyncio.run(main())
    assert (late.code, late.token, late.payload) == (Code.CONTENT, b"\x1a\x7e", b"late")
    assert handled is late
    assert on_loop
    assert followup == b"Hello, CoAP!"
    assert drained


def test_reboot_during_a_request_raises_module_rebooted_then_the_client_says_so(
    sim: Simulator, silent_udp_port: int
) -> None:
    async def main() -> tuple[BaseException, BaseException]:
        async with AsyncModem.open(sim.url) as m:
            client = await m.coap.client(0).open("127.0.0.1", silent_udp_port)
            timer = threading.Timer(0.2, sim.reboot)
            timer.start()
            try:
                with pytest.raises(ModuleRebooted) as during:
                    await client.get("x", confirmable=False, timeout=10)
            finally:
                timer.join()
            with pytest.raises(LpwaError) as after:
                await client.get("x")
            await client.close()  # nothing left to close
            return during.value, after.value

    during, after = asyncio.run(main())
    assert isinstance(during, ModuleRebooted)
    assert "not open (the module rebooted)" in str(after)


def test_with_on_an_asyncio_client_is_refused(sim: Simulator) -> None:
    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            client = m.coap.client(0)
            with pytest.raises(TypeError, match="async with"), client:  # type: ignore[misc]
                pass

    asyncio.run(main())
