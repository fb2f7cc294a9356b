"""The command engine: one session per AT port, framing, data phases.

A ``Session`` (run on the shared worker pool while its port has input, see
``lpwa.sim.reactor``) reads its port's input, assembles command lines (terminated by
``<CR>``; a leading ``<LF>`` is ignored), echoes them, dispatches them to the
command families through a ``Registry`` and writes the final result code.
Commands of both ports are serialised by the module lock, as on the module's
single AT processor.

A ``Channel`` is a port plus its per-port settings (``ATE``, ``ATV``,
``AT+CMEE``) and the URC hold: from the moment a command line is taken until
its final result (which covers the data blocks of QHTTPREAD/QFDWL/QFREAD and
the host data phases of QHTTPURL/QHTTPPOST/QFUPL...), URCs for that port are
held and flushed in order afterwards (design section 2).

``Ctx`` is what a command handler sees: info lines, CONNECT, prompts, raw data
out, exact-length data in with ``<input_time>`` and the ``+++`` escape (HTTP
note 1.3), and generation checks so that a reboot unwinds a running command.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from lpwa.sim import results
from lpwa.sim.atparse import Command, SyntaxFault, parse_basic, parse_line
from lpwa.sim.params import CommandFailed
from lpwa.sim.reactor import WorkerPool, shared
from lpwa.sim.transport import Port

if TYPE_CHECKING:
    from lpwa.sim.module import Module

__all__ = [
    "BasicHandler",
    "Channel",
    "Ctx",
    "DataIn",
    "Handler",
    "ModuleReset",
    "Registry",
    "Session",
]

log = logging.getLogger("lpwa.sim")

MAX_LINE = 4096
"""Longest command line accepted; longer lines are discarded and answered ERROR."""

CTRL_Z = 0x1A
ESC = 0x1B


class ModuleReset(Exception):
    """The module rebooted (or the port was dropped) while a command ran."""


Handler = Callable[["Ctx", Command], None]
BasicHandler = Callable[["Ctx", str], None]


@dataclass
class Registry:
    """Command handlers by name: ``extended["+QHTTPCFG"]``, ``basic["E"]``."""

    extended: dict[str, Handler] = field(default_factory=dict)
    basic: dict[str, BasicHandler] = field(default_factory=dict)

    def update(self, other: Registry) -> None:
        """Add another family's handlers."""
        self.extended.update(other.extended)
        self.basic.update(other.basic)


class Channel:
    """One AT port with its own ATE/ATV/CMEE settings and URC hold."""

    def __init__(self, port: Port, *, echo: bool, cmee: int) -> None:
        self.port = port
        self.name = port.name
        self.echo = echo
        self.verbose = True
        self.cmee = cmee
        self._lock = threading.RLock()
        self._hold = 0
        self._held: list[bytes] = []

    def reset(self, *, echo: bool, cmee: int) -> None:
        """Power-up settings; held URCs are lost with the old power cycle."""
        with self._lock:
            self.echo, self.verbose, self.cmee = echo, True, cmee
            self._hold = 0
            self._held.clear()

    def send(self, data: bytes) -> None:
        """Write response bytes now."""
        with self._lock:
            self.port.write(data)

    def urc(self, data: bytes) -> None:
        """Write a URC now, or hold it while a command or data block is running."""
        with self._lock:
            if self._hold:
                self._held.append(data)
            else:
                self.port.write(data)

    def hold(self) -> None:
        """Start holding URCs."""
        with self._lock:
            self._hold += 1

    def release(self) -> None:
        """Stop holding URCs; flush the held ones in order."""
        with self._lock:
            self._hold = max(0, self._hold - 1)
            if self._hold == 0 and self._held:
                held, self._held = self._held, []
                for data in held:
                    self.port.write(data)


@dataclass(frozen=True)
class DataIn:
    """Bytes the host sent in a data phase and why the phase ended.

    ``end`` is ``"complete"`` (all N bytes), ``"timeout"`` (``<input_time>`` ran
    out), ``"escape"`` (``+++`` with guard times), ``"ctrlz"``, ``"cancel"`` (Esc)
    or ``"overflow"`` (more than the maximum before Ctrl-Z).
    """

    data: bytes
    end: str


