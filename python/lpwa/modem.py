"""The Modem facade: opens the channel, sets the session up, knows the module.

``Modem.open(port)`` syncs with the module, sets ``ATE0``, ``ATV1``, ``AT+CMEE=1``
(and the URC port when asked), reads the identity (``ATI``, ``AT+QGMR``) and picks
the firmware's quirk profile. When the module reboots (``RDY``), the session is set
up again before the next command. The protocol APIs hang off it: ``network``,
``ssl``, ``files``, ``http`` and ``coap``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import serial

from lpwa.at import ATChannel, Reply
from lpwa.at.fields import quote
from lpwa.at.procedure_lock import Lease, ProcedureLock
from lpwa.errors import ATTimeout, ModuleRebooted
from lpwa.files import Files
from lpwa.network import Network
from lpwa.quirks import Quirks, profile_for
from lpwa.ssl_config import SSLConfig

if TYPE_CHECKING:
    from lpwa.coap.client import CoAP
    from lpwa.http import HTTP

log = logging.getLogger("lpwa.modem")

# A reboot takes the module some seconds before RDY (AT+CFUN=1,1).
REBOOT_TIMEOUT = 30.0


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
        self.revision = ""
        """The short revision ``ATI`` prints (``BG96MAR02A07M1G``)."""
        self.firmware = ""
        """The full revision ``AT+QGMR`` prints (``BG96MAR02A07M1G_01.016.01.016``)."""
        self.quirks: Quirks = profile_for("")
        self._reboots_seen = channel.reboots
        self._reboot_hooks: list[Callable[[], None]] = []
        self._init_lock = threading.RLock()
        self._initialising = False
        self._procedures = ProcedureLock(channel.name, refuse=channel.on_dispatcher_thread)
        self.init()

    @classmethod
    def open(
        cls,
        port: str | serial.SerialBase,
        baudrate: int = 115200,
        *,
        urc_port: str | None = None,
        workaround_719: bool | None = None,
        **serial_options: Any,
    ) -> Modem:
        """Open ``port`` (pyserial URL, device or pty path) and set the module up.

        ``workaround_719`` forces (True) or disables (False) the error-719 padding
        of HTTPS POSTs whatever the quirk table says about this build.
        """
        channel = ATChannel.open(port, baudrate, **serial_options)
        try:
            return cls(channel, urc_port=urc_port, workaround_719=workaround_719)
        except BaseException:
            channel.close()
            raise

    # -- session ------------------------------------------------------------------

    def init(self) -> None:
        """Sync, set the session options, and read the identity and quirks."""
        with self._held("init"), self._init_lock:
            self._initialising = True
            try:
                self._sync()
                # Echo off keeps the stream lean; verbose results and numeric
                # +CME ERROR codes are what the error classes are built on.
                for line in ("ATE0", "ATV1", "AT+CMEE=1"):
                    self.channel.command(line)
                if self.urc_port is not None:
                    self.channel.command(f'AT+QURCCFG="urcport",{quote(self.urc_port)}')
                self._read_identity()
                self._reboots_seen = self.channel.reboots
            finally:
                self._initialising = False
        for hook in self._reboot_hooks:
            hook()

    def _sync(self) -> None:
        # The module may still be answering a previous program, or be in data
        # mode after one was killed mid-body: prove where the stream stands.
        try:
            self.channel.resync()
        except ATTimeout as exc:
            raise ATTimeout("AT", exc.timeout, f"module does not answer ({exc})") from None

    def _read_identity(self) -> None:
        lines = self.channel.command("ATI").lines
        # ATI: manufacturer, model, "Revision: <short revision>".
        if len(lines) >= 2:
            self.manufacturer, self.model = lines[0], lines[1]
        for line in lines:
            if line.startswith("Revision:"):
                self.revision = line.split(":", 1)[1].strip()
        qgmr = self.channel.command("AT+QGMR").lines
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
            return self.channel.command(line, **options)

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
        """Set the session up again if the module rebooted since we last looked."""
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
        self.channel.close()

    def __enter__(self) -> Modem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Modem {self.model or '?'} {self.firmware or '?'} on {self.channel.name}>"
