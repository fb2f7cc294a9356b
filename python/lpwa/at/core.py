"""The AT channel's logic, free of I/O: routing, one command, resynchronisation.

:class:`ChannelCore` holds what a channel knows (the tokenizer, the command in
flight, URC waiters and subscribers, whether the stream may be out of step)
and routes every tokenizer event. :func:`command_ops` (one command, its body
and the probe of a stalled body) and :func:`resync_ops` (proving where the
module's stream stands) are generators that yield the operations they need —
:class:`Send` bytes, :class:`Receive` the next event within some seconds,
:class:`Pause` — and hand body chunks up as :class:`Chunk`. Two thin shells
perform them: :class:`lpwa.at.ATChannel` with a reader thread and blocking
queues, :class:`lpwa.aio.AsyncATChannel` on an asyncio event loop.

This module knows the framing of design §2, not what any command means: that is
the Modem's and the protocol modules' business.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypedDict, TypeVar, Union

from lpwa import redact
from lpwa.at.fields import response_fields
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

# How much of a body's end to keep for recognising a reboot inside it.
TAIL = 1024
BOOT = b"\r\nRDY\r\n"

# Resynchronisation (issue 10 item 1). A late answer can look like any answer,
# a bare OK too, so the channel proves where the stream stands with a marker
# only this host can produce: a command line carrying a random nonce, whose
# echo (with echo on) comes back only once the module has read it, after every
# earlier answer. AT+QFLST with a pattern no file has lists nothing and
# changes nothing (FILE AT commands; the simulator's QFLST does the same).
RESYNC_ATTEMPTS = 4
# How long to wait for a marker's echo; a module answers AT+QFLST at once.
MARKER_WAIT = 1.5
# HTTP note 1.3: no input for 1 s before "+++", none for 1 s after.
GUARD = 1.0
# A body that stalls this long right after bytes shaped like RDY or a trailer
# is probed: a module that left data mode echoes the probe, a stalled server
# cannot (items 2, 11).
PROBE_AFTER = 2.0


def _marker() -> str:
    return f'AT+QFLST="lpwa-sync-{secrets.token_hex(8)}"'


# E<n> among basic commands (V1, Q0, S3=13 …): the echo setting.
_ECHO = re.compile(r"E([01]?)(?![\d=?])")

# Where a body's bytes look like the module's own end of it: RDY, or a trailer.
_SUSPECT = (BOOT, b"\r\n+QHTTPREAD: ", b"\r\n+CME ERROR: ")
_TRAILER = re.compile(rb"\r\n\+(?:QHTTPREAD|CME ERROR): (\d{1,6})\r\n")


# -- what a channel hands out ----------------------------------------------------------


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


Item = Union[Event, BaseException]


class Mailbox(Protocol):
    """Where routed items wait for their reader: a ``queue.SimpleQueue`` in the
    sync shell, an ``asyncio.Queue`` in the asyncio one (routing only puts)."""

    def put_nowait(self, item: Any) -> None: ...

    def get_nowait(self) -> Any: ...

    def empty(self) -> bool: ...


@dataclass(frozen=True, eq=False)
class Subscriber:
    callback: Callable[[Urc], None]
    match: Callable[[Urc], bool] | None
    claim: bool


class Pending:
    """The command in flight: its events, in order."""

    def __init__(self, command: str, events: Mailbox) -> None:
        self.command = command
        self.events = events


def _final_queued(pending: Pending) -> bool:
    """Whether a final code waits unread in ``pending`` (drains the mailbox)."""
    found = False
    while not pending.events.empty():
        item = pending.events.get_nowait()
        if isinstance(item, Event) and item.kind == "final":
            found = True
    return found


class UrcWaiter:
    """Claims the URCs that match while it is registered; see ``ChannelCore.claim``.

    The shell that made it knows how to wait on its mailbox
    (:meth:`lpwa.at.ATChannel` waiters have a blocking ``wait``).
    """

    def __init__(
        self, core: ChannelCore[Any], match: Callable[[Urc], bool], items: Mailbox
    ) -> None:
        self._core = core
        self.match = match
        self._items = items
        self.invalid = False
        """Whether it is also offered unframeable lines (``Urc.invalid``)."""

    def _deliver(self, item: Urc | BaseException) -> None:
        self._items.put_nowait(item)

    def cancel(self) -> None:
        """Stop claiming URCs; later matches go to the queue again."""
        self._core._remove_waiter(self)


def urc_match(match: Callable[[Urc], bool] | str) -> Callable[[Urc], bool]:
    """A predicate from a predicate or a ``+NAME``."""
    if isinstance(match, str):
        name = match
        return lambda urc: urc.name == name
    return match


# -- the operations the procedures below yield -------------------------------------------


@dataclass(frozen=True)
class Send:
    """Write ``data`` (``what``: "command" or "data", for traces)."""

    data: bytes
    what: str = "command"


@dataclass(frozen=True)
class Receive:
    """The next item of ``mailbox`` within ``seconds``, or None."""

    mailbox: Mailbox
    seconds: float


@dataclass(frozen=True)
class Pause:
    """Let ``seconds`` pass (the guard times around ``+++``)."""

    seconds: float


@dataclass(frozen=True)
class Chunk:
    """A body chunk for whoever reads the command's body."""

    data: bytes


