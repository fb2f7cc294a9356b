"""The AT channel's asyncio shell: the same procedures on an event loop.

Routing, one command and the resynchronisation are :mod:`lpwa.at.core`'s, shared
with the blocking :class:`lpwa.at.ATChannel`; this shell performs their
operations with awaits: bytes arrive through the loop's reader callback
(:class:`~lpwa.aio.transport.AsyncTransport`), every mailbox is a deque with one
future, URC subscribers are called with ``loop.call_soon``, in order.

Cancelling a task mid-command or mid-body leaves the channel as the sync shell
leaves it after a timeout or Ctrl-C: no I/O at that moment, the rest of a body
dropped, and the next command resynchronises first.
"""

from __future__ import annotations

import asyncio
import queue
from collections import deque
from collections.abc import AsyncIterator, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

import serial

from lpwa.aio.transport import AsyncTransport
from lpwa.at.core import (
    ChannelCore,
    Chunk,
    CommandOptions,
    CommandState,
    Op,
    Pause,
    Receive,
    Reply,
    Send,
    Urc,
    UrcWaiter,
    command_ops,
    resync_ops,
)
from lpwa.driving import adrive
from lpwa.errors import ATTimeout, ModemBusy, TransportError
from lpwa.tokenizer import Tokenizer

if TYPE_CHECKING:
    from typing_extensions import Unpack


class MailboxEmpty(asyncio.QueueEmpty, queue.Empty):
    """Nothing waits in the mailbox (caught as either queue module's Empty)."""


class AsyncMailbox:
    """Items in order, for one reader at a time on the loop (routing puts)."""

    __slots__ = ("_items", "_waiter", "forward")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.forward: Callable[[Any], None] | None = None
        """When set, items go to this callable instead of waiting here."""

    def put_nowait(self, item: Any) -> None:
        if self.forward is not None:
            self.forward(item)
            return
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def get_nowait(self) -> Any:
        """The next item; :class:`MailboxEmpty` when there is none."""
        if not self._items:
            raise MailboxEmpty
        return self._items.popleft()

    def empty(self) -> bool:
        return not self._items

    async def get(self, timeout: float | None) -> Any:
        """The next item; None once ``timeout`` s passed without one."""
        if self._items:
            return self._items.popleft()
        if timeout is not None and timeout <= 0:
            return None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()
        return self._items.popleft() if self._items else None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class AsyncUrcWaiter(UrcWaiter):
    """Claims the URCs that match while it is registered (see AsyncATChannel.claim)."""

    _items: AsyncMailbox

    async def wait(self, timeout: float | None) -> Urc:
        """The next matching URC; ATTimeout if none comes within ``timeout`` s."""
        item = await self._items.get(timeout)
        if item is None:
            raise ATTimeout("URC", timeout or 0.0, "no matching URC arrived")
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[no-any-return]


class AsyncCommandStream(CommandState):
    """One command in progress: ``await pull()`` (or ``async for``) gives its body
    chunks; ``reply`` is set once its final code came."""

    def __init__(self, channel: AsyncATChannel, line: str, options: Mapping[str, Any]) -> None:
        super().__init__(line, options)
        self._channel = channel
        self._ops: Generator[Op, Any, Any] | None = None
        self._holding = False
        self._ended = False

    async def pull(self) -> bytes | None:
        """The next body chunk, or None once the command finished. Starts the
        command on the first call."""
        if self._ended:
            return None
        ch = self._channel
        if self._ops is None:
            await self._acquire()
            self._ops = command_ops(ch, self)
        ops = self._ops
        try:
            value: Any = None
            while True:
                op = ops.send(value)
                if isinstance(op, Chunk):
                    return op.data
                value = await ch._perform(op)
        except StopIteration:
            self._finish()
            return None
        except BaseException:
            # A failed command, or a cancelled task: the core's clean-up
            # (no I/O), then the channel is free for the next command.
            self._finish()
            raise

    async def _acquire(self) -> None:
        ch = self._channel
        timeout = self.options["timeout"]
        try:
            await asyncio.wait_for(ch._cmd_lock.acquire(), timeout)
        except asyncio.TimeoutError:
            raise ModemBusy(
                f"{ch.name}: {self.command!r}: the channel is held by another command"
            ) from None
        self._holding = True

    def _finish(self) -> None:
        self._ended = True
        if self._ops is not None:
            self._ops.close()
        if self._holding:
            self._holding = False
            self._channel._cmd_lock.release()

    def close(self) -> None:
        """Abandon the command where it stands (no I/O: the next command brings
        the channel back in step)."""
        if not self._ended:
            self._finish()

    async def aclose(self) -> None:
        """:meth:`close`, awaitable."""
        self.close()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self.pull()) is not None:
                yield chunk
        finally:
            self.close()

    def __del__(self) -> None:
        # Dropped mid-body without close(): free the channel on its loop.
        if self._holding and not self._ended:
            loop = self._channel._loop
            self._ended = True
            if self._ops is not None:
                self._ops.close()
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._channel._cmd_lock.release)


