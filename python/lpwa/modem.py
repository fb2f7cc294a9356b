"""The Modem facade: the blocking shell that drives a module's procedures.

``Modem.open(port)`` syncs with the module, sets ``ATE0``, ``ATV1``, ``AT+CMEE=1``
(and the URC port when asked), reads the identity (``ATI``, ``AT+QGMR``) and picks
the firmware's quirk profile. When the module reboots (``RDY``), the session is set
up again before the next command. The procedures themselves (set-up, recovery,
and those of ``network``, ``ssl``, ``files``, ``http``, ``coap``) are written once,
free of I/O (:mod:`lpwa.procedure`, :mod:`lpwa.session`); this shell performs
their steps on an :class:`~lpwa.at.ATChannel`, blocking the calling thread, and
:class:`lpwa.aio.AsyncModem` does the same with asyncio.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import serial

from lpwa.at import ATChannel, Reply, Urc
from lpwa.at.procedure_lock import Lease, ProcedureLock
from lpwa.at.transport import holders_hint
from lpwa.errors import ATTimeout, CommandError, ProtocolError
from lpwa.files import Files, FilesProcedures
from lpwa.network import Network, NetworkProcedures
from lpwa.procedure import (
    AwaitAppReady,
    Blocking,
    Command,
    EnsureSession,
    Expect,
    Proc,
    Pull,
    Resync,
    Sleep,
    Step,
    Stream,
    Subscribe,
    Wait,
    drive,
)
from lpwa.procedure import Lease as LeaseStep
from lpwa.session import REBOOT_TIMEOUT, Session, is_app_rdy
from lpwa.ssl_config import SSLConfig, SSLProcedures

if TYPE_CHECKING:
    from lpwa.coap.client import CoAP
    from lpwa.http import HTTP

log = logging.getLogger("lpwa.modem")

T = TypeVar("T")
X = TypeVar("X")


class Modem(Session):
    """One Quectel BG95/BG77/BG96 module behind an AT channel.

    >>> with Modem.open("socket://127.0.0.1:7000") as modem:   # doctest: +SKIP
    ...     modem.model, modem.firmware
    ('BG96', 'BG96MAR02A07M1G_01.016.01.016')
    """

    def __init__(
        self,
        channel: ATChannel,
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
    ) -> None:
        super().__init__(
            channel.name,
            lambda: channel.reboots,
            urc_port=urc_port,
            workaround_719=workaround_719,
        )
        self.channel = channel
        self._init_lock = threading.RLock()
        self._procedures = ProcedureLock(channel.name, refuse=channel.on_dispatcher_thread)
        self._ready_cond = threading.Condition()
        self._unsubscribe_ready = channel.subscribe(self._on_app_rdy, is_app_rdy)
        self.init()

    @classmethod
    def open(
        cls,
        port: str | serial.SerialBase,
        baudrate: int = 115200,
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
        recover_coap: Iterable[int] = (),
        **serial_options: Any,
    ) -> Modem:
        """Open ``port`` (pyserial URL, device or pty path) and set the module up.

        ``workaround_719`` forces (True) or disables (False) the error-719 padding
        of HTTPS POSTs whatever the quirk table says about this build.
        ``recover_coap`` names this program's CoAP client ids to close if a
        previous run left them open (:meth:`recover`; opt-in).
        """
        coap_ids = list(recover_coap)
        channel = ATChannel.open(port, baudrate, **serial_options)
        try:
            modem = cls(channel, urc_port=urc_port, workaround_719=workaround_719)
            if coap_ids:
                modem.recover(coap_ids=coap_ids)
            return modem
        except (ATTimeout, ProtocolError) as exc:
            channel.close()
            named = with_port_holders(exc, port)
            if named is exc:
                raise
            raise named from exc
        except BaseException:
            channel.close()
            raise

    # -- the shell ----------------------------------------------------------------

    def run(self, proc: Proc[T], lease: Lease | None = None) -> T:
        """Run a procedure to its end, held against other threads' procedures;
        with ``lease``, as the holder of that open lease (a streamed body)."""
        # Refused on the URC callback thread (ModemBusy): a procedure may wait
        # for a URC, which only that thread's return lets the others see.
        holder = lease if lease is not None and not lease.released else contextlib.nullcontext()
        with holder, self._procedures.hold():
            return drive(proc, self._perform)

    call = run
    """Run a procedure (what a facade method does in this shell)."""

    def pieces(
        self, next_piece: Callable[[], Proc[X | None]], close: Callable[[], Proc[None]]
    ) -> Iterator[X]:
        """A lazy iterator whose every item is one procedure (``next_piece``
        until it gives None); ``close`` runs when the caller stops early too."""
        try:
            while (piece := self.run(next_piece())) is not None:
                yield piece
        finally:
            self.run(close())

    def _perform(self, step: Step) -> Any:
        if isinstance(step, Command):
            if step.raw:
                return self.channel.command(step.line, **step.options)
            return self.command(step.line, **step.options)
        if isinstance(step, Stream):
            return self.channel.stream(step.line, **step.options)
        if isinstance(step, Pull):
            return step.stream.pull()
        if isinstance(step, Expect):
            return self.channel.claim(step.match, invalid=step.invalid)
        if isinstance(step, Wait):
            return step.waiter.wait(step.timeout)
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, LeaseStep):
            return self.lease()
        if isinstance(step, Resync):
            self.channel.resync()
            return None
        if isinstance(step, AwaitAppReady):
            with self._ready_cond:
                self._ready_cond.wait_for(self.app_ready, step.timeout)
            return None
        if isinstance(step, EnsureSession):
            self.ensure_session()
            return None
        if isinstance(step, Subscribe):
            return self.channel.subscribe(step.callback, step.match, claim=step.claim)
        raise TypeError(f"not a procedure step: {step!r}")

    # -- session ------------------------------------------------------------------

    def init(self) -> None:
        """Sync, set the session options, and read the identity and quirks."""
        with self._held("init"), self._init_lock:
            drive(self.setup(), self._perform)

    def _on_app_rdy(self, urc: Urc) -> None:
        with self._ready_cond:
            self.note_app_rdy(urc)
            self._ready_cond.notify_all()

    def command(self, line: str, **options: Any) -> Reply:
        """Run one AT command (see :meth:`ATChannel.command`).

        If the module rebooted since the last command, the session is set up
        again first, so ``ATE0`` and ``AT+CMEE=1`` always hold. The command waits
        for any procedure another thread is running (:meth:`procedure`); from a
        URC callback it runs at once, between the commands of a procedure, since
        that thread must never wait.
        """
        with self._held(repr(line)):
            self.ensure_session()
            try:
                return self.channel.command(line, **options)
            except CommandError as exc:
                self.count_error(exc)
                raise

    def recover(self, *, coap_ids: Iterable[int] = (), timeout: float = 75.0) -> list[int]:
        """Close the CoAP clients a previous run of this program left open.

        A restarted gateway finds its client ids still open in the module
        (``AT+QCOAPOPEN`` then answers ``-10``, CoAP note table 5). Only the ids
        given are closed: the module cannot tell whose they are, so a program
        names its own and never closes what another port's program owns.
        The HTTP stack needs nothing here: a response left unread is replaced
        by the next request, and a request still running makes the next one
        wait (703, which ``modem.http`` retries). Returns the ids closed.
        """
        with self.procedure():
            return drive(self.recover_procedure(coap_ids, timeout), self._perform)

    def _held(self, what: str) -> contextlib.AbstractContextManager[None]:
        if self.channel.on_dispatcher_thread():
            return contextlib.nullcontext()
        return self._procedures.hold(what)

    @contextlib.contextmanager
    def procedure(self) -> Iterator[None]:
        """Hold the module for a procedure of several commands, across threads.

        Re-entrant in one thread. Raises :class:`~lpwa.errors.ModemBusy` on the
        URC callback thread, and while a streamed response is open (at once in
        the thread that opened it, after a bounded wait in others).
        """
        with self._procedures.hold():
            yield

    def lease(self) -> Lease:
        """Inside :meth:`procedure`: keep the module for a streamed response.

        The lease holds the module after the procedure returns until
        ``lease.release()`` (any thread, idempotent; also when the lease is
        garbage collected); ``with lease:`` runs commands as its holder.
        """
        return self._procedures.lease()

    def ensure_session(self) -> None:
        """Set the session up again if the module rebooted since we last looked.

        Not from a URC callback: set-up may wait for ``APP RDY``, which only that
        thread delivers; the next call from another thread sets the session up.
        """
        if self.channel.on_dispatcher_thread():
            return
        if self.needs_setup():
            log.info("%s: module rebooted; setting the session up again", self.channel.name)
            self.init()

    def reboot(self, timeout: float = REBOOT_TIMEOUT) -> None:
        """Restart the module (``AT+CFUN=1,1``), wait for RDY and set up again."""
        with self.procedure():
            drive(self.reboot_procedure(timeout), self._perform)

    # -- protocol APIs --------------------------------------------------------------

    @cached_property
    def network(self) -> Network[Blocking]:
        """SIM, registration and PDP contexts."""
        return Network(self, NetworkProcedures(self))

    @cached_property
    def ssl(self) -> SSLConfig[Blocking]:
        """SSL contexts (AT+QSSLCFG)."""
        return SSLConfig(self, SSLProcedures(self))

    @cached_property
    def files(self) -> Files[Blocking]:
        """The module's UFS file system."""
        return Files(self, FilesProcedures(self))

    @cached_property
    def http(self) -> HTTP[Blocking]:
        """HTTP(S) through the module's own stack (AT+QHTTP*)."""
        from lpwa.http import HTTP, HTTPProcedures

        return HTTP(self, HTTPProcedures(self, NetworkProcedures(self), FilesProcedures(self)))

    @cached_property
    def coap(self) -> CoAP[Blocking]:
        """CoAP through the module's own stack (AT+QCOAP*)."""
        from lpwa.coap.client import CoAP, CoAPProcedures

        return CoAP(self, CoAPProcedures(self, FilesProcedures(self), SSLProcedures(self)))

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        """Close the channel (the module itself is left as it is)."""
        self._unsubscribe_ready()
        self.channel.close()

    def __enter__(self) -> Modem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Modem {self.model or '?'} {self.firmware or '?'} on {self.channel.name}>"


def with_port_holders(exc: ATTimeout | ProtocolError, port: object) -> BaseException:
    """``exc`` naming the programs that hold ``port``, where the OS tells: a
    port that is silent or answers strangely is often held by another program
    (ModemManager)."""
    hint = holders_hint(port) if isinstance(port, str) else ""
    if not hint:
        return exc
    if isinstance(exc, ATTimeout):
        return ATTimeout(exc.command, exc.timeout, f"{exc}; {hint}")
    return ProtocolError(f"{exc}; {hint}")