Op = Union[Send, Receive, Pause, Chunk]
Ops = Generator[Op, Any, Any]


class _BodyProbe:
    """Asks the module of a stalled body whether it left data mode (items 2, 11).

    First a nonce marker alone: echoed with the session's echo off, the module
    lost its settings, so it rebooted. Then ``ATE1`` and a second marker: echoed,
    the module is in command mode, so the read ended early. Neither: the module
    is still in data mode, its server merely slow; then the body goes on.
    """

    def __init__(self) -> None:
        self.markers: list[bytes] = []
        self.stage = 0

    def quiet(self, tail: bytes) -> float | None:
        if self.stage >= 4 or not any(s in tail for s in _SUSPECT):
            return None
        # Each line waits for silence after the last: a module may drop a line
        # that comes before the previous one's answer.
        return (PROBE_AFTER, MARKER_WAIT, 0.5, MARKER_WAIT)[self.stage]

    def next_write(self) -> bytes:
        self.stage += 1
        if self.stage in (1, 3):
            self.markers.append(_marker().encode("ascii") + b"\r")
            return self.markers[-1]
        if self.stage == 2:
            return b"ATE1\r"
        return b""

    def verdict(self, tail: bytes, *, echo_was_off: bool) -> str | None:
        if not self.markers:
            return None
        if self.markers[0] in tail:
            return "rebooted" if echo_was_off or BOOT in tail else "ended"
        if len(self.markers) > 1 and self.markers[1] in tail:
            return "ended"
        return None


# -- the core ---------------------------------------------------------------------------------


W = TypeVar("W", bound=UrcWaiter)


