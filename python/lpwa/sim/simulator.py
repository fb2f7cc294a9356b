"""``Simulator``: a simulated Quectel module served on a TCP port and a pty.

This is the public face of ``lpwa.sim``; see the package docstring for the
options, the fault methods and the decisions it encodes.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from lpwa.sim import basic, coap, files, http, network, tls
from lpwa.sim.dns import DEFAULT_HOSTS
from lpwa.sim.engine import Channel, Registry, Session
from lpwa.sim.faults import Faults
from lpwa.sim.firmware import FirmwareProfile, profile
from lpwa.sim.module import Module, Options
from lpwa.sim.ticker import UrcTicker
from lpwa.sim.transport import Port, PtyPort, TcpPort
from lpwa.sim.ufs import UFS

__all__ = ["DEFAULT_FIRMWARE", "Simulator", "TranscriptEntry"]

DEFAULT_FIRMWARE = "BG96MAR02A07M1G_01.016.01.016"


def registry() -> Registry:
    """Every command family's handlers."""
    reg = Registry()
    for family in (basic, network, files, tls, http, coap):
        reg.update(family.REGISTRY)
    return reg


@functools.lru_cache(maxsize=1)
def _shared_registry() -> Registry:
    # Handlers are plain functions and nobody edits the tables at run time:
    # every module of the process can share one (it matters in a fleet).
    return registry()


@dataclass(frozen=True)
class TranscriptEntry:
    """One chunk of AT traffic: when, which port (``uart1``/``usbat``), which way."""

    time: float
    port: str
    direction: str  # "in" (host to module) or "out"
    data: bytes


