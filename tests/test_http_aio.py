"""``await m.http.…`` of the asyncio shell: the same HTTP procedures as the sync
shell, driven by AsyncModem. Bodies byte-exact (by length and through the UFS),
streamed bodies through ``aiter_content``, a task cancelled mid-body leaving the
module usable, a stream's lease against other tasks, and the typed error when a
response is read through the other shell's methods. Simulator over a real socket,
real HTTP servers on 127.0.0.1; ``asyncio.run`` (no pytest-asyncio)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

import pytest

from lpwa import errors
from lpwa.aio import AsyncModem
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import HTTPTestServer, oklines, pattern_bytes


def run(sim: Simulator, body: Callable[[AsyncModem], Awaitable[None]]) -> None:
    """Open an AsyncModem on ``sim``, bring PDP context 1 up and run ``body``."""

    async def main() -> None:
        async with AsyncModem.open(sim.url) as m:
            await m.network.activate(1, apn="internet")
            await body(m)

    asyncio.run(main())


async def temp_files(m: AsyncModem) -> list[str]:
    return [f.name for f in await m.files.list("*") if "lpwa-" in f.name]


def test_get_and_post_bodies_are_byte_exact(sim: Simulator, http_server: HTTPTestServer) -> None:
    async def body(m: AsyncModem) -> None:
        known = await m.http.get(http_server.url("/bytes/5000"))
        assert known.status_code == 200
        assert known.content == pattern_bytes(5000)
        assert known.headers["Content-Length"] == "5000"
        # No Content-Length: read back through a UFS file, then deleted.
        chunked = await m.http.get(http_server.url("/chunked/3000"))
        assert chunked.content_length is None
        assert chunked.content == pattern_bytes(3000)
        assert chunked.headers["Transfer-Encoding"] == "chunked"
        data = pattern_bytes(4321, seed=7)
        echoed = await m.http.post(http_server.url("/echo"), data)
        assert echoed.content == data
        assert await echoed.aread() == data  # read already: the same bytes
        assert await temp_files(m) == []

    run(sim, body)


def test_streamed_get_through_aiter_content(sim: Simulator, http_server: HTTPTestServer) -> None:
    seen: list[tuple[int, int | None]] = []

    async def body(m: AsyncModem) -> None:
        url = http_server.url("/bytes/50000")
        progress = seen.append
        async with await m.http.get(
            url, stream=True, on_progress=lambda n, t: progress((n, t))
        ) as r:
            pieces = [piece async for piece in r.aiter_content(777)]
        assert b"".join(pieces) == pattern_bytes(50000)
        assert all(len(p) == 777 for p in pieces[:-1])
        assert r.headers["Content-Length"] == "50000"
        assert seen[-1] == (50000, 50000)
        async with await m.http.get(http_server.url("/chunked/20000"), stream=True) as r:
            pieces = [piece async for piece in r.aiter_content(1000)]
        assert b"".join(pieces) == pattern_bytes(20000)
        assert await temp_files(m) == []

    run(sim, body)


def test_streamed_lines_and_save(sim: Simulator, http_server: HTTPTestServer) -> None:
    async def body(m: AsyncModem) -> None:
        r = await m.http.get(http_server.url("/oklines/50"), stream=True)
        lines = [line async for line in r.aiter_lines(chunk_size=7)]
        assert lines == oklines(50).splitlines()
        r = await m.http.get(http_server.url("/bytes/5000"), stream=True)
        await m.http.read_file("body.bin", r)
        assert await m.files.download("body.bin") == pattern_bytes(5000)
        assert r.headers["Content-Length"] == "5000"
        assert await temp_files(m) == []

    run(sim, body)


def test_a_task_cancelled_mid_body_leaves_the_module_usable(
    sim: Simulator, http_server: HTTPTestServer
) -> None:
    async def body(m: AsyncModem) -> None:
        # A streamed body: the task is cancelled after its first piece; the
        # end of its `async with` gives the module back.
        started = asyncio.Event()

        async def reader(url: str) -> None:
            async with await m.http.get(url, stream=True) as r:
                async for _ in r.aiter_content(100):
                    started.set()
                    await asyncio.sleep(3600)

        for url in (http_server.url("/bytes/200000"), http_server.url("/chunked/60000")):
            started.clear()
            task = asyncio.create_task(reader(url))
            await asyncio.wait_for(started.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            del task
            got = await m.http.get(http_server.url("/bytes/321"))
            assert got.content == pattern_bytes(321)

        # A body read inside the request: cancelled while its bytes arrive.
        in_body = asyncio.Event()
        m.channel.on_trace = lambda way, kind, _: in_body.set() if kind == "body" else None
        task2 = asyncio.create_task(m.http.get(http_server.url("/bytes/300000")))
        await asyncio.wait_for(in_body.wait(), 30)
        task2.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task2
        m.channel.on_trace = None
        again = await m.http.get(http_server.url("/bytes/4000"))
        assert again.content == pattern_bytes(4000)
        assert await temp_files(m) == []

    run(sim, body)


def test_an_abandoned_stream_is_released_by_garbage_collection(
    sim: Simulator, http_server: HTTPTestServer
) -> None:
    async def body(m: AsyncModem) -> None:
        for url in (http_server.url("/bytes/50000"), http_server.url("/chunked/40000")):

            async def abandon(url: str = url) -> None:
                r = await m.http.get(url, stream=True)
                pieces = r.aiter_content(100)
                assert len(await pieces.__anext__()) == 100
                await pieces.aclose()  # stops iterating; the response stays open

            await abandon()
            gc.collect()
            got = await m.http.get(http_server.url("/bytes/10"))
            assert got.content == pattern_bytes(10)
        assert await temp_files(m) == []

    run(sim, body)


def test_an_open_stream_holds_the_module_until_read(
    sim: Simulator, http_server: HTTPTestServer
) -> None:
    async def body(m: AsyncModem) -> None:
        r = await m.http.get(http_server.url("/bytes/2000"), stream=True)
        # This task opened it: a second request here could only wait on itself.
        with pytest.raises(errors.ModemBusy):
            await m.http.get(http_server.url("/bytes/10"))
        sent: list[bytes] = []
        m.channel.on_trace = lambda way, kind, data: sent.append(data) if way == ">" else None
        other = asyncio.create_task(m.http.get(http_server.url("/bytes/77")))
        for _ in range(20):  # let the other task run as far as it can
            await asyncio.sleep(0)
        assert sent == []  # it waits for the stream, having written nothing
        assert not other.done()
        m.channel.on_trace = None
        assert await r.aread() == pattern_bytes(2000)  # reading to the end releases it
        assert (await asyncio.wait_for(other, 30)).content == pattern_bytes(77)

    run(sim, body)


def test_the_other_shells_body_methods_are_a_typed_error(
    sim: Simulator, make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    async def body(m: AsyncModem) -> None:
        r = await m.http.get(http_server.url("/bytes/3000"), stream=True)
        with pytest.raises(errors.ParameterError, match="asyncio shell"):
            _ = r.content
        with pytest.raises(errors.ParameterError, match="asyncio shell"):
            next(r.iter_content(10))
        with pytest.raises(errors.ParameterError, match="asyncio shell"):
            r.close()
        assert await r.aread() == pattern_bytes(3000)  # still unread, still readable
        assert r.content == pattern_bytes(3000)  # read: any shell may look

    run(sim, body)

    with Modem.open(make_sim().url) as modem:
        modem.network.activate(1, apn="internet")
        response = modem.http.get(http_server.url("/bytes/3000"), stream=True)

        async def wrong() -> bytes:
            return await response.aread()

        with pytest.raises(errors.ParameterError, match="sync shell"):
            asyncio.run(wrong())
        assert response.content == pattern_bytes(3000)