class ChannelCore(ABC, Generic[W]):
    """A channel's state and routing, shared by the sync and asyncio shells.

    ``mailbox`` makes the queues routed items go to; ``_dispatch`` hands a URC
    to the subscribers' callbacks (in order, never on the routing path);
    ``waiter`` makes the shell's kind of :class:`UrcWaiter` (``W``).
    """

    def __init__(
        self,
        name: str,
        tokenizer: Tokenizer | None,
        mailbox: Callable[[], Mailbox],
        urcs: Mailbox,
        waiter: type[W],
    ) -> None:
        self._waiter_type = waiter
        self.name = name
        self._tok = tokenizer or Tokenizer()
        # Bodies come out in chunks as they arrive: progress, iter_content and
        # writing to files need no second copy, and a body never has to fit the
        # tokenizer's max_body at once.
        self._tok.stream_bodies = True
        self._tok_lock = threading.Lock()
        self._mailbox = mailbox
        # Re-entrant: a stream dropped without close() is finalised by garbage
        # collection on whatever thread allocates, the reader inside this lock too.
        self._state_lock = threading.RLock()
        self._pending: Pending | None = None
        self._waiters: list[UrcWaiter] = []
        self._subscribers: list[Subscriber] = []
        self._failure: BaseException | None = None
        # Why the stream may be out of step (a command that did not finish);
        # the next command resynchronises first (issue 10 item 1).
        self._desync: str | None = None
        # Dropping the rest of an abandoned body: never routed as events.
        self._discarding = False
        self._discard_ends_at_final = False
        self._discarded = 0
        self._urc_shaped_dropped = 0
        # While resynchronising, every event goes here instead.
        self._sync_events: Mailbox | None = None
        self._sync_keep_urcs = True
        # Whether the module echoes (ATE1 after power-up, design §2), and what
        # the session last asked for (restored after a resync).
        self._echo_on: bool | None = None
        self._echo_wanted: bool | None = None
        self._last_write = 0.0
        self.urcs = urcs
        """URCs that no waiter claimed, in arrival order (drain it, or it grows)."""
        self.reboots = 0
        """How many times the module announced a (re)boot with ``RDY``."""
        self.last_rx = time.monotonic()
        self.last_urc: float | None = None
        """When the last URC came (``time.monotonic()``), for health reports."""
        self.on_trace: Callable[[str, str, bytes], None] | None = None
        """Called with (">", "command" or "data", bytes) for what is written and
        ("<", kind, data) for each event read, kind being the tokenizer's, with
        ``body_end`` for the last piece of a body: for monitors and logs."""

    # -- hooks for the shells -----------------------------------------------------

    @abstractmethod
    def _dispatch(self, urc: Urc | None) -> None:
        """Hand ``urc`` to the subscribers' callbacks later, in order (None: stop)."""

    def _sent(self, data: bytes, what: str) -> None:
        """Bookkeeping of a write the shell just made."""
        if self.on_trace is not None:
            self.on_trace(">", what, data)
        self._last_write = time.monotonic()

    # -- URCs -----------------------------------------------------------------------

    @contextmanager
    def expect_urc(self, match: Callable[[Urc], bool] | str) -> Iterator[W]:
        """Claim matching URCs for the duration of the ``with`` block (the
        waiter's ``wait(timeout)``; awaited in the asyncio shell)."""
        waiter = self.claim(match)
        try:
            yield waiter
        finally:
            self._remove_waiter(waiter)

    def claim(self, match: Callable[[Urc], bool] | str, *, invalid: bool = False) -> W:
        """A waiter that claims the matching URCs until its ``cancel()``.

        Register before sending the command whose URC you await, so that a URC
        arriving at once cannot slip past. ``match`` is a predicate or a name
        (``"+QHTTPGET"``); with ``invalid=True`` it is also offered the lines
        the tokenizer could not frame (an over-long ``+QCOAPRECV`` that answers
        a request). A reboot or a lost link wakes the waiter with an error.
        """
        waiter = self._waiter_type(self, urc_match(match), self._mailbox())
        waiter.invalid = invalid
        with self._state_lock:
            if self._failure is not None:
                raise TransportError(f"{self.name}: {self._failure}")
            self._waiters.append(waiter)
        return waiter

    def _remove_waiter(self, waiter: UrcWaiter) -> None:
        with self._state_lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            # URCs it claimed but nobody took (one that came just after a wait
            # timed out): back to the queue, in order, never dropped.
            while not waiter._items.empty():
                item = waiter._items.get_nowait()
                if isinstance(item, Urc):
                    self.urcs.put_nowait(item)

    def subscribe(
        self,
        callback: Callable[[Urc], None],
        match: Callable[[Urc], bool] | None = None,
        *,
        claim: bool = False,
    ) -> Callable[[], None]:
        """Call ``callback`` with every URC (that ``match`` accepts), in order.

        Callbacks run one at a time, off the routing path (the sync shell's
        dispatcher thread, the asyncio shell's loop); they see URCs that
        waiters claimed too. With ``claim=True`` the URCs ``match`` accepts are
        this subscriber's alone and do not go to the :attr:`urcs` queue.
        Returns a function that unsubscribes.
        """
        entry = Subscriber(callback, match, claim)
        with self._state_lock:
            self._subscribers.append(entry)

        def unsubscribe() -> None:
            with self._state_lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe

    def _call_subscribers(self, urc: Urc) -> None:
        with self._state_lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if sub.match is not None and not sub.match(urc):
                continue
            try:
                sub.callback(urc)
            except Exception:
                log.exception("%s: URC subscriber %r failed", self.name, sub.callback)

    # -- routing ----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the module: tokenize and route every event."""
        self.last_rx = time.monotonic()
        with self._tok_lock:
            events = self._tok.feed(data)
        trace = self.on_trace
        for event in events:
            if trace is not None:
                end = event.kind == "body" and not event.more
                trace("<", "body_end" if end else event.kind, event.data)
            self._route(event)

    def _route(self, event: Event) -> None:
        kind = event.kind
        with self._state_lock:
            sync = self._sync_events
            pending = self._pending
            discarding = self._discarding
        if sync is not None:
            if self._sync_keep_urcs and (kind == "urc" or kind == "invalid"):
                self._on_urc(event)
            else:
                sync.put_nowait(event)
            return
        if discarding:
            # The rest of an abandoned body: network bytes, never events.
            self._discarded += len(event.data)
            if kind == "final" and self._discard_ends_at_final:
                # The module's own trailer where the length put it: in step.
                self._discarding = False
                self._desync = None
                log.debug("%s: dropped %d bytes of an abandoned body", self.name, self._discarded)
                self._discarded = 0
            return
        if kind == "urc" or kind == "invalid":
            self._on_urc(event)
            return
        if pending is not None:
            pending.events.put_nowait(event)
        elif kind != "echo":
            # A late answer to a command that did not finish: the next command
            # resynchronises, so it can never be taken for that one's answer.
            self._desync = self._desync or "a late answer"
            log.debug(
                "%s: %s with no command in flight: %s",
                self.name,
                kind,
                redact.response("", event.data.decode("utf-8", "replace")),
            )

    def _on_urc(self, event: Event) -> None:
        self.last_urc = time.monotonic()
        text = event.data.decode("utf-8", "replace")
        invalid = event.kind == "invalid"
        urc = Urc(event.name or text, text, event.payload, invalid)
        if invalid:
            log.warning("%s: unframeable bytes from the module: %r", self.name, event.data)
        else:
            log.debug("%s << URC %r", self.name, text)
        claimed = False
        with self._state_lock:
            claimant = next(
                (w for w in self._waiters if (w.invalid or not invalid) and w.match(urc)), None
            )
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
            self.urcs.put_nowait(urc)
        self._dispatch(urc)

    def _on_reboot(self, spare: UrcWaiter | None) -> None:
        """``RDY``: the module rebooted; nothing in flight will ever finish.

        Every waiter learns it, but ``spare``, the one that waits for RDY itself.
        """
        self.reboots += 1
        # The tokenizer itself dropped the command in flight at RDY and keeps
        # the bytes after it (item 4). The module's settings are the defaults.
        self._echo_on = True
        rebooted = ModuleRebooted(f"{self.name}: the module rebooted (RDY)")
        if self._pending is not None:
            self._pending.events.put_nowait(rebooted)
        for waiter in self._waiters:
            if waiter is not spare:
                waiter._deliver(rebooted)

    def _fail(self, exc: BaseException) -> None:
        """The link is gone: every waiting reader learns it."""
        with self._state_lock:
            if self._failure is None:
                self._failure = exc
            if self._pending is not None:
                self._pending.events.put_nowait(exc)
            if self._sync_events is not None:
                self._sync_events.put_nowait(exc)
            for waiter in self._waiters:
                waiter._deliver(exc)
        self._dispatch(None)

    @property
    def closed(self) -> bool:
        """Whether the link failed or was closed (every command then raises TransportError)."""
        return self._failure is not None

    # -- bits the procedures share ------------------------------------------------------

    def _note_echo(self, command: str) -> None:
        """Track the echo setting from the commands that change it (``ATE0``,
        ``ATE1``, ``ATE``, also among other basic commands: ``ATV1E0``)."""
        basic = re.split(r"[+&;]", command.upper().replace(" ", "")[2:], maxsplit=1)[0]
        found = _ECHO.findall(basic) if command.upper().startswith("AT") else []
        if found:
            self._echo_on = self._echo_wanted = found[-1] == "1"

    def _declare(self, raw: bytes, **options: Any) -> None:
        with self._tok_lock:
            self._tok.sent(raw, **options)

    @staticmethod
    def _final_error(command: str, text: str, code: int | None) -> LpwaError:
        if text.startswith("+CME ERROR") and code is not None:
            return cme_error(command, code)
        if text.startswith("+CMS ERROR") and code is not None:
            return CMSError(command, code)
        return CommandError(command, text)

    def _probe_answered(
        self, command: str, tail: bytes, probe: _BodyProbe, verdict: str
    ) -> LpwaError:
        """A probe's echo came back inside a body: the module is in command mode.

        ``"rebooted"``: the first marker was echoed with the session's echo off,
        so the module lost its settings. The bytes from its last RDY before the
        echo are its boot URCs: route them. ``"ended"``: the read ended short of
        its length; the last trailer before the echo is the module's own (no
        network byte can follow it), and gives the error.
        """
        marker = probe.markers[0] if verdict == "rebooted" else probe.markers[1]
        before = tail[: tail.rfind(marker)]
        with self._tok_lock:
            self._tok.reset()
        # The probe's own answers are still to come: the next command resyncs.
        self._desync = "a probe answered during a body"
        self._echo_on = True
        if verdict == "rebooted":
            # Parsed apart from the live tokenizer, which the reader goes on
            # feeding: the module's boot URCs, from its last RDY on.
            rdy = before.rfind(BOOT)
            events = Tokenizer().feed(before[rdy:]) if rdy >= 0 else []
            for event in events:
                self._route(event)
            return ModuleRebooted(f"{self.name}: the module rebooted during {command!r}")
        found = list(_TRAILER.finditer(before))
        code = int(found[-1].group(1)) if found else 0
        if code:
            return self._final_error(command, f"+CME ERROR: {code}", code)
        return ProtocolError(f"{command!r}: the module ended the read before its announced length")


