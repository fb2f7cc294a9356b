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
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Union

import serial

from lpwa import redact
from lpwa.at.fields import response_fields, split_fields
from lpwa.at.transport import Transport
from lpwa.errors import (
    ATTimeout,
    CMSError,
    CommandError,
    LpwaError,
    ModemBusy,
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


def _final_queued(pending: _Pending) -> bool:
    """Whether a final code waits unread in ``pending`` (drains the queue)."""
    found = False
    while True:
        try:
            item = pending.events.get_nowait()
        except queue.Empty:
            return found
        if isinstance(item, Event) and item.kind == "final":
            found = True


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
        self.body_done = False
        self.body_code: int | None = None
        self._chunks: Iterator[bytes] | None = None

    def pull(self) -> bytes | None:
        """The next body chunk, or None once the command finished (``reply``
        is set then). Starts the command on the first call."""
        if self._chunks is None:
            self._chunks = iter(self)
        return next(self._chunks, None)

    def close(self) -> None:
        """Abandon the command where it stands (see :meth:`ATChannel.stream`)."""
        if self._chunks is not None:
            self._chunks.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[bytes]:
        ch = self._channel
        opts = self._options
        raw = self.command.encode("ascii") + b"\r"
        # A stream paused mid-body holds the channel: wait for it no longer than
        # this command may take (a URC callback must not hang on it).
        wait: float = -1 if opts["timeout"] is None else opts["timeout"]
        if not ch._cmd_lock.acquire(timeout=wait):
            raise ModemBusy(f"{ch.name}: {self.command!r}: the channel is held by another command")
        try:
            yield from self._run(ch, opts, raw)
        finally:
            ch._cmd_lock.release()

    def _run(self, ch: ATChannel, opts: dict[str, Any], raw: bytes) -> Iterator[bytes]:
        if ch._desync is not None:
            ch._resynchronise()
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
        finished = False
        tail = b""
        probe = _BodyProbe()
        since = start
        # Whether the end the tokenizer finds is the module's own: anything
        # but a QHTTPREAD body framed by searching for its trailer.
        trusted = not (
            self.command.upper().startswith("AT+QHTTPREAD=")
            and opts["body_length"] is None
            and not opts["response_header"]
        )
        try:
            with ch._tok_lock:
                ch._tok.sent(
                    raw,
                    body_length=opts["body_length"],
                    response_header=opts["response_header"],
                )
            log.debug("%s >> %s", ch.name, redact.command(self.command))
            ch._write(raw, "command")
            lines: list[str] = []
            connect_code: int | None = None
            data: bytes | None = opts["data"]
            while True:
                quiet = probe.quiet(tail) if self.body_seen else None
                item = ch._next(pending, deadline, idle, since, quiet)
                if item is None:
                    # A body stalled right after bytes shaped like RDY or a
                    # trailer: ask the module itself where it stands. A
                    # server can send those bytes; it cannot echo our nonce.
                    out = probe.next_write()
                    if out:
                        # (The body's bytes are not logged: they may hold secrets.)
                        log.debug("%s: body stalled after RDY/trailer-like bytes; probing", ch.name)
                        ch._write(out, "command")
                        since = time.monotonic()
                        # A module still in data mode may answer the probe
                        # after the read: the next command resyncs first.
                        ch._desync = "a probe during a body"
                    continue
                if isinstance(item, BaseException):
                    raise item
                kind = item.kind
                if kind == "line":
                    lines.append(item.data.decode("utf-8", "replace"))
                elif kind == "body":
                    self.body_seen = True
                    if not item.more:
                        self.body_done = True
                        self.body_code = item.code
                    if item.data:
                        tail = (tail + item.data)[-TAIL:]
                        verdict = probe.verdict(tail, echo_was_off=ch._echo_on is False)
                        if verdict is not None:
                            finished = True  # the module is in command mode
                            raise ch._probe_answered(self.command, tail, probe, verdict)
                        yield item.data
                elif kind == "connect" or kind == "prompt":
                    connected = True
                    if kind == "connect":
                        connect_code = item.code
                    if data is not None:
                        out = data + opts["data_terminator"]
                        data = None
                        if out:
                            log.debug("%s >> %s", ch.name, redact.data(self.command, out))
                            ch._write(out, "data")
                elif kind == "final":
                    text = item.data.decode("utf-8", "replace")
                    finished = True
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
                    ch._note_echo(self.command)
                    return
                # "echo": nothing to do; the tokenizer already used it.
        except ModuleRebooted:
            finished = True
            raise
        finally:
            with ch._state_lock:
                ch._pending = None
                if not finished and _final_queued(pending):
                    # The module's final came but nobody read it (a stream
                    # closed right after its last chunk): in step.
                    finished = trusted
                if not finished and ch._desync is None:
                    # Timed out, rebooted, failed or abandoned mid-way (a
                    # closed stream, Ctrl-C): a late answer may follow, so the
                    # next command resynchronises first. No I/O here: this
                    # may run in a finaliser.
                    ch._desync = f"{self.command!r} did not finish"
                    # (Even when the tokenizer saw the body end: without a
                    # length, that end may be the server's forgery.)
                    if self.body_seen or (connected and opts["data"] is None):
                        # The rest of a body: dropped quietly until then,
                        # never routed as URCs (issue 10 items 2, 10).
                        ch._discarding = True
                        # A body framed by length (or by QFDWL's own size)
                        # ends where the module's trailer must be: from its
                        # final on the stream is in step again.
                        ch._discard_ends_at_final = trusted
                        log.debug("%s: %r abandoned mid-body", ch.name, self.command)


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
        # Re-entrant: a stream dropped without close() is finalised by garbage
        # collection on whatever thread allocates, the reader inside this lock too.
        self._state_lock = threading.RLock()
        self._pending: _Pending | None = None
        self._waiters: list[UrcWaiter] = []
        self._subscribers: list[_Subscriber] = []
        self._dispatch: queue.SimpleQueue[Urc | None] = queue.SimpleQueue()
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
        self._sync_events: queue.SimpleQueue[_Item] | None = None
        self._sync_keep_urcs = True
        # Whether the module echoes (ATE1 after power-up, design §2), and what
        # the session last asked for (restored after a resync).
        self._echo_on: bool | None = None
        self._echo_wanted: bool | None = None
        self._last_write = 0.0
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
        self,
        pending: _Pending,
        deadline: float | None,
        idle: float | None,
        start: float,
        quiet: float | None = None,
    ) -> _Item | None:
        """The next event for ``pending``; None once the module was silent for
        ``quiet`` seconds (when given); ATTimeout past ``deadline`` or ``idle``."""
        while True:
            now = time.monotonic()
            wait = 0.5 if deadline is None else min(0.5, deadline - now)
            if idle is not None:
                wait = min(wait, max(0.0, max(self.last_rx, start) + idle - now))
            if quiet is not None:
                wait = min(wait, max(0.0, max(self.last_rx, start) + quiet - now))
            try:
                return pending.events.get(timeout=max(wait, 0.0))
            except queue.Empty:
                pass
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise ATTimeout(pending.command, deadline - start)
            if idle is not None and now - max(self.last_rx, start) >= idle:
                raise ATTimeout(pending.command, idle, "module silent for the wait time")
            if quiet is not None and now - max(self.last_rx, start) >= quiet:
                return None

    def _write(self, data: bytes, what: str) -> None:
        if self.on_trace is not None:
            self.on_trace(">", what, data)
        self.transport.write(data)
        self._last_write = time.monotonic()

    def _note_echo(self, command: str) -> None:
        """Track the echo setting from the commands that change it (``ATE0``,
        ``ATE1``, ``ATE``, also among other basic commands: ``ATV1E0``)."""
        basic = re.split(r"[+&;]", command.upper().replace(" ", "")[2:], maxsplit=1)[0]
        found = _ECHO.findall(basic) if command.upper().startswith("AT") else []
        if found:
            self._echo_on = self._echo_wanted = found[-1] == "1"

    # -- resynchronisation ----------------------------------------------------------

    def resync(self) -> None:
        """Prove where the module's stream stands before the next command.

        Used when a session starts (the module may be in data mode, or still
        answering a previous program) and by every command after one that did
        not finish. Raises ATTimeout when the module never echoes the marker.
        """
        with self._cmd_lock:
            self._desync = self._desync or "a new session"
            self._resynchronise()

    def _resynchronise(self) -> None:
        """With the command lock held: discard everything up to the echo of a
        marker only this host can know, leaving data mode first if needed."""
        reason = self._desync
        escape = self._discarding
        events: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        with self._state_lock:
            if self._failure is not None:
                raise TransportError(f"{self.name}: {self._failure}")
            self._sync_events = events
        dropped = 0
        began = time.monotonic()
        try:
            for attempt in range(RESYNC_ATTEMPTS):
                if attempt >= 2 and self.last_rx < began:
                    # Not one byte in two attempts, "+++" included: nobody there.
                    raise ATTimeout("resync", time.monotonic() - began, "the module is silent")
                with self._state_lock:
                    # Bytes after data mode may be the network's: then nothing
                    # before the echo is routed, URC-shaped or not. In line mode
                    # the module's URCs are its own and go on as usual.
                    self._sync_keep_urcs = not escape
                if escape:
                    self._escape_data_mode()
                    with self._tok_lock:
                        self._tok.reset()
                # With echo believed off, the first try after an abandoned body
                # sends the marker alone: an echo then means the module lost its
                # settings, i.e. it rebooted and its RDY went with the body.
                detect = attempt == 0 and escape and self._echo_on is False
                if not detect and not (attempt == 0 and self._echo_on):
                    self._write(b"ATE1\r", "command")
                    dropped += self._drain_events(events, 0.3)
                marker = _marker()
                raw = marker.encode("ascii") + b"\r"
                with self._tok_lock:
                    self._tok.sent(raw)
                self._write(raw, "command")
                found, n = self._await_echo(events, marker)
                dropped += n
                if found:
                    if detect:
                        log.info("%s: the module lost its settings: it rebooted", self.name)
                        with self._state_lock:
                            self._on_reboot(spare=None)
                    self._echo_on = True
                    break
                # Alternate: a module in data mode needs "+++"; one in command
                # mode reads it as a line, which "\r" then ends.
                escape = not escape
            else:
                raise ATTimeout("resync", RESYNC_ATTEMPTS * MARKER_WAIT, "no echo of the marker")
            self._discarding = False
            self._desync = None
            if self._echo_wanted is False:
                # In step now: the next final is this command's own.
                with self._tok_lock:
                    self._tok.sent(b"ATE0\r")
                self._write(b"ATE0\r", "command")
                if not self._await_final(events):
                    self._desync = "ATE0 unanswered"
                    raise ATTimeout("ATE0", MARKER_WAIT, "after a resync")
                self._echo_on = False
        finally:
            with self._state_lock:
                self._sync_events = None
        if dropped or self._discarded:
            log.debug(
                "%s: resynchronised after %s; dropped %d events and %d body bytes",
                self.name,
                reason,
                dropped,
                self._discarded,
            )
        if self._urc_shaped_dropped:
            # After data mode these may be the module's held URCs or the body's
            # bytes: they cannot be told apart, so none is delivered; say so.
            log.warning(
                "%s: %d URC-shaped lines dropped while leaving data mode (the module's "
                "held URCs cannot be told from body bytes there)",
                self.name,
                self._urc_shaped_dropped,
            )
        self._discarded = 0
        self._urc_shaped_dropped = 0

    def _sync_events_for(self, events: queue.SimpleQueue[_Item], seconds: float) -> Iterator[Event]:
        """The events of a resync that arrive within ``seconds`` (a lost link
        raises; URC-shaped ones are counted, since a resync drops them)."""
        end = time.monotonic() + seconds
        while True:
            try:
                item = events.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return
            if isinstance(item, TransportError):
                raise item
            if isinstance(item, Event):
                if item.kind == "urc":
                    self._urc_shaped_dropped += 1
                yield item

    def _await_final(self, events: queue.SimpleQueue[_Item]) -> bool:
        return any(e.kind == "final" for e in self._sync_events_for(events, MARKER_WAIT))

    def _await_echo(self, events: queue.SimpleQueue[_Item], marker: str) -> tuple[bool, int]:
        """Wait for the marker's echo, then its final code; (found, events dropped).

        An echo whose final does not come is no proof: that final would arrive
        late, as the next command's answer.
        """
        want = marker.encode("ascii")
        dropped = 0
        for event in self._sync_events_for(events, MARKER_WAIT):
            if event.kind == "echo" and event.data == want:
                return self._await_final(events), dropped
            dropped += 1
        return False, dropped

    def _drain_events(self, events: queue.SimpleQueue[_Item], seconds: float) -> int:
        return sum(1 for _ in self._sync_events_for(events, seconds))

    def _escape_data_mode(self) -> None:
        """``+++`` as HTTP note 1.3 asks (no input for 1 s before and after),
        then ``\r`` to end it as a line should the module be in command mode."""
        # A little over each guard time: the module measures them too.
        quiet = self._last_write + GUARD * 1.2 - time.monotonic()
        if quiet > 0:
            time.sleep(quiet)
        self._write(b"+++", "command")
        time.sleep(GUARD * 1.2)
        self._write(b"\r", "command")

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
            # Parsed apart from the live tokenizer, which the reader thread goes
            # on feeding: the module's boot URCs, from its last RDY on.
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
        waiter = self.claim(match)
        try:
            yield waiter
        finally:
            self._remove_waiter(waiter)

    def claim(self, match: Callable[[Urc], bool] | str) -> UrcWaiter:
        """Like :meth:`expect_urc` without the ``with``: the waiter claims the
        matching URCs until its ``cancel()``."""
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
        return waiter

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
        with self._state_lock:
            sync = self._sync_events
            pending = self._pending
            discarding = self._discarding
        if sync is not None:
            if self._sync_keep_urcs and (kind == "urc" or kind == "invalid"):
                self._on_urc(event)
            else:
                sync.put(event)
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
            pending.events.put(event)
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
        # The tokenizer itself dropped the command in flight at RDY and keeps
        # the bytes after it (item 4). The module's settings are the defaults.
        self._echo_on = True
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
            if self._sync_events is not None:
                self._sync_events.put(exc)
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
