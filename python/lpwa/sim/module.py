"""The simulated module: options, state of every command family, URC routing, reboot.

``Module`` is shared by both AT ports. It owns the power cycle: a reboot
(``AT+CFUN=1,1``, ``sim.reboot()`` or a fault) bumps ``generation`` (running
commands and network workers notice and stop), resets echo, CMEE, QHTTPCFG, PDP
state, SSL contexts and CoAP clients, keeps the UFS, and after the boot delay
sends the boot URCs: ``RDY``, ``+CFUN: 1``, ``+CPIN: READY``, ``+QUSIM: 1``,
``+QIND: SMS DONE`` and, on BG95/BG77, ``APP RDY`` last, the profile's
``app_rdy_delay`` after ``RDY`` (issue 15); until then most commands answer
``ERROR``. While booting the UART ignores input (no echo, no answer).

URC routing: to the port named by ``AT+QURCCFG="urcport"`` once written, else to
the port the last command came from, else (before any command) to every port.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from lpwa.sim import results
from lpwa.sim.coap import CoapState
from lpwa.sim.engine import Channel
from lpwa.sim.faults import Faults
from lpwa.sim.files import FileState
from lpwa.sim.firmware import FirmwareProfile
from lpwa.sim.http import HttpState
from lpwa.sim.network import NetworkState
from lpwa.sim.reactor import shared
from lpwa.sim.tls import SslState
from lpwa.sim.ufs import UFS
from lpwa.sim.wedge import HttpWedge

__all__ = ["Module", "Options"]

log = logging.getLogger("lpwa.sim")

PORT_ALIASES = {"socket": "uart1", "tcp": "uart1", "pty": "usbat"}


@dataclass
class Options:
    """Construction options of a simulated module (see ``Simulator``)."""

    echo: bool = True
    cmee: int = 1
    time_scale: float = 1.0
    hosts: dict[str, str] = field(default_factory=dict)
    system_dns: bool = False
    seed: int = 0
    pdp_address: str = "10.7.157.1"
    boot_delay: float = 2.0
    ufs_size: int = 8 * 1024 * 1024
    imei: str = "864508030012428"


class Module:
    """State and behaviour shared by the AT ports of one simulated module."""

    def __init__(
        self,
        profile: FirmwareProfile,
        options: Options,
        *,
        sim_ready: bool = True,
        registered: bool = True,
    ) -> None:
        self.profile = profile
        self.options = options
        self.lock = threading.RLock()
        """Serialises command execution across ports."""
        self._power_lock = threading.RLock()
        self.generation = 0
        self.booting = False
        self.app_ready = True
        """False from RDY to APP RDY (BG95/BG77): most commands answer ERROR."""
        self.closed = False
        self.tls_substitutions: list[str] = []
        """What TLS negotiated other than AT+QSSLCFG asked (see ``note_tls_substitution``)."""
        self.http_wedge = HttpWedge()
        """The wedged-HTTP-stack profile (off unless armed; survives reboots)."""
        self.data_channel: Channel | None = None
        """The port in data mode (CONNECT until the final result), if any."""
        self.channels: list[Channel] = []
        self.ufs = UFS(options.ufs_size)
        self.faults = Faults(self)
        self.rng = random.Random(options.seed)
        self._sim_ready = sim_ready
        self._registered = registered
        self.cfun = 1
        self.nccconf = 0
        """``AT+QCFG="nccconf"``: non-volatile, so it survives reboots."""
        self.reg_urc: dict[str, int] = {}
        self.urc_port: str | None = None
        self.last_channel: Channel | None = None
        self.network = NetworkState()
        self.ssl = SslState()
        self.files = FileState()
        self.http = HttpState()
        self.coap = CoapState()

    # -- timers ------------------------------------------------------------------
    def scaled(self, seconds: float) -> float:
        """A module timer in real seconds."""
        return seconds * self.options.time_scale

    # -- knobs -------------------------------------------------------------------
    @property
    def sim_ready(self) -> bool:
        """Whether the (U)SIM is inserted and ready."""
        return self._sim_ready

    @sim_ready.setter
    def sim_ready(self, value: bool) -> None:
        self._sim_ready = value
        if not value:
            self.lose_pdp()

    @property
    def registered(self) -> bool:
        """Whether the network accepts the module (PS domain registered)."""
        return self._registered

    @registered.setter
    def registered(self, value: bool) -> None:
        self._registered = value
        if not value:
            self.lose_pdp()

    def lose_pdp(self) -> None:
        """The network dropped the data contexts: ``+QIURC: "pdpdeact",<cid>`` each."""
        for cid in self.network.deactivate_all():
            self.emit_urc(f'+QIURC: "pdpdeact",{cid}')

    def note_tls_substitution(self, text: str) -> None:
        """TLS could not be what the SSL context says (TLS 1.0, RC4 on a modern
        OpenSSL): record it and warn once per kind, so nobody takes the
        simulator's handshake for the module's."""
        with self.lock:
            if text in self.tls_substitutions:
                return
            self.tls_substitutions.append(text)
        log.warning("simulator TLS differs from the module's: %s", text)

    # -- URCs --------------------------------------------------------------------
    def note_command(self, channel: Channel) -> None:
        """A command arrived on ``channel`` (URCs follow it unless QURCCFG says otherwise)."""
        self.last_channel = channel

    def effective_urc_port(self) -> str:
        """The ``AT+QURCCFG="urcport"`` value in effect."""
        if self.urc_port is not None:
            return self.urc_port
        if self.last_channel is not None:
            return self.last_channel.name
        return "usbat"

    def channels_named(self, name: str | None) -> list[Channel]:
        """Channels by port name (``"socket"``/``"uart1"``, ``"pty"``/``"usbat"``); all for None."""
        if name is None:
            return list(self.channels)
        wanted = PORT_ALIASES.get(name, name)
        found = [ch for ch in self.channels if ch.name == wanted]
        if not found:
            raise ValueError(f"no port {name!r}")
        return found

    def urc_targets(self) -> list[Channel]:
        """The channels a URC goes to now."""
        if self.urc_port is not None:
            return [ch for ch in self.channels if ch.name == self.urc_port]
        if self.last_channel is not None:
            return [self.last_channel]
        return list(self.channels)

    def emit_urc(
        self, text: str | bytes, payload: bytes = b"", *, generation: int | None = None
    ) -> None:
        """Send a URC (with an optional binary payload right after its CRLF).

        ``generation`` drops it when the module rebooted since the caller started.
        """
        if self.closed or (generation is not None and generation != self.generation):
            return
        for ch in self.urc_targets():
            ch.urc(results.urc(text, ch.verbose) + payload)

    # -- power cycle ---------------------------------------------------------------
    def power_on(self) -> None:
        """First boot: every boot URC (APP RDY too) right away, to every port.

        A ``Simulator`` is ready when ``start()`` returns, so nobody has to wait
        for a boot that no test asked for.
        """
        self._send_boot_urcs(self.boot_urcs())

    def reboot(self, *, shutdown: bool = False) -> None:
        """Reset now; boot URCs after the (scaled) boot delay.

        ``shutdown`` is the orderly ``AT+CFUN=1,1`` path: ``POWERED DOWN`` and a
        stale ``+QIURC: "pdpdeact",<cid>`` per active context come first, as a
        BG96MAR02A07M1G printed them (vshymanskyy/TinyGSM issue #157: ``OK``,
        ``POWERED DOWN``, ``+QIURC: "pdpdeact",1``, unanswered ATs, ``RDY``).
        Without it (``reboot_on`` faults, ``Simulator.reboot()``) the module
        just goes silent, as on a reset pin or a brown-out.

        It does not wait for a running command: that command notices the new
        generation at its next step and unwinds without answering.
        """
        with self._power_lock:
            if shutdown:
                lines = ["POWERED DOWN"]
                lines += [f'+QIURC: "pdpdeact",{cid}' for cid in self.network.deactivate_all()]
                for ch in self.urc_targets():
                    ch.send(b"".join(results.urc(text, ch.verbose) for text in lines))
            self.generation += 1
            generation = self.generation
            self.booting = True
            self.app_ready = False
            self._reset_state()
        self._after(self.scaled(self.options.boot_delay), generation, self._boot_rdy)

    def _reset_state(self) -> None:
        self.http_wedge.rebooted()
        self.http.close()
        self.coap.close()
        self.network = NetworkState()
        self.ssl = SslState()
        self.files = FileState()
        self.http = HttpState()
        self.coap = CoapState()
        self.cfun = 1
        self.reg_urc = {}
        self.urc_port = None
        self.last_channel = None
        for ch in self.channels:
            ch.reset(echo=self.options.echo, cmee=self.options.cmee)
            ch.port.input.clear()

    def _after(self, seconds: float, generation: int, step: Callable[[int], None]) -> None:
        """``step(generation)`` after ``seconds`` real seconds on the shared
        scheduler (no thread per boot), unless closed or rebooted meanwhile."""

        def fire() -> None:
            if not self.closed and generation == self.generation:
                step(generation)

        shared().scheduler.call_later(seconds, fire)

    def _boot_rdy(self, generation: int) -> None:
        urcs = self.boot_urcs()
        app_rdy = urcs[-1:] == ["APP RDY"]
        with self._power_lock:
            if self.closed or generation != self.generation:
                return
            for ch in self.channels:
                ch.port.input.clear()
            self.booting = False
            self.app_ready = not app_rdy
            self._send_boot_urcs(urcs[:-1] if app_rdy else urcs)
        if app_rdy:
            self._after(self.scaled(self.profile.app_rdy_delay), generation, self._boot_app_rdy)

    def _boot_app_rdy(self, generation: int) -> None:
        with self._power_lock:
            if self.closed or generation != self.generation:
                return
            self.app_ready = True
            self._send_boot_urcs(["APP RDY"])

    def boot_urcs(self) -> list[str]:
        """The boot URCs of this profile and SIM state, in order.

        ``APP RDY`` comes last (issue 15; Quectel's BG96 AT manual v2.5 21.7 via
        FreeRTOS-Cellular-Interface-Reference-Quectel-BG96 issue #17: "it is
        recommended that the AT command be executed after APP RDY reporting").
        """
        urcs = ["RDY", "+CFUN: 1"]
        if self.sim_ready:
            urcs += ["+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE"]
        else:
            urcs.append("+CPIN: NOT INSERTED")
        if self.profile.app_rdy:
            urcs.append("APP RDY")
        return urcs

    def _send_boot_urcs(self, urcs: list[str]) -> None:
        for ch in self.channels:
            if ch.port.connected:
                for text in urcs:
                    ch.urc(results.urc(text, ch.verbose))

    def close(self) -> None:
        """Stop everything (network workers, CoAP sockets)."""
        self.closed = True
        self.http.close()
        self.coap.close()