# -- one command ------------------------------------------------------------------------------


class CommandOptions(TypedDict, total=False):
    """How to run one command (both shells' ``command`` and ``stream``).

    ``data`` is written after ``CONNECT`` or the ``> `` prompt (followed by
    ``data_terminator``, e.g. Ctrl-Z). ``timeout`` bounds the whole command,
    ``idle_timeout`` the silence between two received bytes (the spec's
    ``<wait_time>``): either may be None. ``body_length`` frames a QHTTPREAD
    body by length; ``response_header`` says the module sends its head first.
    """

    timeout: float | None
    data: bytes | None
    data_terminator: bytes
    idle_timeout: float | None
    body_length: int | None
    response_header: bool


_DEFAULT_OPTIONS: dict[str, Any] = {
    "timeout": DEFAULT_TIMEOUT,
    "data": None,
    "data_terminator": b"",
    "idle_timeout": None,
    "body_length": None,
    "response_header": False,
}


class CommandState:
    """What a command in progress has shown so far (its stream's attributes)."""

    def __init__(self, line: str, options: Mapping[str, Any]) -> None:
        unknown = set(options) - set(_DEFAULT_OPTIONS)
        if unknown:
            raise TypeError(f"unexpected command options: {', '.join(sorted(unknown))}")
        self.command = line
        self.options = {**_DEFAULT_OPTIONS, **options}
        self.reply: Reply | None = None
        self.body_seen = False
        self.body_done = False
        self.body_code: int | None = None
        self._kept: list[bytes] | None = None

    def collect(self, on_body: Callable[[bytes], None] | None) -> Callable[[bytes], None]:
        """Where a whole command's body chunks go: ``on_body``, else into
        :meth:`result`'s ``Reply.body``."""
        if on_body is not None:
            return on_body
        self._kept = []
        return self._kept.append

    def result(self) -> Reply:
        """The finished command's Reply (with the body :meth:`collect` kept)."""
        reply = self.reply
        assert reply is not None  # a command that ends without raising has its reply
        if self._kept is not None and self.body_seen:
            reply = replace(reply, body=b"".join(self._kept))
        return reply