class AsyncATChannel(ChannelCore[AsyncUrcWaiter]):
    """An AT command channel to one module, on the running event loop.

    >>> async with await AsyncATChannel.open("socket://127.0.0.1:7000") as ch:  # doctest: +SKIP
    ...     (await ch.command("AT+CPIN?")).fields("+CPIN")
    ['READY']
    """

    urcs: AsyncMailbox

    def __init__(
        self, transport: AsyncTransport, *, tokenizer: Tokenizer | None = None, name: str = ""
    ) -> None:
        super().__init__(
            name or transport.name, tokenizer, AsyncMailbox, AsyncMailbox(), AsyncUrcWaiter
        )
        self.transport = transport
        self._cmd_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def open(
        cls, port: str | serial.SerialBase, baudrate: int = 115200, **kw: Any
    ) -> AsyncATChannel:
        """Open ``port`` (a pyserial URL, device or pty path) and start reading."""
        channel = cls(AsyncTransport(port, baudrate, **kw))
        channel.start()
        return channel

    def start(self) -> None:
        """Begin reading on the running loop."""
        self._loop = asyncio.get_running_loop()
        self.transport.start(self._loop, self.feed, self._lost)

    def _lost(self, exc: TransportError) -> None:
        self._fail(exc)

    # -- commands ---------------------------------------------------------------

    async def command(
        self,
        line: str,
        *,
        on_body: Callable[[bytes], None] | None = None,
        **options: Unpack[CommandOptions],
    ) -> Reply:
        """Run one command line and return its Reply, or raise its error
        (see :meth:`lpwa.at.ATChannel.command`)."""
        stream = self.stream(line, **options)
        sink = stream.collect(on_body)
        while (chunk := await stream.pull()) is not None:
            sink(chunk)
        return stream.result()

    def stream(self, line: str, **options: Unpack[CommandOptions]) -> AsyncCommandStream:
        """Like :meth:`command`, but ``pull()`` gives the body chunks as they arrive
        (see :meth:`lpwa.at.ATChannel.stream`)."""
        return AsyncCommandStream(self, line, options)

    async def resync(self) -> None:
        """Prove where the module's stream stands (see :meth:`lpwa.at.ATChannel.resync`)."""
        async with self._cmd_lock:
            self._desync = self._desync or "a new session"
            await adrive(resync_ops(self), self._perform)

    async def _perform(self, op: Op) -> Any:
        if isinstance(op, Receive):
            return await op.mailbox.get(op.seconds)  # type: ignore[attr-defined]
        if isinstance(op, Send):
            self._sent(op.data, op.what)
            await self.transport.write(op.data)
            return None
        if isinstance(op, Pause):
            await asyncio.sleep(op.seconds)
            return None
        raise TypeError(f"not a channel operation: {op!r}")

    def on_dispatcher_thread(self) -> bool:
        """Always False: callbacks run on the loop and never wait."""
        return False

    # -- URCs ---------------------------------------------------------------------

    def _dispatch(self, urc: Urc | None) -> None:
        if urc is not None and self._subscribers and self._loop is not None:
            self._loop.call_soon(self._call_subscribers, urc)

    async def next_urc(self, timeout: float | None = None) -> Urc | None:
        """The next URC no waiter claimed; None after ``timeout`` s without one.
        TransportError once the link is gone and the queue is empty."""
        if self.urcs.empty() and self._failure is not None:
            raise TransportError(f"{self.name}: {self._failure}")
        urc: Urc | None = await self.urcs.get(timeout)
        return urc

    # -- lifetime -----------------------------------------------------------------

    def _fail(self, exc: BaseException) -> None:
        super()._fail(exc)
        # Wake an `async for` on the URC queue: it ends with the error.
        waiter = self.urcs._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def close(self) -> None:
        """Close the link. Pending calls get TransportError."""
        self.transport.close()
        if self._failure is None:
            self._fail(TransportError(f"{self.name}: closed"))

    async def __aenter__(self) -> AsyncATChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


__all__ = ["AsyncATChannel", "AsyncCommandStream", "AsyncMailbox", "AsyncUrcWaiter"]
