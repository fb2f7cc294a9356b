"""The Modem facade: opens the channel, sets the session up, knows the module.

``Modem.open(port)`` syncs with the module, sets ``ATE0``, ``ATV1``, ``AT+CMEE=1``
(and the URC port when asked), reads the identity (``ATI``, ``AT+QGMR``) and picks
the firmware's quirk profile. When the module reboots (``RDY``), the session is set
up again before the next command.

Booting modules (issue 15): after ``AT+CFUN=1,1`` a module ignores input for some
seconds (vshymanskyy/TinyGSM issue #157: ATs unanswered between ``POWERED DOWN``
and ``RDY``; a BG95 took 13 s to ``RDY``, zephyr issue #88686), and a BG95/BG77
answers ``ERROR`` between ``RDY`` and ``APP RDY`` (zephyr PR #57110). So setting
up waits, bounded by ``READY_TIMEOUT``: the sync is retried while the module is
silent (up to ``SILENT_BOOT_TIMEOUT``, then one last attempt), the set-up commands
while they get a plain ``ERROR``, and where the model
prints ``APP RDY`` and a ``RDY`` was seen, set-up waits for it.

The protocol APIs hang off it: ``network``, ``ssl``, ``files``, ``http`` and
``coap``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import serial

from lpwa.at import ATChannel, Reply, Urc
from lpwa.at.fields import quote
from lpwa.at.procedure_lock import Lease, ProcedureLock
from lpwa.at.transport import holders_hint
from lpwa.errors import (
    ATTimeout,
    CMEError,
    CommandError,
    ModuleRebooted,
    ParameterError,
    ProtocolError,
)
from lpwa.files import Files
from lpwa.health import Health, HealthReport
from lpwa.network import Network
from lpwa.quirks import Quirks, profile_for
from lpwa.ssl_config import SSLConfig

if TYPE_CHECKING:
    from lpwa.coap.client import CoAP
    from lpwa.http import HTTP

log = logging.getLogger("lpwa.modem")

# A reboot takes the module some seconds before RDY (AT+CFUN=1,1).
REBOOT_TIMEOUT = 30.0
# How long setting up waits for a booting module to become ready (silent UART,
# then ERROR until APP RDY): the 13 s to RDY of zephyr issue #88686 and some.
READY_TIMEOUT = 30.0
# How long a silent module is given to start answering: a BG95 answered 13.4 s
# after the first command of a power-up (captures C3); a port with nothing
# behind it is reported after one more sync attempt past this.
SILENT_BOOT_TIMEOUT = 15.0
# Pause between two tries of a set-up command a booting module refused.
READY_RETRY = 0.25
# How long to still wait for APP RDY once the module accepts extended commands.
APP_RDY_GRACE = 5.0
# Models that end their boot with APP RDY (BG95/BG77 AT manuals; zephyr PR #57110).
APP_RDY_MODELS = ("BG95", "BG77")


class Modem:
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
        self.channel = channel
        self.urc_port = urc_port
        self.workaround_719 = workaround_719
        """The caller's choice for the 719 padding (see :func:`lpwa.quirks.profile_for`):
        None follows the quirk table, True forces it, False disables it; it holds
        across re-init after a reboot."""
        self.manufacturer = ""
        self.model = ""
        """The model family (``BG96``, ``BG95``, ``BG77``)."""
        self.variant = ""
        """The model line ``ATI`` prints (``BG95-M3``, ``BG77``, ``BG96``)."""
        self.revision = ""
        """The short revision ``ATI`` prints (``BG96MAR02A07M1G``)."""
        self.firmware = ""
        """The full revision ``AT+QGMR`` prints (``BG96MAR02A07M1G_01.016.01.016``)."""
        self.quirks: Quirks = profile_for("")
        self._reboots_seen = channel.reboots
        self.health_counter = Health()
        """Counters behind :meth:`health` (protocol APIs count their URC errors here)."""
        self._reboot_hooks: list[Callable[[], None]] = []
        self._init_lock = threading.RLock()
        self._initialising = False
        self._answering = False
        self._procedures = ProcedureLock(channel.name, refuse=channel.on_dispatcher_thread)
        # APP RDY is tracked per boot: the RDY count when it last came.
        self._ready_cond = threading.Condition()
        self._app_rdy_boot = -1
        self._unsubscribe_ready = channel.subscribe(
            self._on_app_rdy, lambda urc: urc.name == "APP RDY"
        )
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
            # A port that is silent or answers strangely is often held by
            # another program (ModemManager): say which, where the OS tells.
            hint = holders_hint(port) if isinstance(port, str) else ""
            if not hint:
                raise
            if isinstance(exc, ATTimeout):
                raise ATTimeout(exc.command, exc.timeout, f"{exc}; {hint}") from exc
            raise ProtocolError(f"{exc}; {hint}") from exc
        except BaseException:
            channel.close()
            raise

    # -- session ------------------------------------------------------------------

    def init(self) -> None:
        """Sync, set the session options, and read the identity and quirks."""
        with self._held("init"), self._init_lock:
            self._initialising = True
            try:
                deadline = time.monotonic() + READY_TIMEOUT
                self._answering = False
                self._sync(deadline)
                # Echo off keeps the stream lean; verbose results and numeric
                # +CME ERROR codes are what the error classes are built on.
                for line in ("ATE0", "ATV1", "AT+CMEE=1"):
                    self._setup(line, deadline)
                if self.urc_port is not None:
                    self._setup(f'AT+QURCCFG="urcport",{quote(self.urc_port)}', deadline)
                self._read_identity(deadline)
                self._await_app_rdy(deadline)
                self._reboots_seen = self.channel.reboots
            finally:
                self._initialising = False
        for hook in self._reboot_hooks:
            hook()

    def _sync(self, deadline: float) -> None:
        # The module may still be answering a previous program, or be in data
        # mode after one was killed mid-body: prove where the stream stands.
        start = time.monotonic()
        try:
            self.channel.resync()
            return
        except ATTimeout as exc:
            first = exc
        # A booting module ignores input for seconds: try again until it wakes.
        silent_until = min(deadline, start + SILENT_BOOT_TIMEOUT)
        while time.monotonic() < silent_until:
            log.info("%s: no answer; the module may be booting, retrying", self.channel.name)
            try:
                self.channel.resync()
                return
            except ATTimeout:
                continue
        raise ATTimeout("AT", first.timeout, f"module does not answer ({first})") from None

    def _setup(self, line: str, deadline: float) -> Reply:
        """A set-up command, tried again while a booting module refuses it.

        Only a plain ``ERROR`` is taken for "not ready yet" (what a BG95
        answers before ``APP RDY``, zephyr PR #57110), and only until the module
        proved ready: this boot's ``APP RDY`` came, or an extended command
        (``AT+CMEE=1``) was accepted. ``+CME ERROR`` is always a real answer.
        Bounded by ``deadline``; the last refusal is raised then.
        """
        while True:
            try:
                reply = self.channel.command(line)
                self._answering = self._answering or line.startswith("AT+")
                return reply
            except CMEError:
                raise
            except CommandError:
                if time.monotonic() >= deadline or self._answering or self._app_ready():
                    raise
            log.debug("%s: %r refused while booting; retrying", self.channel.name, line)
            with self._ready_cond:
                self._ready_cond.wait_for(self._app_ready, READY_RETRY)

    def _on_app_rdy(self, urc: object) -> None:
        with self._ready_cond:
            self._app_rdy_boot = self.channel.reboots
            self._ready_cond.notify_all()

    def _app_ready(self) -> bool:
        return self._app_rdy_boot == self.channel.reboots

    def _await_app_rdy(self, deadline: float) -> None:
        """After a RDY on a model that prints APP RDY, wait for it (bounded)."""
        if self.channel.reboots == 0 or self.model not in APP_RDY_MODELS:
            return  # no boot seen (it finished before we came), or none to wait for
        # Set-up's extended commands were accepted, so the module answers: an
        # APP RDY lost in a resync (it drops what precedes its marker) must
        # not cost the whole READY_TIMEOUT.
        end = min(deadline, time.monotonic() + APP_RDY_GRACE) if self._answering else deadline
        with self._ready_cond:
            if not self._ready_cond.wait_for(self._app_ready, max(0.0, end - time.monotonic())):
                log.warning("%s: no APP RDY after RDY; going on", self.channel.name)

    def _read_identity(self, deadline: float) -> None:
        lines = self._setup("ATI", deadline).lines
        # ATI: manufacturer, model, "Revision: <short revision>".
        if len(lines) >= 2:
            self.manufacturer, self.variant = lines[0], lines[1]
            # "BG95-M3" is a BG95 (captures C16): the family keys the behaviour.
            self.model = self.variant.split("-", 1)[0]
        for line in lines:
            if line.startswith("Revision:"):
                self.revision = line.split(":", 1)[1].strip()
        qgmr = self._setup("AT+QGMR", deadline).lines
        self.firmware = qgmr[0].strip() if qgmr else self.revision
        self.quirks = profile_for(self.firmware, workaround_719=self.workaround_719)
        log.info("%s: %s %s", self.channel.name, self.model, self.firmware)

    def on_reboot(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after the session was set up again following a reboot."""
        self._reboot_hooks.append(hook)

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
            except CMEError as exc:
                self.health_counter.error(exc.code)
                raise
            except CommandError:
                self.health_counter.error(None)
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
        ids = [int(i) for i in coap_ids]
        for cid in ids:
            if isinstance(cid, bool) or not 0 <= cid <= 5:
                raise ParameterError(f"CoAP client id must be 0-5: {cid}")
        closed = []
        with self.procedure():
            for cid in ids:

                def mine(urc: Urc, cid: int = cid) -> bool:
                    return urc.name == "+QCOAPCLOSE" and urc.fields[:1] == [str(cid)]

                with self.channel.expect_urc(mine) as waiter:
                    try:
                        self.command(f"AT+QCOAPCLOSE={cid}")
                    except CommandError:
                        continue  # not open: nothing left behind
                    waiter.wait(timeout)
                closed.append(cid)
                self.health_counter.recovery("coap_close")
                log.info("%s: closed CoAP client %d left open by a previous run", self, cid)
        return closed

    def health(self) -> HealthReport:
        """Reboots seen, errors by code and recovery steps run, so far."""
        return self.health_counter.report(self.channel.reboots)

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
        if self.channel.reboots != self._reboots_seen and not self._initialising:
            log.info("%s: module rebooted; setting the session up again", self.channel.name)
            self.init()

    def reboot(self, timeout: float = REBOOT_TIMEOUT) -> None:
        """Restart the module (``AT+CFUN=1,1``), wait for RDY and set up again."""
        with self.procedure(), self.channel.expect_urc("RDY") as rdy:
            # RDY can overtake the OK of the reboot command itself.
            with contextlib.suppress(ModuleRebooted):
                self.channel.command("AT+CFUN=1,1", timeout=15)
            rdy.wait(timeout)
        self.init()

    # -- protocol APIs --------------------------------------------------------------

    @cached_property
    def network(self) -> Network:
        """SIM, registration and PDP contexts."""
        return Network(self)

    @cached_property
    def ssl(self) -> SSLConfig:
        """SSL contexts (AT+QSSLCFG)."""
        return SSLConfig(self)

    @cached_property
    def files(self) -> Files:
        """The module's UFS file system."""
        return Files(self)

    @cached_property
    def http(self) -> HTTP:
        """HTTP(S) through the module's own stack (AT+QHTTP*)."""
        from lpwa.http import HTTP

        return HTTP(self)

    @cached_property
    def coap(self) -> CoAP:
        """CoAP through the module's own stack (AT+QCOAP*)."""
        from lpwa.coap.client import CoAP

        return CoAP(self)

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