def _next(
    core: ChannelCore[Any],
    pending: Pending,
    deadline: float | None,
    idle: float | None,
    start: float,
    quiet: float | None = None,
) -> Generator[Op, Any, Item | None]:
    """The next event for ``pending``; None once the module was silent for
    ``quiet`` seconds (when given); ATTimeout past ``deadline`` or ``idle``."""
    while True:
        now = time.monotonic()
        wait = 0.5 if deadline is None else min(0.5, deadline - now)
        if idle is not None:
            wait = min(wait, max(0.0, max(core.last_rx, start) + idle - now))
        if quiet is not None:
            wait = min(wait, max(0.0, max(core.last_rx, start) + quiet - now))
        item = yield Receive(pending.events, max(wait, 0.0))
        if item is not None:
            return item  # type: ignore[no-any-return]
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            raise ATTimeout(pending.command, deadline - start)
        if idle is not None and now - max(core.last_rx, start) >= idle:
            raise ATTimeout(pending.command, idle, "module silent for the wait time")
        if quiet is not None and now - max(core.last_rx, start) >= quiet:
            return None


def command_ops(core: ChannelCore[Any], state: CommandState) -> Ops:
    """Run one command (the shell holds the command lock): resync first if the
    stream may be out of step, write it, route its answer, hand its body up as
    :class:`Chunk` s and set ``state.reply``; or raise its error."""
    if core._desync is not None:
        yield from resync_ops(core)
    opts = state.options
    raw = state.command.encode("ascii") + b"\r"
    pending = Pending(state.command, core._mailbox())
    with core._state_lock:
        if core._failure is not None:
            raise TransportError(f"{core.name}: {core._failure}")
        core._pending = pending
    start = time.monotonic()
    timeout: float | None = opts["timeout"]
    deadline = None if timeout is None else start + timeout
    idle: float | None = opts["idle_timeout"]
    connected = False
    finished = False
    tail = b""
    probe = _BodyProbe()
    since = start
    # Whether the end the tokenizer finds is the module's own: anything
    # but a QHTTPREAD body framed by searching for its trailer.
    trusted = not (
        state.command.upper().startswith("AT+QHTTPREAD=")
        and opts["body_length"] is None
        and not opts["response_header"]
    )
    try:
        core._declare(raw, body_length=opts["body_length"], response_header=opts["response_header"])
        log.debug("%s >> %s", core.name, redact.command(state.command))
        yield Send(raw, "command")
        lines: list[str] = []
        connect_code: int | None = None
        data: bytes | None = opts["data"]
        while True:
            quiet = probe.quiet(tail) if state.body_seen else None
            item = yield from _next(core, pending, deadline, idle, since, quiet)
            if item is None:
                # A body stalled right after bytes shaped like RDY or a
                # trailer: ask the module itself where it stands. A
                # server can send those bytes; it cannot echo our nonce.
                out = probe.next_write()
                if out:
                    # (The body's bytes are not logged: they may hold secrets.)
                    log.debug("%s: body stalled after RDY/trailer-like bytes; probing", core.name)
                    yield Send(out, "command")
                    since = time.monotonic()
                    # A module still in data mode may answer the probe
                    # after the read: the next command resyncs first.
                    core._desync = "a probe during a body"
                continue
            if isinstance(item, BaseException):
                raise item
            kind = item.kind
            if kind == "line":
                lines.append(item.data.decode("utf-8", "replace"))
            elif kind == "body":
                state.body_seen = True
                if not item.more:
                    state.body_done = True
                    state.body_code = item.code
                if item.data:
                    tail = (tail + item.data)[-TAIL:]
                    verdict = probe.verdict(tail, echo_was_off=core._echo_on is False)
                    if verdict is not None:
                        finished = True  # the module is in command mode
                        raise core._probe_answered(state.command, tail, probe, verdict)
                    yield Chunk(item.data)
            elif kind == "connect" or kind == "prompt":
                connected = True
                if kind == "connect":
                    connect_code = item.code
                if data is not None:
                    out = data + opts["data_terminator"]
                    data = None
                    if out:
                        log.debug("%s >> %s", core.name, redact.data(state.command, out))
                        yield Send(out, "data")
            elif kind == "final":
                text = item.data.decode("utf-8", "replace")
                finished = True
                if text != "OK" and text != "SEND OK":
                    raise core._final_error(state.command, text, item.code)
                state.reply = Reply(
                    state.command, tuple(lines), text, None, state.body_code, connect_code
                )
                core._note_echo(state.command)
                return
            # "echo": nothing to do; the tokenizer already used it.
    except ModuleRebooted:
        finished = True
        raise
    finally:
        with core._state_lock:
            core._pending = None
            if not finished and _final_queued(pending):
                # The module's final came but nobody read it (a stream
                # closed right after its last chunk): in step.
                finished = trusted
            if not finished and core._desync is None:
                # Timed out, rebooted, failed or abandoned mid-way (a
                # closed stream, Ctrl-C, a cancelled task): a late answer may
                # follow, so the next command resynchronises first. No I/O
                # here: this may run in a finaliser.
                core._desync = f"{state.command!r} did not finish"
                # (Even when the tokenizer saw the body end: without a
                # length, that end may be the server's forgery.)
                if state.body_seen or (connected and opts["data"] is None):
                    # The rest of a body: dropped quietly until then,
                    # never routed as URCs (issue 10 items 2, 10).
                    core._discarding = True
                    # A body framed by length (or by QFDWL's own size)
                    # ends where the module's trailer must be: from its
                    # final on the stream is in step again.
                    core._discard_ends_at_final = trusted
                    log.debug("%s: %r abandoned mid-body", core.name, state.command)