class Simulator:
    """A simulated BG96/BG95/BG77 module.

    ``Simulator(firmware=..., **options)`` then ``start()`` (or ``with``) serves it
    on ``url`` (``socket://127.0.0.1:<port>``) and ``pty`` (a pty slave path).
    Options (all keyword):

    - ``echo`` (True): ATE at power-up and after every reboot.
    - ``cmee`` (1): AT+CMEE at power-up.
    - ``time_scale`` (1.0): multiplies the module's own timers (CoAP ACK timeout
      and backoff, input_time, rsptime, wait_time, QFUPL timeout, ``+++`` guard
      times, boot delay).
    - ``hosts`` (dict name -> IP): the module's DNS, added to ``{"localhost":
      "127.0.0.1"}``; other names fail (HTTP 714, CoAP -5) unless
      ``system_dns=True`` (False by default: tests must stay on loopback).
    - ``sim_ready`` (True), ``registered`` (True): the SIM and network knobs,
      also settable as attributes at run time.
    - ``seed`` (0): seeds every random choice (CoAP auto tokens).
    - ``port`` (0 = any free port) and ``host`` ("127.0.0.1") of the TCP server;
      ``pty`` (True) to also open a pseudo-terminal.
    - ``pdp_address`` ("10.7.157.1"): printed by ``AT+QIACT?`` for context 1.
    - ``boot_delay`` (2.0 module seconds): how long a reboot takes.
    - ``app_rdy`` (None = per model: BG95/BG77 yes, BG96 no): whether boots
      end with ``APP RDY``; ``app_rdy_delay`` (None = 2.0 module seconds):
      how long after ``RDY`` it comes, most commands answering ``ERROR`` meanwhile.
    - ``http_wedge_after`` (None = off), ``http_wedge_cure`` ("reactivate" or
      "reboot"): the wedged-HTTP-stack profile (``lpwa.sim.wedge``).
    - ``coap_ack_prefix`` (None): overrides the profile's ``+QCOAPACK`` spelling
      (``"+COAPACK"`` reproduces the CoAP note's examples).
    - ``ufs_size`` (8 MiB), ``transcript_size`` (10000 chunks kept).
    - ``urc_every`` (None = off): seconds between ``+QIND: "csq",<rssi>,99``
      URCs (``lpwa.sim.ticker``), a steady URC load for fleet tests.

    Ports are read by the process's shared I/O core (``lpwa.sim.reactor``):
    a module costs no thread of its own; ``SimulatorFleet`` serves many.
    """

    def __init__(
        self,
        firmware: str = DEFAULT_FIRMWARE,
        *,
        echo: bool = True,
        cmee: int = 1,
        time_scale: float = 1.0,
        hosts: dict[str, str] | None = None,
        system_dns: bool = False,
        sim_ready: bool = True,
        registered: bool = True,
        seed: int = 0,
        port: int = 0,
        host: str = "127.0.0.1",
        pty: bool = True,
        pdp_address: str = "10.7.157.1",
        boot_delay: float = 2.0,
        coap_ack_prefix: str | None = None,
        app_rdy: bool | None = None,
        app_rdy_delay: float | None = None,
        http_wedge_after: int | None = None,
        http_wedge_cure: str = "reactivate",
        ufs_size: int = 8 * 1024 * 1024,
        transcript_size: int = 10000,
        urc_every: float | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if urc_every is not None and not urc_every > 0:
            raise ValueError("urc_every must be > 0 seconds")
        if cmee not in (0, 1, 2):
            raise ValueError("cmee must be 0, 1 or 2")
        self.profile: FirmwareProfile = profile(
            firmware,
            coap_ack_prefix=coap_ack_prefix,
            app_rdy=app_rdy,
            app_rdy_delay=app_rdy_delay,
        )
        options = Options(
            echo=echo,
            cmee=cmee,
            time_scale=time_scale,
            hosts={**DEFAULT_HOSTS, **(hosts or {})},
            system_dns=system_dns,
            seed=seed,
            pdp_address=pdp_address,
            boot_delay=boot_delay,
            ufs_size=ufs_size,
        )
        self._module = Module(self.profile, options, sim_ready=sim_ready, registered=registered)
        self._module.http_wedge.arm(http_wedge_after, http_wedge_cure)
        self._host, self._port_number, self._want_pty = host, port, pty
        self._ports: list[Port] = []
        self._sessions: list[Session] = []
        self._tcp: TcpPort | None = None
        self._pty: PtyPort | None = None
        self._transcript: deque[TranscriptEntry] = deque(maxlen=transcript_size)
        self._transcript_lock = threading.Lock()
        self._started = False
        self._urc_every = urc_every
        self._ticker: UrcTicker | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> Simulator:
        """Open the ports and power the module on; returns self."""
        if self._started:
            return self
        self._started = True
        self._tcp = TcpPort("uart1", self._host, self._port_number, tap=self._tap)
        self._ports.append(self._tcp)
        if self._want_pty:
            self._pty = PtyPort("usbat", tap=self._tap)
            self._ports.append(self._pty)
        reg = _shared_registry()
        opts = self._module.options
        for port in self._ports:
            channel = Channel(port, echo=opts.echo, cmee=opts.cmee)
            self._module.channels.append(channel)
            self._sessions.append(Session(self._module, channel, reg))
        for session in self._sessions:
            session.start()
        self._module.power_on()
        if self._urc_every is not None:
            self._ticker = UrcTicker(self._module, self._urc_every, slot=self._tcp.address[1])
            self._ticker.start()
        return self

    def close(self) -> None:
        """Stop the module and close both ports (idempotent)."""
        if self._ticker is not None:
            self._ticker.cancel()
        self._module.close()
        for port in self._ports:
            port.close()
        for session in self._sessions:
            session.join(2.0)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- where it listens ---------------------------------------------------------
    @property
    def url(self) -> str:
        """``socket://127.0.0.1:<port>`` (for ``serial.serial_for_url``)."""
        if self._tcp is None:
            raise RuntimeError("simulator not started")
        return self._tcp.url

    @property
    def address(self) -> tuple[str, int]:
        """The TCP port's (host, port)."""
        if self._tcp is None:
            raise RuntimeError("simulator not started")
        return self._tcp.address

    @property
    def pty(self) -> str:
        """The pty slave path (for ``serial.Serial``); changes after a pty drop."""
        if self._pty is None:
            raise RuntimeError("simulator has no pty (pty=False or not started)")
        return self._pty.path

    # -- module access ----------------------------------------------------------------
    @property
    def firmware(self) -> str:
        """The full revision (``AT+QGMR``)."""
        return self.profile.revision

    @property
    def faults(self) -> Faults:
        """Fault injection (see ``lpwa.sim.faults``)."""
        return self._module.faults

    @property
    def ufs(self) -> UFS:
        """The simulated UFS: ``sim.ufs["cacert.pem"] = pem``, ``sim.ufs.read(name)``."""
        return self._module.ufs

    @property
    def module(self) -> Module:
        """The module state (for inspection in tests)."""
        return self._module

    @property
    def sim_ready(self) -> bool:
        """SIM inserted and ready; setting False deactivates PDP contexts."""
        return self._module.sim_ready

    @sim_ready.setter
    def sim_ready(self, value: bool) -> None:
        self._module.sim_ready = value

    @property
    def registered(self) -> bool:
        """Registered to the network; setting False drops PDP contexts with URCs."""
        return self._module.registered

    @registered.setter
    def registered(self, value: bool) -> None:
        self._module.registered = value

    @property
    def booting(self) -> bool:
        """True between a reboot and its boot URCs."""
        return self._module.booting

    @property
    def tls_substitutions(self) -> list[str]:
        """Where TLS negotiated other than AT+QSSLCFG asked because the host's
        OpenSSL cannot (empty when every handshake was as configured); each is
        also logged once as a warning on ``lpwa.sim``."""
        with self._module.lock:
            return list(self._module.tls_substitutions)

    @property
    def ready(self) -> bool:
        """True once the last boot URC (``APP RDY`` where the model prints it) is out."""
        return not self._module.booting and self._module.app_ready

    def queue_coap_tokens(self, *tokens: bytes) -> None:
        """Tokens for the next ``AT+QCOAPHEADER=...,1`` (auto token) sends, in order,
        before the seeded RNG takes over (to replay captures such as the CoAP note's
        ``D204D52E814B``)."""
        for token in tokens:
            if not 0 < len(token) <= 8:
                raise ValueError("a token is 1 to 8 bytes")
        with self._module.coap.lock:
            self._module.coap.auto_tokens.extend(bytes(t) for t in tokens)

    def reboot(self) -> None:
        """Reboot now, as ``AT+CFUN=1,1`` does (without the OK)."""
        self._module.reboot()

    def wait_booted(self, timeout: float = 10.0) -> bool:
        """Wait until a reboot has finished (``APP RDY`` too); False on timeout."""
        deadline = time.monotonic() + timeout
        while not self.ready:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- transcript ----------------------------------------------------------------------
    def _tap(self, port: str, direction: str, data: bytes) -> None:
        with self._transcript_lock:
            self._transcript.append(TranscriptEntry(time.time(), port, direction, data))

    @property
    def transcript(self) -> list[TranscriptEntry]:
        """AT traffic so far (the last ``transcript_size`` chunks)."""
        with self._transcript_lock:
            return list(self._transcript)

    def transcript_bytes(self, direction: str = "out", port: str | None = None) -> bytes:
        """All bytes one way (``"in"``/``"out"``), optionally of one port."""
        wanted = {"socket": "uart1", "pty": "usbat"}.get(port or "", port)
        return b"".join(
            e.data
            for e in self.transcript
            if e.direction == direction and (wanted is None or e.port == wanted)
        )
