"""What one module's session knows, and the procedures that set it up.

Shared by both shells (:class:`lpwa.Modem`, :class:`lpwa.aio.AsyncModem`): the
identity (``model``, ``firmware``), the quirk profile, the health counters, and
the set-up after open and after every reboot, written once as procedures.

Booting modules (issue 15): after ``AT+CFUN=1,1`` a module ignores input for some
seconds (vshymanskyy/TinyGSM issue #157: ATs unanswered between ``POWERED DOWN``
and ``RDY``; a BG95 took 13 s to ``RDY``, zephyr issue #88686), and a BG95/BG77
answers ``ERROR`` between ``RDY`` and ``APP RDY`` (zephyr PR #57110). So setting
up waits, bounded by ``READY_TIMEOUT``: the sync is retried while the module is
silent (up to ``SILENT_BOOT_TIMEOUT``, then one last attempt), the set-up commands
while they get a plain ``ERROR``, and where the model prints ``APP RDY`` and a
``RDY`` was seen, set-up waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from lpwa.at.channel import Reply, Urc
from lpwa.at.fields import quote
from lpwa.errors import ATTimeout, CMEError, CommandError, ModuleRebooted, ParameterError
from lpwa.health import Health, HealthReport
from lpwa.procedure import (
    AwaitAppReady,
    Command,
    Expect,
    Proc,
    Resync,
    Wait,
    raw_command,
    urc_after,
)
from lpwa.quirks import Quirks, profile_for

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


def is_app_rdy(urc: Urc) -> bool:
    """The URC a BG95/BG77 ends its boot with."""
    return urc.name == "APP RDY"


class Session:
    """One module's session state, and its set-up written as procedures.

    ``reboots`` reads the channel's count of ``RDY`` seen.
    """

    def __init__(
        self,
        name: str,
        reboots: Callable[[], int],
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
    ) -> None:
        self.name = name
        self._reboots = reboots
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
        self.health_counter = Health()
        """Counters behind ``health()`` (protocol APIs count their URC errors here)."""
        self._reboots_seen = reboots()
        self._reboot_hooks: list[Callable[[], None]] = []
        self._initialising = False
        self._answering = False
        # APP RDY is tracked per boot: the RDY count when it last came.
        self._app_rdy_boot = -1

    # -- state --------------------------------------------------------------------

    def on_reboot(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` after the session was set up again following a reboot
        (it must not block: it runs inside the set-up procedure)."""
        self._reboot_hooks.append(hook)

    def note_app_rdy(self, urc: Urc | None = None) -> None:
        """This boot's ``APP RDY`` came (the shells subscribe this to it)."""
        self._app_rdy_boot = self._reboots()

    def app_ready(self) -> bool:
        """Whether this boot's ``APP RDY`` came."""
        return self._app_rdy_boot == self._reboots()

    def needs_setup(self) -> bool:
        """The module rebooted since the session was last set up."""
        return self._reboots() != self._reboots_seen and not self._initialising

    def health(self) -> HealthReport:
        """Reboots seen, errors by code and recovery steps run, so far."""
        return self.health_counter.report(self._reboots())

    def count_error(self, exc: CommandError) -> None:
        """Count a command's error for ``health()``."""
        self.health_counter.error(exc.code if isinstance(exc, CMEError) else None)

    # -- procedures -----------------------------------------------------------------

    def setup(self) -> Proc[None]:
        """Sync, set the session options, and read the identity and quirks."""
        self._initialising = True
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            self._answering = False
            yield from self._sync(deadline)
            # Echo off keeps the stream lean; verbose results and numeric
            # +CME ERROR codes are what the error classes are built on.
            for line in ("ATE0", "ATV1", "AT+CMEE=1"):
                yield from self._setup(line, deadline)
            if self.urc_port is not None:
                yield from self._setup(f'AT+QURCCFG="urcport",{quote(self.urc_port)}', deadline)
            yield from self._read_identity(deadline)
            yield from self._await_app_rdy(deadline)
            self._reboots_seen = self._reboots()
        finally:
            self._initialising = False
        for hook in self._reboot_hooks:
            hook()

    def _sync(self, deadline: float) -> Proc[None]:
        # The module may still be answering a previous program, or be in data
        # mode after one was killed mid-body: prove where the stream stands.
        start = time.monotonic()
        try:
            yield Resync()
            return
        except ATTimeout as exc:
            first = exc
        # A booting module ignores input for seconds: try again until it wakes.
        silent_until = min(deadline, start + SILENT_BOOT_TIMEOUT)
        while time.monotonic() < silent_until:
            log.info("%s: no answer; the module may be booting, retrying", self.name)
            try:
                yield Resync()
                return
            except ATTimeout:
                continue
        raise ATTimeout("AT", first.timeout, f"module does not answer ({first})") from None

    def _setup(self, line: str, deadline: float) -> Proc[Reply]:
        """A set-up command, tried again while a booting module refuses it.

        Only a plain ``ERROR`` is taken for "not ready yet" (what a BG95
        answers before ``APP RDY``, zephyr PR #57110), and only until the module
        proved ready: this boot's ``APP RDY`` came, or an extended command
        (``AT+CMEE=1``) was accepted. ``+CME ERROR`` is always a real answer.
        Bounded by ``deadline``; the last refusal is raised then.
        """
        while True:
            try:
                reply = yield from raw_command(line)
                self._answering = self._answering or line.startswith("AT+")
                return reply
            except CMEError:
                raise
            except CommandError:
                if time.monotonic() >= deadline or self._answering or self.app_ready():
                    raise
            log.debug("%s: %r refused while booting; retrying", self.name, line)
            if not self.app_ready():
                yield AwaitAppReady(READY_RETRY)

    def _await_app_rdy(self, deadline: float) -> Proc[None]:
        """After a RDY on a model that prints APP RDY, wait for it (bounded)."""
        if self._reboots() == 0 or self.model not in APP_RDY_MODELS:
            return  # no boot seen (it finished before we came), or none to wait for
        # Set-up's extended commands were accepted, so the module answers: an
        # APP RDY lost in a resync (it drops what precedes its marker) must
        # not cost the whole READY_TIMEOUT.
        end = min(deadline, time.monotonic() + APP_RDY_GRACE) if self._answering else deadline
        while not self.app_ready():
            left = end - time.monotonic()
            if left <= 0:
                log.warning("%s: no APP RDY after RDY; going on", self.name)
                return
            yield AwaitAppReady(left)

    def _read_identity(self, deadline: float) -> Proc[None]:
        lines = (yield from self._setup("ATI", deadline)).lines
        # ATI: manufacturer, model, "Revision: <short revision>".
        if len(lines) >= 2:
            self.manufacturer, self.variant = lines[0], lines[1]
            # "BG95-M3" is a BG95 (captures C16): the family keys the behaviour.
            self.model = self.variant.split("-", 1)[0]
        for line in lines:
            if line.startswith("Revision:"):
                self.revision = line.split(":", 1)[1].strip()
        qgmr = (yield from self._setup("AT+QGMR", deadline)).lines
        self.firmware = qgmr[0].strip() if qgmr else self.revision
        self.quirks = profile_for(self.firmware, workaround_719=self.workaround_719)
        log.info("%s: %s %s", self.name, self.model, self.firmware)

    def recover_procedure(self, coap_ids: Iterable[int], timeout: float) -> Proc[list[int]]:
        """See :meth:`lpwa.Modem.recover`."""
        ids = [int(i) for i in coap_ids]
        for cid in ids:
            if isinstance(cid, bool) or not 0 <= cid <= 5:
                raise ParameterError(f"CoAP client id must be 0-5: {cid}")
        closed = []
        for cid in ids:

            def mine(urc: Urc, cid: int = cid) -> bool:
                return urc.name == "+QCOAPCLOSE" and urc.fields[:1] == [str(cid)]

            try:
                yield from urc_after(f"AT+QCOAPCLOSE={cid}", mine, timeout)
            except CommandError:
                continue  # not open: nothing left behind
            closed.append(cid)
            self.health_counter.recovery("coap_close")
            log.info("%s: closed CoAP client %d left open by a previous run", self.name, cid)
        return closed

    def reboot_procedure(self, timeout: float) -> Proc[None]:
        """See :meth:`lpwa.Modem.reboot`."""
        rdy = yield Expect("RDY")
        try:
            # RDY can overtake the OK of the reboot command itself.
            with contextlib.suppress(ModuleRebooted):
                yield Command("AT+CFUN=1,1", {"timeout": 15}, raw=True)
            yield Wait(rdy, timeout)
        finally:
            rdy.cancel()
        yield from self.setup()


__all__ = ["READY_TIMEOUT", "REBOOT_TIMEOUT", "Session", "is_app_rdy"]