# -- resynchronisation ---------------------------------------------------------------------


def resync_ops(core: ChannelCore[Any]) -> Ops:
    """With the command lock held: discard everything up to the echo of a
    marker only this host can know, leaving data mode first if needed."""
    reason = core._desync
    escape = core._discarding
    events = core._mailbox()
    with core._state_lock:
        if core._failure is not None:
            raise TransportError(f"{core.name}: {core._failure}")
        core._sync_events = events
    dropped = 0
    began = time.monotonic()
    try:
        for attempt in range(RESYNC_ATTEMPTS):
            if attempt >= 2 and core.last_rx < began:
                # Not one byte in two attempts, "+++" included: nobody there.
                raise ATTimeout("resync", time.monotonic() - began, "the module is silent")
            with core._state_lock:
                # Bytes after data mode may be the network's: then nothing
                # before the echo is routed, URC-shaped or not. In line mode
                # the module's URCs are its own and go on as usual.
                core._sync_keep_urcs = not escape
            if escape:
                yield from _escape_data_mode(core)
                with core._tok_lock:
                    core._tok.reset()
            # With echo believed off, the first try after an abandoned body
            # sends the marker alone: an echo then means the module lost its
            # settings, i.e. it rebooted and its RDY went with the body.
            detect = attempt == 0 and escape and core._echo_on is False
            if not detect and not (attempt == 0 and core._echo_on):
                yield Send(b"ATE1\r")
                dropped += yield from _drain_events(core, events, 0.3)
            marker = _marker()
            raw = marker.encode("ascii") + b"\r"
            core._declare(raw)
            yield Send(raw)
            found, n = yield from _await_echo(core, events, marker)
            dropped += n
            if found:
                if detect:
                    log.info("%s: the module lost its settings: it rebooted", core.name)
                    with core._state_lock:
                        core._on_reboot(spare=None)
                core._echo_on = True
                break
            # Alternate: a module in data mode needs "+++"; one in command
            # mode reads it as a line, which "\r" then ends.
            escape = not escape
        else:
            raise ATTimeout("resync", RESYNC_ATTEMPTS * MARKER_WAIT, "no echo of the marker")
        core._discarding = False
        core._desync = None
        if core._echo_wanted is False:
            # In step now: the next final is this command's own.
            core._declare(b"ATE0\r")
            yield Send(b"ATE0\r")
            if not (yield from _await_final(core, events)):
                core._desync = "ATE0 unanswered"
                raise ATTimeout("ATE0", MARKER_WAIT, "after a resync")
            core._echo_on = False
    finally:
        with core._state_lock:
            core._sync_events = None
    if dropped or core._discarded:
        log.debug(
            "%s: resynchronised after %s; dropped %d events and %d body bytes",
            core.name,
            reason,
            dropped,
            core._discarded,
        )
    if core._urc_shaped_dropped:
        # After data mode these may be the module's held URCs or the body's
        # bytes: they cannot be told apart, so none is delivered; say so.
        log.warning(
            "%s: %d URC-shaped lines dropped while leaving data mode (the module's "
            "held URCs cannot be told from body bytes there)",
            core.name,
            core._urc_shaped_dropped,
        )
    core._discarded = 0
    core._urc_shaped_dropped = 0


