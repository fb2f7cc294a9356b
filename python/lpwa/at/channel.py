"""The AT channel: commands one at a time over a Transport, URCs to whoever listens.

One reader thread feeds every byte from the module to the Rust tokenizer and routes
its events: the in-flight command's echo, lines, CONNECT, prompt, body and final
code to the caller waiting in :meth:`ATChannel.command`; URCs to waiters
(:meth:`ATChannel.expect_urc`), to subscribers (a dispatcher thread calls them in
order, so a callback may itself run commands) and, when no waiter claimed them, to
the :attr:`ATChannel.urcs` queue. A URC is never dropped.

This module knows the framing of design §2, not what any command means: that is
the Modem's and the protocol modules' business.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Union

import serial

from lpwa.at.fields import response_fields, split_fields
from lpwa.at.transport import Transport
from lpwa.errors import (
    ATTimeout,
    CMSError,
    CommandError,
    LpwaError,
    ModuleRebooted,
    ProtocolError,
    TransportError,
    cme_error,
)
from lpwa.tokenizer import Event, Tokenizer

log = logging.getLogger("lpwa.at")

# Most AT commands answer within 300 ms (the notes' "Maximum Response Time");
# a little slack for slow UARTs and busy hosts.
DEFAULT_TIMEOUT = 5.0

# Ctrl-Z ends prompt input whose length was not given (CoAP note 3.3.6).
CTRL_Z = b"\x1a"
# How much of a body's end to keep for recognising a reboot inside it.
TAIL = 1024
BOOT = b"\r\nRDY\r\n"


@dataclass(frozen=True)
class Urc:
    """An unsolicited result code: ``+QHTTPGET: 0,200,547256``, ``RDY``, …

    ``name`` is the ``+NAME`` prefix, or the whole text of a bare URC such as
    ``RDY``. ``payload`` is the binary data that follows a length-prefixed URC
    (``+QCOAPRECV``). ``invalid`` marks bytes the tokenizer could not frame
    (over-long or garbled lines): reported like URCs so nothing is lost silently.
    """

    name: str
    text: str
    payload: bytes | None = None
    invalid: bool = False

    @property
    def fields(self) -> list[str]:
        """The comma-separated parameters after ``NAME:`` (quotes removed)."""
        if self.text.startswith(self.name + ":"):
            return response_fields(self.text, self.name)
        return []


@dataclass(frozen=True)
class Reply:
    """What a command produced, its final code being ``OK`` (or another success)."""

    command: str
    lines: tuple[str, ...] = ()
    final: str = "OK"
    body: bytes | None = None
    body_code: int | None = None
    connect_code: int | None = None

    def fields(self, name: str) -> list[str]:
        """The parameters of the first information line starting with ``name:``."""
        for line in self.lines:
            if line.startswith(name + ":"):
                return response_fields(line, name)
        raise ProtocolError(f"{self.command!r}: no {name} line in {self.lines!r}")

    def all_fields(self, name: str) -> list[list[str]]:
        """The parameters of every information line starting with ``name:``."""
        return [response_fields(ln, name) for ln in self.lines if ln.startswith(name + ":")]


_Item = Union[Event, BaseException]


@dataclass(frozen=True, eq=False)
class _Subscriber:
    callback: Callable[[Urc], None]
    match: Callable[[Urc], bool] | None
    claim: bool


@dataclass
class _Pending:
    command: str
    events: queue.SimpleQueue[_Item] = field(default_factory=queue.SimpleQueue)


class UrcWaiter:
    """Claims the URCs that match while it is registered; see ATChannel.expect_urc."""

    def __init__(self, channel: ATChannel, match: Callable[[Urc], bool]) -> None:
        self._channel = channel
        self.match = match
        self._items: queue.SimpleQueue[Urc | BaseException] = queue.SimpleQueue()

    def _deliver(self, item: Urc | BaseException) -> None:
        self._items.put(item)

    def wait(self, timeout: float | None) -> Urc:
        """The next matching URC; ATTimeout if none comes within ``timeout`` s."""
        try:
            item = self._items.get(timeout=timeout)
        except queue.Empty:
            raise ATTimeout("URC", timeout or 0.0, "no matching URC arrived") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> None:
        """Stop claiming URCs; later matches go to the queue again."""
        self._channel._remove_waiter(self)


class CommandStream:
    """One command in progress; iterate for its body chunks (see ATChannel.stream)."""

    def __init__(self, channel: ATChannel, line: str, **options: Any) -> None:
        self._channel = channel
        self.command = line
        self._options = options
        self.reply: Reply | None = None
        self.body_seen = False
        self.body_code: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        ch = self._channel
        opts = self._options
        raw = self.command.encode("ascii") + b"\r"
        with ch._cmd_lock:
            pending = _Pending(self.command)
            with ch._state_lock:
                if ch._failure is not None:
                    raise TransportError(f"{ch.name}: {ch._failure}")
                ch._pending = pending
            start = time.monotonic()
            timeout: float | None = opts["timeout"]
            deadline = None if timeout is None else start + timeout
            idle: float | None = opts["idle_timeout"]
            connected = False
            tail = b""
            try:
                with ch._tok_lock:
                    ch._tok.sent(
                        raw,
                        body_length=opts["body_length"],
                        response_header=opts["response_header"],
                    )
                log.debug("%s >> %r", ch.name, raw)
                if ch.on_trace is not None:
                    ch.on_trace(">", "command", raw)
                ch.transport.write(raw)
                lines: list[str] = []
                connect_code: int | None = None
                data: bytes | None = opts["data"]
                while True:
                    item = ch._next(pending, deadline, idle, start)
                    if isinstance(item, BaseException):
                        raise item
                    kind = item.kind
                    if kind == "line":
                        lines.append(item.data.decode("utf-8", "replace"))
                    elif kind == "body":
                        self.body_seen = True
                        if not item.more:
                            self.body_code = item.code
                        if item.data:
                            tail = (tail + item.data)[-TAIL:]
                            yield item.data
                    elif kind == "connect" or kind == "prompt":
                        connected = True
                        if kind == "connect":
                            connect_code = item.code
                        if data is not None:
                            out = data + opts["data_terminator"]
                            data = None
                            if out:
                                log.debug("%s >> %d data bytes", ch.name, len(out))
                                if ch.on_trace is not None:
                                    ch.on_trace(">", "data", out)
                                ch.transport.write(out)
                    elif kind == "final":
                        text = item.data.decode("utf-8", "replace")
                        if text != "OK" and text != "SEND OK":
                            raise ch._final_error(self.command, text, item.code)
                        self.reply = Reply(
                            self.command,
                            tuple(lines),
                            text,
                            None,
                            self.body_code,
                            connect_code,
                        )
                        return
                    # "echo": nothing to do; the tokenizer already used it.
            except GeneratorExit:
                # Abandoned early: read up to the final code so that the next
                # command does not receive this one's tail.
                self._drain(pending, deadline, idle, start)
                raise
            except ATTimeout as exc:
                if connected and ch._resync(tail):
                    raise ModuleRebooted(
                        f"{ch.name}: the module rebooted during {self.command!r}"
                    ) from exc
                raise
            finally:
                with ch._state_lock:
                    ch._pending = None

    def _drain(
        self, pending: _Pending, deadline: float | None, idle: float | None, start: float
    ) -> None:
        try:
            while True:
                item = self._channel._next(pending, deadline, idle, start)
                if isinstance(item, BaseException) or item.kind == "final":
                    return
        except LpwaError as exc:
            log.warning("%s: could not drain %r: %s", self._channel.name, self.command, exc)


class ATChannel:
    """An AT command channel to one module.

    >>> with ATChannel.open("socket://127.0.0.1:7000") as ch:    # doctest: +SKIP
    ...     ch.command("AT+CPIN?").fields("+CPIN")
    ['READY']
    """

    def __init__(
        self, transport: Transport, *, tokenizer: Tokenizer | None = None, name: str = ""
    ) -> None:
        self.transport = transport
        self.name = name or transport.name
        self._tok = tokenizer or Tokenizer()
        # Bodies come out in chunks as they arrive: progress, iter_content and
        # writing to files need no second copy, and a body never has to fit the
        # tokenizer's max_body at once.
        self._tok.stream_bodies = True
        self._tok_lock = threading.Lock()
        self._cmd_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._pending: _Pending | None = None
        self._waiters: list[UrcWaiter] = []
        self._subscribers: list[_Subscriber] = []
        self._dispatch: queue.SimpleQueue[Urc | None] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self.urcs: queue.Queue[Urc] = queue.Queue()
        """URCs that no waiter claimed, in arrival order (drain it, or it grows)."""
        self.reboots = 0
        """How many times the module announced a (re)boot with ``RDY``."""
        self.last_rx = time.monotonic()
        self.on_trace: Callable[[str, str, bytes], None] | None = None
        """Called with (">", "command" or "data", bytes) for what is written and
        ("<", kind, data) for each event read, kind being the tokenizer's, with
        ``body_end`` for the last piece of a body: for monitors and logs."""
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
        timeout: float | None = DEFAULT_TIMEOUT,
        data: bytes | None = None,
        data_terminator: bytes = b"",
        idle_timeout: float | None = None,
        body_length: int | None = None,
        response_header: bool = False,
        on_body: Callable[[bytes], None] | None = None,
    ) -> Reply:
        """Run one command line and return its Reply, or raise its error.

        ``data`` is written after ``CONNECT`` or the ``> `` prompt (followed by
        ``data_terminator``, e.g. Ctrl-Z). ``timeout`` bounds the whole command,
        ``idle_timeout`` the silence between two received bytes (the spec's
        ``<wait_time>``): either may be None. Body chunks go to ``on_body`` when
        given, else into ``Reply.body``.
        """
        stream = self.stream(
            line,
            timeout=timeout,
            data=data,
            data_terminator=data_terminator,
            idle_timeout=idle_timeout,
            body_length=body_length,
            response_header=response_header,
        )
        chunks: list[bytes] = []
        sink = chunks.append if on_body is None else on_body
        for chunk in stream:
            sink(chunk)
        reply = stream.reply
        assert reply is not None  # a stream that ends without raising has its reply
        if on_body is None and stream.body_seen:
            reply = replace(reply, body=b"".join(chunks))
        return reply

    def stream(
        self,
        line: str,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        data: bytes | None = None,
        data_terminator: bytes = b"",
        idle_timeout: float | None = None,
        body_length: int | None = None,
        response_header: bool = False,
    ) -> CommandStream:
        """Like :meth:`command`, but iterating yields the body chunks as they arrive.

        The command is sent when iteration starts and holds the channel until the
        final code; ``stream.reply`` is set then. Closing the iterator early reads
        and discards the rest, so the channel stays in step with the module.
        """
        return CommandStream(
            self,
            line,
            timeout=timeout,
            data=data,
            data_terminator=data_terminator,
            idle_timeout=idle_timeout,
            body_length=body_length,
            response_header=response_header,
        )

    def _next(
        self, pending: _Pending, deadline: float | None, idle: float | None, start: float
    ) -> _Item:
        while True:
            now = time.monotonic()
            wait = 0.5 if deadline is None else min(0.5, deadline - now)
            if idle is not None:
                wait = min(wait, max(0.0, max(self.last_rx, start) + idle - now))
            try:
                return pending.events.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise ATTimeout(pending.command, deadline - start)
            if idle is not None and now - max(self.last_rx, start) >= idle:
                raise ATTimeout(pending.command, idle, "module silent for the wait time")

    @staticmethod
    def _final_error(command: str, text: str, code: int | None) -> LpwaError:
        if text.startswith("+CME ERROR") and code is not None:
            return cme_error(command, code)
        if text.startswith("+CMS ERROR") and code is not None:
            return CMSError(command, code)
        return CommandError(command, text)

    def write_raw(self, data: bytes) -> None:
        """Write bytes outside any command (e.g. ``+++`` to leave data mode)."""
        self.transport.write(data)

    def _resync(self, tail: bytes) -> bool:
        """A data phase went silent: back to line mode, and look for a reboot.

        The module's boot URCs during a body are framed as body bytes (a body may
        contain anything); once the body stalls, a ``RDY`` line in its tail means
        the module restarted. The tail from there is fed again as URCs, so none
        is lost. Returns whether a reboot was found.
        """
        at = tail.rfind(BOOT)
        with self._tok_lock:
            self._tok.reset()
            events = self._tok.feed(tail[at:]) if at >= 0 else []
        for event in events:
            self._route(event)
        return at >= 0

    def on_dispatcher_thread(self) -> bool:
        """Whether the caller is this channel's URC callback thread (it must never
        wait for a procedure: it delivers the answers procedures wait for)."""
        return threading.current_thread() is self._dispatcher

    # -- URCs ---------------------------------------------------------------------

    @contextmanager
    def expect_urc(self, match: Callable[[Urc], bool] | str) -> Iterator[UrcWaiter]:
        """Claim matching URCs for the duration of the ``with`` block.

        Register before sending the command whose URC you await, so that a URC
        arriving at once cannot slip past. ``match`` is a predicate or a name
        (``"+QHTTPGET"``). A reboot or a lost link wakes the waiter with an error.
        """
        predicate: Callable[[Urc], bool]
        if isinstance(match, str):
            name = match
            predicate = lambda urc: urc.name == name  # noqa: E731
        else:
            predicate = match
        waiter = UrcWaiter(self, predicate)
        with self._state_lock:
            if self._failure is not None:
                raise TransportError(f"{self.name}: {self._failure}")
            self._waiters.append(waiter)
        try:
            yield waiter
        finally:
            self._remove_waiter(waiter)

    def _remove_waiter(self, waiter: UrcWaiter) -> None:
        with self._state_lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            # URCs it claimed but nobody took (one that came just after a wait
            # timed out): back to the queue, in order, never dropped.
            while True:
                try:
                    item = waiter._items.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Urc):
                    self.urcs.put(item)

    def subscribe(
        self,
        callback: Callable[[Urc], None],
        match: Callable[[Urc], bool] | None = None,
        *,
        claim: bool = False,
    ) -> Callable[[], None]:
        """Call ``callback`` with every URC (that ``match`` accepts), in order.

        Callbacks run in the channel's dispatcher thread, one at a time, so they
        may run commands themselves; they see URCs that waiters claimed too. With
        ``claim=True`` the URCs ``match`` accepts are this subscriber's alone and
        do not go to the :attr:`urcs` queue. Returns a function that unsubscribes.
        """
        entry = _Subscriber(callback, match, claim)
        with self._state_lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._state_lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    # -- reader side ----------------------------------------------------------

    def _read_loop(self) -> None:
        try:
            while True:
                data = self.transport.read()
                if not data:
                    if self.transport.closed:
                        raise TransportError(f"{self.name}: closed")
                    continue
                self.last_rx = time.monotonic()
                with self._tok_lock:
                    events = self._tok.feed(data)
                trace = self.on_trace
                for event in events:
                    if trace is not None:
                        end = event.kind == "body" and not event.more
                        trace("<", "body_end" if end else event.kind, event.data)
                    self._route(event)
        except TransportError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug must not leave callers waiting forever
            log.exception("%s: reader failed", self.name)
            self._fail(TransportError(f"{self.name}: reader failed: {exc!r}"))

    def _route(self, event: Event) -> None:
        kind = event.kind
        if kind == "urc" or kind == "invalid":
            self._on_urc(event)
            return
        with self._state_lock:
            pending = self._pending
        if pending is not None:
            pending.events.put(event)
        elif kind != "echo":
            # A late answer to a command that already timed out: say so, loudly.
            log.warning("%s: %s with no command in flight: %r", self.name, kind, event.data)

    def _on_urc(self, event: Event) -> None:
        text = event.data.decode("utf-8", "replace")
        invalid = event.kind == "invalid"
        urc = Urc(event.name or text, text, event.payload, invalid)
        if invalid:
            log.warning("%s: unframeable bytes from the module: %r", self.name, event.data)
        else:
            log.debug("%s << URC %r", self.name, text)
        claimed = False
        with self._state_lock:
            claimant = None
            if not invalid:
                claimant = next((w for w in self._waiters if w.match(urc)), None)
            if urc.name == "RDY" and not invalid:
                self._on_reboot(spare=claimant)
            if claimant is not None:
                claimant._deliver(urc)
                claimed = True
            elif not invalid:
                claimed = any(
                    sub.claim and sub.match is not None and sub.match(urc)
                    for sub in self._subscribers
                )
        if not claimed:
            self.urcs.put(urc)
        self._dispatch.put(urc)

    def _on_reboot(self, spare: UrcWaiter | None) -> None:
        """``RDY``: the module rebooted; nothing in flight will ever finish.

        Every waiter learns it, but ``spare``, the one that waits for RDY itself.
        """
        self.reboots += 1
        with self._tok_lock:
            self._tok.reset()
        rebooted = ModuleRebooted(f"{self.name}: the module rebooted (RDY)")
        if self._pending is not None:
            self._pending.events.put(rebooted)
        for waiter in self._waiters:
            if waiter is not spare:
                waiter._deliver(rebooted)

    def _fail(self, exc: BaseException) -> None:
        with self._state_lock:
            if self._failure is None:
                self._failure = exc
            if self._pending is not None:
                self._pending.events.put(exc)
            for waiter in self._waiters:
                waiter._deliver(exc)
        self._dispatch.put(None)

    def _dispatch_loop(self) -> None:
        while True:
            urc = self._dispatch.get()
            if urc is None:
                return
            with self._state_lock:
                subscribers = list(self._subscribers)
            for sub in subscribers:
                if sub.match is not None and not sub.match(urc):
                    continue
                try:
                    sub.callback(urc)
                except Exception:
                    log.exception("%s: URC subscriber %r failed", self.name, sub.callback)

    # -- lifetime -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether the link failed or was closed (every command then raises TransportError)."""
        return self._failure is not None

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
