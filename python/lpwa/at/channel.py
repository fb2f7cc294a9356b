"""The AT channel's blocking shell: a reader thread, one command at a time.

One reader thread feeds every byte from the module to the Rust tokenizer and
:class:`~lpwa.at.core.ChannelCore` routes its events: the in-flight command's
echo, lines, CONNECT, prompt, body and final code to the caller waiting in
:meth:`ATChannel.command`; URCs to waiters (:meth:`ATChannel.expect_urc`), to
subscribers (a dispatcher thread calls them in order, so a callback may itself
run commands) and, when no waiter claimed them, to the :attr:`ATChannel.urcs`
queue. A URC is never dropped. What a command does on the wire, and the
resynchronisation, are the core's procedures; this shell performs them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

import serial

from lpwa.at.core import (
    ChannelCore,
    Chunk,
    CommandOptions,
    CommandState,
    Item,
    Op,
    Pause,
    Receive,
    Reply,
    Send,
    Urc,
    command_ops,
    log,
    resync_ops,
)
from lpwa.at.core import UrcWaiter as _CoreWaiter
from lpwa.at.fields import split_fields
from lpwa.at.transport import Transport
from lpwa.driving import drive
from lpwa.errors import ATTimeout, ModemBusy, TransportError
from lpwa.tokenizer import Tokenizer

if TYPE_CHECKING:
    from typing_extensions import Unpack

# Ctrl-Z ends prompt input whose length was not given (CoAP note 3.3.6).
CTRL_Z = b"\x1a"


class UrcWaiter(_CoreWaiter):
    """Claims the URCs that match while it is registered; see ATChannel.expect_urc."""

    _items: queue.SimpleQueue[Urc | BaseException]

    def wait(self, timeout: float | None) -> Urc:
        """The next matching URC; ATTimeout if none comes within ``timeout`` s."""
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            raise ATTimeout("URC", timeout or 0.0, "no matching URC arrived") from None
        if isinstance(item, BaseException):
            raise item
        return item


class CommandStream(CommandState):
    """One command in progress; iterate for its body chunks (see ATChannel.stream)."""

    def __init__(self, channel: ATChannel, line: str, options: Mapping[str, Any]) -> None:
        super().__init__(line, options)
        self._channel = channel
        self._chunks: Generator[bytes, None, None] | None = None

    def pull(self) -> bytes | None:
        """The next body chunk, or None once the command finished (``reply``
        is set then). Starts the command on the first call."""
        if self._chunks is None:
            self._chunks = iter(self)
        return next(self._chunks, None)

    def close(self) -> None:
        """Abandon the command where it stands (see :meth:`ATChannel.stream`)."""
        if self._chunks is not None:
            self._chunks.close()

    def __iter__(self) -> Generator[bytes, None, None]:
        ch = self._channel
        # A stream paused mid-body holds the channel: wait for it no longer than
        # this command may take (a URC callback must not hang on it).
        timeout = self.options["timeout"]
        if not ch._cmd_lock.acquire(timeout=-1 if timeout is None else timeout):
            raise ModemBusy(f"{ch.name}: {self.command!r}: the channel is held by another command")
        try:
            ops = command_ops(ch, self)
            try:
                value: Any = None
                while True:
                    op = ops.send(value)
                    if isinstance(op, Chunk):
                        value = None
                        yield op.data
                    else:
                        value = ch._perform(op)
            except StopIteration:
                return
            finally:
                # Abandoned (closed, Ctrl-C) or failed: the core's clean-up,
                # which does no I/O.
                ops.close()
        finally:
            ch._cmd_lock.release()


class ATChannel(ChannelCore[UrcWaiter]):
    """An AT command channel to one module.

    >>> with ATChannel.open("socket://127.0.0.1:7000") as ch:    # doctest: +SKIP
    ...     ch.command("AT+CPIN?").fields("+CPIN")
    ['READY']
    """

    urcs: queue.Queue[Urc]

    def __init__(
        self, transport: Transport, *, tokenizer: Tokenizer | None = None, name: str = ""
    ) -> None:
        super().__init__(
            name or transport.name, tokenizer, queue.SimpleQueue, queue.Queue(), UrcWaiter
        )
        self.transport = transport
        self._cmd_lock = threading.Lock()
        self._dispatch_queue: queue.SimpleQueue[Urc | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read_loop, name=f"lpwa-at-reader {self.name}")
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name=f"lpwa-at-urc {self.name}"
        )
        self._reader.daemon = self._dispatcher.daemon = True
        self._reader.start()
        self._dispatcher.start()

    @classmethod
    def open(cls, port: str | serial.SerialBase, baudrate: int = 115200, **kw: Any) -> ATChannel:
        """Open ``port`` (a pyserial URL, device or pty path) and start reading."""
        return cls(Transport(port, baudrate, **kw))

    # -- commands ---------------------------------------------------------------

    def command(
        self,
        line: str,
        *,
        on_body: Callable[[bytes], None] | None = None,
        **options: Unpack[CommandOptions],
    ) -> Reply:
        """Run one command line and return its Reply, or raise its error.

        ``options`` are :class:`~lpwa.at.core.CommandOptions` (``timeout``,
        ``data`` with ``data_terminator``, ``idle_timeout``, ``body_length``,
        ``response_header``). Body chunks go to ``on_body`` when given, else
        into ``Reply.body``.
        """
        stream = self.stream(line, **options)
        sink = stream.collect(on_body)
        for chunk in stream:
            sink(chunk)
        return stream.result()

    def stream(self, line: str, **options: Unpack[CommandOptions]) -> CommandStream:
        """Like :meth:`command`, but iterating yields the body chunks as they arrive.

        The command is sent when iteration starts and holds the channel until the
        final code; ``stream.reply`` is set then. Closing the iterator early does
        no I/O: the rest of the body is dropped, never routed, and the next
        command brings the channel back in step with the module first.
        """
        return CommandStream(self, line, options)

    def resync(self) -> None:
        """Prove where the module's stream stands before the next command.

        Used when a session starts (the module may be in data mode, or still
        answering a previous program) and by every command after one that did
        not finish. Raises ATTimeout when the module never echoes the marker.
        """
        with self._cmd_lock:
            self._desync = self._desync or "a new session"
            drive(resync_ops(self), self._perform)

    # -- performing the core's operations -------------------------------------------

    def _perform(self, op: Op) -> Any:
        if isinstance(op, Receive):
            try:
                item: Item = op.mailbox.get(timeout=op.seconds)  # type: ignore[attr-defined]
                return item
            except queue.Empty:
                return None
        if isinstance(op, Send):
            self._sent(op.data, op.what)
            self.transport.write(op.data)
            return None
        if isinstance(op, Pause):
            time.sleep(op.seconds)
            return None
        raise TypeError(f"not a channel operation: {op!r}")

    def write_raw(self, data: bytes) -> None:
        """Write bytes outside any command (e.g. ``+++`` to leave data mode)."""
        self.transport.write(data)

    def on_dispatcher_thread(self) -> bool:
        """Whether the caller is this channel's URC callback thread (it must never
        wait for a procedure: it delivers the answers procedures wait for)."""
        return threading.current_thread() is self._dispatcher

    # -- URCs ---------------------------------------------------------------------

    def _dispatch(self, urc: Urc | None) -> None:
        self._dispatch_queue.put(urc)

    # -- reader side ----------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while True:
                data = self.transport.read()
                if not data:
                    if self.transport.closed:
                        raise TransportError(f"{self.name}: closed")
                    continue
                self.feed(data)
        except TransportError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug must not leave callers waiting forever
            log.exception("%s: reader failed", self.name)
            self._fail(TransportError(f"{self.name}: reader failed: {exc!r}"))

    def _dispatch_loop(self) -> None:
        while True:
            urc = self._dispatch_queue.get()
            if urc is None:
                return
            self._call_subscribers(urc)

    # -- lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Stop the threads and close the link. Pending calls get TransportError."""
        self.transport.close()
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)
        if threading.current_thread() is not self._dispatcher:
            self._dispatcher.join(timeout=5)
        self.transport.release()

    def __enter__(self) -> ATChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ATChannel", "CommandStream", "Reply", "Urc", "UrcWaiter", "split_fields"]