class Ctx:
    """The running command's view of the module and its port."""

    def __init__(self, module: Module, channel: Channel, generation: int) -> None:
        self.module = module
        self.channel = channel
        self.generation = generation
        self.final_sent = False
        self._info: list[bytes] = []

    # -- state -------------------------------------------------------------
    def check(self) -> None:
        """Raise ModuleReset when the module rebooted since the command started."""
        if self.module.generation != self.generation or self.module.closed:
            raise ModuleReset()

    def scaled(self, seconds: float) -> float:
        """A module timer in real seconds (``time_scale``)."""
        return self.module.scaled(seconds)

    def sleep(self, seconds: float) -> None:
        """Sleep real ``seconds`` in slices, unwinding on reboot."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.05))

    # -- output ------------------------------------------------------------
    def info(self, line: str | bytes) -> None:
        """Queue an information line for the final result."""
        self._info.append(line if isinstance(line, bytes) else line.encode("latin-1"))

    def send(self, data: bytes) -> None:
        """Write raw bytes (a data block) now."""
        self.check()
        self.channel.send(data)

    def _pending_info(self) -> bytes:
        block = results.info_block(self._info, self.channel.verbose)
        self._info = []
        return block

    def ok(self, trailer: bytes = b"") -> None:
        """Info lines, ``OK`` and an optional trailer written as one block."""
        self.send(self._pending_info() + results.final("OK", self.channel.verbose) + trailer)
        self.final_sent = True

    def fail(self, cme: int | None) -> None:
        """``+CME ERROR: <cme>`` (per AT+CMEE) or ``ERROR`` when cme is None."""
        self._info = []
        self.send(results.cme(cme, self.channel.cmee, self.channel.verbose))
        self.final_sent = True

    def connect(self, length: int | None = None) -> None:
        """``CONNECT`` (or ``CONNECT <n>``): a data block follows.

        The port is in data mode until the command's final result: the other
        port's HTTP data-mode commands answer ``+CME ERROR: 704`` meanwhile.
        """
        self.send(self._pending_info() + results.connect(length, self.channel.verbose))
        self.module.data_channel = self.channel

    def prompt(self) -> None:
        """The ``> `` prompt with no line end (design section 2)."""
        self.send(b"\r\n> ")

    def urc_line(self, text: str | bytes) -> bytes:
        """A URC as this port frames it."""
        return results.urc(text, self.channel.verbose)

    # -- input -------------------------------------------------------------
    def read_data(self, length: int, timeout: float) -> DataIn:
        """Exactly ``length`` bytes from the host within ``timeout`` real seconds.

        The bytes are not echoed. ``+++`` preceded and followed by the guard time
        of silence (1 s, scaled; HTTP note 1.3) ends the phase with ``"escape"``.
        """
        buf = self.channel.port.input
        guard = self.module.scaled(1.0)
        got = bytearray()
        start = time.monotonic()
        deadline = start + timeout
        last_rx = start
        while len(got) < length:
            self.check()
            now = time.monotonic()
            if now >= deadline:
                return DataIn(bytes(got), "timeout")
            chunk = buf.read(length - len(got), min(deadline - now, 0.05))
            if not chunk:
                continue
            now = time.monotonic()
            if chunk.startswith(b"+") and now - last_rx >= guard:
                escaped, chunk = self._try_escape(chunk, guard)
                if escaped:
                    return DataIn(bytes(got), "escape")
            take = chunk[: length - len(got)]
            got += take
            buf.unread(chunk[len(take) :])
            last_rx = time.monotonic()
        return DataIn(bytes(got), "complete")

    def _try_escape(self, chunk: bytes, guard: float) -> tuple[bool, bytes]:
        """After a guard-long silence a ``+`` came: is it ``+++`` then silence?"""
        buf = self.channel.port.input
        deadline = time.monotonic() + guard
        while len(chunk) < 3 and chunk == b"+" * len(chunk) and time.monotonic() < deadline:
            chunk += buf.read(3 - len(chunk), min(0.05, max(0.0, deadline - time.monotonic())))
        if chunk != b"+++":
            return False, chunk
        more = buf.read(1, guard)
        if more:
            buf.unread(more)
            return False, chunk
        return True, b""

    def read_until_ctrl_z(self, max_length: int, timeout: float) -> DataIn:
        """Prompt input ended by Ctrl-Z (send) or Esc (cancel), at most ``max_length``."""
        buf = self.channel.port.input
        got = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            self.check()
            now = time.monotonic()
            if now >= deadline:
                return DataIn(bytes(got), "timeout")
            chunk = buf.read(4096, min(deadline - now, 0.05))
            for i, byte in enumerate(chunk):
                if byte == CTRL_Z:
                    buf.unread(chunk[i + 1 :])
                    return DataIn(bytes(got), "ctrlz")
                if byte == ESC:
                    buf.unread(chunk[i + 1 :])
                    return DataIn(bytes(got), "cancel")
                got.append(byte)
                if len(got) > max_length:
                    buf.unread(chunk[i + 1 :])
                    return DataIn(bytes(got), "overflow")

    def escape_pending(self) -> bool:
        """During module output: has the host typed ``+++`` followed by guard silence?"""
        buf = self.channel.port.input
        pending = buf.peek()
        if pending != b"+++":
            return False
        if time.monotonic() - buf.last_rx < self.module.scaled(1.0):
            return False
        buf.clear()
        return True


_JUNK = b"\x00\n\r\x1a\x1b +"

# The commands that enter data mode and answer 704 when another port is in it
# (HTTP note 4.4 names exactly these four).
_DATA_MODE_COMMANDS = (b"AT+QHTTPURL=", b"AT+QHTTPGET", b"AT+QHTTPPOST", b"AT+QHTTPREAD")


def _enters_data_mode(raw: bytes) -> bool:
    line = raw.lstrip(_JUNK).upper()
    if line.startswith(b"AT+QHTTPPOSTFILE") or line.startswith(b"AT+QHTTPREADFILE"):
        return False
    return line.startswith(_DATA_MODE_COMMANDS) and not line.endswith(b"=?")


class Session:
    """The command loop of one port.

    It holds no thread: the port's ``on_input`` (reactor thread) submits
    ``_drain`` to the shared worker pool, which consumes the buffered input
    and runs the commands it completes, then returns the worker. A command
    that waits (data phase, network, ``ctx.sleep``) keeps its worker until
    its final result; at most one drain per session runs at a time.
    """

    def __init__(
        self, module: Module, channel: Channel, registry: Registry, pool: WorkerPool | None = None
    ) -> None:
        self.module = module
        self.channel = channel
        self.registry = registry
        self._pool = pool or shared().pool
        self._line = bytearray()
        self._overflow = False
        self._connection = channel.port.connection_id
        self._state = threading.Condition(threading.Lock())
        self._pending = False  # input arrived since the drain last looked
        self._running = False  # a drain is submitted or running

    def start(self) -> None:
        """Start consuming the port's input."""
        port = self.channel.port
        port.on_input = self._wake
        if port.input.peek():
            self._wake()  # input that came before start()

    def join(self, timeout: float) -> None:
        """Wait for a running drain to end (after the module closed)."""
        deadline = time.monotonic() + timeout
        with self._state:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._state.wait(remaining)

    def _wake(self) -> None:
        with self._state:
            self._pending = True
            if self._running or self.module.closed:
                return
            self._running = True
        self._pool.submit(self._drain)

    def _drain(self) -> None:
        try:
            while True:
                with self._state:
                    if not self._pending or self.module.closed:
                        break
                    self._pending = False
                self._consume()
        finally:
            with self._state:
                self._running = False
                self._state.notify_all()

    def _consume(self) -> None:
        """Assemble and run command lines until the buffer is empty."""
        port = self.channel.port
        line = self._line
        while not self.module.closed:
            chunk = port.input.read(4096, 0)
            if port.connection_id != self._connection:
                self._connection = port.connection_id
                line.clear()
                self._overflow = False
            if not chunk:
                return
            if self.module.booting:
                line.clear()
                continue  # the UART is dead while the module boots
            for i, byte in enumerate(chunk):
                if byte == 0x0D:
                    port.input.unread(chunk[i + 1 :])
                    raw = bytes(line)
                    line.clear()
                    self._execute(raw, self._overflow)
                    self._overflow = False
                    break
                if byte == 0x0A and not line:
                    continue
                if byte == 0x08:
                    del line[-1:]
                    continue
                if len(line) >= MAX_LINE:
                    self._overflow = True
                    line.clear()
                line.append(byte)

    def _execute(self, raw: bytes, overflow: bool) -> None:
        module = self.module
        ch = self.channel
        while not module.lock.acquire(timeout=0.02):
            if module.closed:
                return
            owner = module.data_channel
            if owner is not None and owner is not ch and _enters_data_mode(raw):
                self._uart_busy(raw)
                return
        try:
            generation = module.generation
            if module.booting:
                return
            ch.hold()
            try:
                self._run_command(raw, overflow, generation)
            finally:
                module.data_channel = None
                if module.generation == generation:
                    ch.release()
        finally:
            module.lock.release()

    def _uart_busy(self, raw: bytes) -> None:
        """HTTP note 4.4: "+CME ERROR: 704 ... the module only supports one port
        in data mode at a time": answered at once, not after the other port's
        data phase (the simulator otherwise runs one command at a time)."""
        ch = self.channel
        if ch.echo:
            ch.send(raw + b"\r")
        ch.send(results.cme(704, ch.cmee, ch.verbose))

    def _run_command(self, raw: bytes, overflow: bool, generation: int) -> None:
        module, ch = self.module, self.channel
        faults = module.faults
        text = raw.decode("latin-1")
        urc_text = faults.take_urc_before_echo()
        if urc_text is not None:
            ch.port.write(results.urc(urc_text, ch.verbose))
        if ch.echo:
            ch.send(raw + b"\r")
        if not raw.strip(_JUNK) and not overflow:
            return  # an empty line gets no answer
        module.note_command(ch)
        garbage = faults.take_garbage()
        if garbage:
            ch.send(garbage)
        command = raw.lstrip(_JUNK).decode("latin-1").rstrip(" ")
        if faults.take_reboot_on(command):
            module.reboot()
            return
        if faults.take_drop_on(command):
            ch.port.drop()
            return
        ctx = Ctx(module, ch, generation)
        try:
            if overflow:
                raise CommandFailed(None)
            self._dispatch(ctx, command)
            if not ctx.final_sent:
                ctx.ok()
        except CommandFailed as exc:
            if not ctx.final_sent:
                ctx.fail(exc.cme)
        except ModuleReset:
            return
        except Exception:
            log.exception("simulator: command %r crashed", text)
            if not ctx.final_sent and module.generation == generation:
                ctx.fail(None)

    def _dispatch(self, ctx: Ctx, command: str) -> None:
        if command[:2].upper() != "AT":
            raise CommandFailed(None)
        rest = command[2:]
        if not ctx.module.app_ready and (rest.startswith("+") or rest[:1].upper() == "I"):
            # Between RDY and APP RDY a BG95/BG77 answers ERROR (zephyrproject-
            # rtos/zephyr PR #57110); V.250 basics (AT, ATE, ATV...) still work,
            # an assumption that keeps the host's echo setting reachable.
            raise CommandFailed(None)
        try:
            if rest.startswith("+"):
                cmd = parse_line(rest)
                handler = self.registry.extended.get(cmd.name)
                if handler is None:
                    raise CommandFailed(None)
                if ctx.module.http_wedge.intercept(ctx, cmd):
                    return
                handler(ctx, cmd)
                return
            if rest == "":
                return
            steps = parse_basic(rest)
        except SyntaxFault:
            raise CommandFailed(None) from None
        for letter, digits in steps:
            basic = self.registry.basic.get(letter)
            if basic is None:
                raise CommandFailed(None)
            basic(ctx, digits)
            if ctx.final_sent:
                return