def _next_sync_event(
    core: ChannelCore[Any], events: Mailbox, end: float
) -> Generator[Op, Any, Event | None]:
    """A resync's next event before ``end``, else None (a lost link raises;
    URC-shaped ones are counted, since a resync drops them)."""
    while True:
        item = yield Receive(events, max(0.0, end - time.monotonic()))
        if item is None:
            if time.monotonic() >= end:
                return None
            continue
        if isinstance(item, TransportError):
            raise item
        if isinstance(item, Event):
            if item.kind == "urc":
                core._urc_shaped_dropped += 1
            return item


def _drain_events(
    core: ChannelCore[Any], events: Mailbox, seconds: float
) -> Generator[Op, Any, int]:
    end = time.monotonic() + seconds
    count = 0
    while (yield from _next_sync_event(core, events, end)) is not None:
        count += 1
    return count


def _await_final(core: ChannelCore[Any], events: Mailbox) -> Generator[Op, Any, bool]:
    """Whether a final code comes within MARKER_WAIT (returns at the first)."""
    end = time.monotonic() + MARKER_WAIT
    while (event := (yield from _next_sync_event(core, events, end))) is not None:
        if event.kind == "final":
            return True
    return False


def _await_echo(
    core: ChannelCore[Any], events: Mailbox, marker: str
) -> Generator[Op, Any, tuple[bool, int]]:
    """Wait for the marker's echo, then its final code; (found, events dropped).

    An echo whose final does not come is no proof: that final would arrive
    late, as the next command's answer.
    """
    want = marker.encode("ascii")
    dropped = 0
    end = time.monotonic() + MARKER_WAIT
    while (event := (yield from _next_sync_event(core, events, end))) is not None:
        if event.kind == "echo" and event.data == want:
            return (yield from _await_final(core, events)), dropped
        dropped += 1
    return False, dropped


def _escape_data_mode(core: ChannelCore[Any]) -> Ops:
    """``+++`` as HTTP note 1.3 asks (no input for 1 s before and after),
    then ``\r`` to end it as a line should the module be in command mode."""
    # A little over each guard time: the module measures them too.
    quiet = core._last_write + GUARD * 1.2 - time.monotonic()
    if quiet > 0:
        yield Pause(quiet)
    yield Send(b"+++")
    yield Pause(GUARD * 1.2)
    yield Send(b"\r")
