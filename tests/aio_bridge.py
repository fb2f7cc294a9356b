"""Run the sync test suite against the asyncio shell.

``Blocking(AsyncModem)`` is the asyncio shell seen through a blocking view: each
coroutine method is run on an event loop in a helper thread and waited for,
async iterators are pulled one item at a time, and ``Async*`` objects the shell
hands out (facades, clients, channels) are wrapped the same way. It adds no
logic of its own, so a test that passes through it exercises ``lpwa.aio`` — the
procedures, AsyncModem, AsyncATChannel and AsyncTransport — for real. Tests opt
in with ``SHELLS = ("sync", "aio")`` at module level (see conftest.py).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, ClassVar, TypeVar

from lpwa.aio import AsyncModem
from lpwa.http.response import Response
from lpwa.procedure import Api

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            # A blocking wait on the loop's own thread could only hang.
            raise RuntimeError("a blocking call from the event loop's thread (a callback)")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


def _iterate(items: AsyncIterator[Any], runner: LoopThread) -> Iterator[Any]:
    async def step() -> tuple[bool, Any]:
        try:
            return True, await items.__anext__()
        except StopAsyncIteration:
            return False, None

    try:
        while True:
            more, item = runner.call(step())
            if not more:
                return
            yield wrap(item, runner)
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            runner.call(aclose())


def wrap(value: Any, runner: LoopThread) -> Any:
    """``value`` as a blocking caller sees it."""
    if isinstance(value, Blocking):
        return value
    if isinstance(value, Response) and value._asynchronous:
        return BlockingResponse(value, runner)
    if inspect.iscoroutinefunction(value):

        def call(*args: Any, **kwargs: Any) -> Any:
            return wrap(runner.call(value(*args, **kwargs)), runner)

        return call
    if inspect.isasyncgenfunction(value):
        return lambda *args, **kwargs: _iterate(value(*args, **kwargs), runner)
    if isinstance(value, Api) or type(value).__name__.startswith("Async"):
        return Blocking(value, runner)
    if hasattr(value, "__anext__"):
        return _iterate(value, runner)
    if inspect.iscoroutine(value):
        return wrap(runner.call(value), runner)
    if callable(value) and not isinstance(value, type):
        # A function that may return a coroutine (a facade's procedure), an
        # async iterator (read_chunks) or an Async object (coap.client(i)).
        def call_sync(*args: Any, **kwargs: Any) -> Any:
            return wrap(value(*args, **kwargs), runner)

        return call_sync
    return value


class Blocking:
    """A blocking view of an asyncio object (see the module docstring)."""

    def __init__(self, target: Any, runner: LoopThread, owns_loop: bool = False) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_owns_loop", owns_loop)

    def __getattr__(self, name: str) -> Any:
        return wrap(getattr(self._target, name), self._runner)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __iter__(self) -> Iterator[Any]:
        return _iterate(self._target.__aiter__(), self._runner)

    def __enter__(self) -> Any:
        enter = getattr(self._target, "__aenter__", None)
        if enter is not None:
            wrap(self._runner.call(enter()), self._runner)
        return self

    def __exit__(self, *exc: object) -> None:
        leave = getattr(self._target, "__aexit__", None)
        if leave is None:
            self.close()
            return
        self._runner.call(leave(*exc))
        if self._owns_loop:
            self._runner.close()

    def close(self) -> None:
        target = self._target
        aclose = getattr(target, "aclose", None) or getattr(target, "close", None)
        if aclose is not None:
            result = aclose()
            if inspect.iscoroutine(result):
                self._runner.call(result)
        if self._owns_loop:
            self._runner.close()

    def __repr__(self) -> str:
        return f"<Blocking {self._target!r}>"


class BlockingResponse(Blocking):
    """An asyncio shell's Response through its async body methods:
    ``iter_content`` is ``aiter_content``, ``content`` awaits ``aread()``, …"""

    _ASYNC: ClassVar[dict[str, str]] = {
        "iter_content": "aiter_content",
        "iter_lines": "aiter_lines",
        "save": "asave",
        "close": "aclose",
    }
    _READ_FIRST = ("content", "text", "json", "encoding")

    def __getattr__(self, name: str) -> Any:
        target = self._target
        if name in self._ASYNC:
            return wrap(getattr(target, self._ASYNC[name]), self._runner)
        if name in self._READ_FIRST:
            self._runner.call(target.aread())
        if name == "headers":
            return self._runner.call(target.aread_headers())
        return wrap(getattr(target, name), self._runner)

    def __iter__(self) -> Iterator[Any]:
        return _iterate(self._target.aiter_content(), self._runner)


def open_blocking(url: str, **kwargs: Any) -> Any:
    """``AsyncModem.open(url)`` on its own loop thread, seen as a Modem."""
    runner = LoopThread()
    try:

        async def opening() -> AsyncModem:
            return await AsyncModem.open(url, **kwargs)

        modem = runner.call(opening())
    except BaseException:
        runner.close()
        raise
    return Blocking(modem, runner, owns_loop=True)


__all__ = ["Blocking", "LoopThread", "open_blocking", "wrap"]
