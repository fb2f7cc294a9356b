"""SIM, registration and PDP contexts: AT+CPIN, +CEREG, +CGREG, +CREG, +COPS, +CSQ,
+CFUN, +CIMI, +QCCID, +QICSGP, +QIACT, +QIDEACT, +QIDNSCFG.

The SIM and the radio are knobs (``Simulator.sim_ready``, ``Simulator.registered``)
so the HTTP note's chapter 4 checks can be exercised: without a SIM, ``AT+CPIN?``
answers ``+CME ERROR: 10`` and HTTP commands ``ERROR`` (4.1); unregistered,
``AT+QIACT`` fails (4.2); with DNS servers ``0.0.0.0`` names do not resolve (4.3).
Addresses printed here are documentation-style strings, never network targets.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.sim.atparse import Command, Form
from lpwa.sim.engine import Handler, Registry
from lpwa.sim.params import CommandFailed, int_param, max_args, str_param

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx
    from lpwa.sim.module import Module

__all__ = ["REGISTRY", "NetworkState", "PdpProfile"]

MAX_ACTIVE = 3
"""HTTP note 4.2: "maximum three PDP contexts activated simultaneously" (Cat M)."""

OPERATOR = "CHN-UNICOM"
NETWORK_DNS = ("10.7.0.53", "10.7.0.54")
NO_DNS = ("0.0.0.0", "0.0.0.0")


@dataclass
class PdpProfile:
    """``AT+QICSGP`` parameters of one context."""

    context_type: int = 1
    apn: str = ""
    username: str = ""
    password: str = ""
    authentication: int = 0


@dataclass
class NetworkState:
    """PDP contexts: profiles, active addresses and DNS servers, by context id."""

    profiles: dict[int, PdpProfile] = field(default_factory=dict)
    active: dict[int, str] = field(default_factory=dict)
    dns: dict[int, tuple[str, str]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def is_active(self, cid: int) -> bool:
        """Whether context ``cid`` is activated."""
        with self.lock:
            return cid in self.active

    def dns_servers(self, cid: int) -> tuple[str, str]:
        """The (primary, secondary) DNS servers of ``cid``."""
        with self.lock:
            return self.dns.get(cid, NO_DNS)

    def has_dns(self, cid: int) -> bool:
        """Whether ``cid`` has a usable DNS server (HTTP note 4.3: not null, not 0.0.0.0)."""
        return any(s not in ("", "0.0.0.0") for s in self.dns_servers(cid))

    def deactivate_all(self) -> list[int]:
        """Deactivate every context; return the ids that were active."""
        with self.lock:
            cids = sorted(self.active)
            self.active.clear()
            return cids


def _address(module: Module, cid: int) -> str:
    base = ipaddress.IPv4Address(module.options.pdp_address)
    return str(base + (cid - 1)) if cid > 1 else str(base)


def cpin(ctx: Ctx, cmd: Command) -> None:
    """AT+CPIN?: ``+CPIN: READY`` or ``+CME ERROR: 10`` (SIM not inserted)."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.READ:
        raise CommandFailed(None)
    if not ctx.module.sim_ready:
        raise CommandFailed(10)
    ctx.info("+CPIN: READY")


def _reg_stat(module: Module) -> int:
    # 27.007 <stat>: 1 registered home, 2 searching, 0 not searching (radio off / no SIM).
    if module.cfun != 1 or not module.sim_ready:
        return 0
    return 1 if module.registered else 2


def _registration(name: str) -> Handler:
    def handler(ctx: Ctx, cmd: Command) -> None:
        module = ctx.module
        if cmd.form is Form.TEST:
            ctx.info(f"+{name}: (0-2)")
        elif cmd.form is Form.READ:
            ctx.info(f"+{name}: {module.reg_urc.get(name, 0)},{_reg_stat(module)}")
        elif cmd.form is Form.WRITE:
            max_args(cmd, 1)
            module.reg_urc[name] = int_param(cmd, 0, 0, 2, default=0)
        else:
            raise CommandFailed(None)

    handler.__doc__ = f"AT+{name}: network registration status (27.007)."
    return handler


def cops(ctx: Ctx, cmd: Command) -> None:
    """AT+COPS?: ``+COPS: 0,0,"<operator>",8`` (8 = eMTC) when registered, else ``+COPS: 0``."""
    if cmd.form is Form.TEST:
        ctx.info(f'+COPS: (1,"{OPERATOR}","{OPERATOR}","46001",8),,(0-4),(0-2)')
    elif cmd.form is Form.READ:
        if _reg_stat(ctx.module) == 1:
            ctx.info(f'+COPS: 0,0,"{OPERATOR}",8')
        else:
            ctx.info("+COPS: 0")
    elif cmd.form is Form.WRITE:
        int_param(cmd, 0, 0, 4)
    else:
        raise CommandFailed(None)


def csq(ctx: Ctx, cmd: Command) -> None:
    """AT+CSQ: ``+CSQ: 20,99`` when registered, ``+CSQ: 99,99`` otherwise."""
    if cmd.form is Form.TEST:
        ctx.info("+CSQ: (0-31,99),(0-7,99)")
    elif cmd.form is Form.EXEC:
        ctx.info("+CSQ: 20,99" if _reg_stat(ctx.module) == 1 else "+CSQ: 99,99")
    else:
        raise CommandFailed(None)


def cfun(ctx: Ctx, cmd: Command) -> None:
    """AT+CFUN: 0 minimum, 1 full, 4 radio off; ``AT+CFUN=1,1`` answers OK and reboots."""
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info("+CFUN: (0,1,4),(0,1)")
        return
    if cmd.form is Form.READ:
        ctx.info(f"+CFUN: {module.cfun}")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 2)
    fun = int_param(cmd, 0, 0, 4, allowed=(0, 1, 4))
    rst = int_param(cmd, 1, 0, 1, default=0)
    if rst == 1:
        ctx.ok()
        module.reboot(shutdown=True)
        return
    module.cfun = fun
    if fun != 1:
        module.lose_pdp()


def cimi(ctx: Ctx, cmd: Command) -> None:
    """AT+CIMI: the IMSI (test network 001-01); ``+CME ERROR: 10`` without SIM."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.EXEC:
        raise CommandFailed(None)
    if not ctx.module.sim_ready:
        raise CommandFailed(10)
    ctx.info("001010123456789")


def qccid(ctx: Ctx, cmd: Command) -> None:
    """AT+QCCID: the ICCID."""
    if cmd.form is Form.TEST:
        return
    if cmd.form is not Form.EXEC:
        raise CommandFailed(None)
    if not ctx.module.sim_ready:
        raise CommandFailed(10)
    ctx.info("+QCCID: 89860012345678901234")


def qicsgp(ctx: Ctx, cmd: Command) -> None:
    """AT+QICSGP=<cid>[,<type>,<APN>[,<user>,<pwd>[,<auth>]]]: PDP context profile."""
    state = ctx.module.network
    if cmd.form is Form.TEST:
        ctx.info('+QICSGP: (1-16),(1-3),"APN","USERNAME","PASSWORD",(0-3)')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 6)
    cid = int_param(cmd, 0, 1, 16)
    with state.lock:
        prof = state.profiles.setdefault(cid, PdpProfile())
        if len(cmd.args) == 1:
            ctx.info(
                f'+QICSGP: {prof.context_type},"{prof.apn}","{prof.username}",'
                f'"{prof.password}",{prof.authentication}'
            )
            return
        ctype = int_param(cmd, 1, 1, 3)
        apn = str_param(cmd, 2, quoted=True, max_len=62)
        user = str_param(cmd, 3, quoted=True, default="", max_len=127)
        pwd = str_param(cmd, 4, quoted=True, default="", max_len=127)
        auth = int_param(cmd, 5, 0, 3, default=0)
        state.profiles[cid] = PdpProfile(ctype, apn, user, pwd, auth)


def qiact(ctx: Ctx, cmd: Command) -> None:
    """AT+QIACT=<cid> activates; AT+QIACT? lists ``+QIACT: <cid>,1,<type>,"<ip>"``.

    With no context active ``AT+QIACT?`` is a bare ``OK`` (a BG96 log:
    ``AT+QIACT?`` -> ``\r\nOK\r\n``, Azure/embedded-wireless-framework issue
    #20); activating an active context is ``ERROR`` (TCP/IP manual; the
    simulator's choice of plain ERROR matches the note's other QIACT failures).
    """
    module = ctx.module
    state = module.network
    if cmd.form is Form.TEST:
        ctx.info("+QIACT: (1-16)")
        return
    if cmd.form is Form.READ:
        with state.lock:
            for cid in sorted(state.active):
                ctype = state.profiles.get(cid, PdpProfile()).context_type
                ctx.info(f'+QIACT: {cid},1,{ctype},"{state.active[cid]}"')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 1)
    cid = int_param(cmd, 0, 1, 16)
    if _reg_stat(module) != 1:
        raise CommandFailed(None)  # HTTP note 4.2: check AT+CEREG? first
    with state.lock:
        if cid in state.active or len(state.active) >= MAX_ACTIVE:
            raise CommandFailed(None)
        state.active[cid] = _address(module, cid)
        if not any(s != "0.0.0.0" for s in state.dns.get(cid, NO_DNS)):
            state.dns[cid] = NETWORK_DNS
    module.http_wedge.reactivated()  # HTTP note 4.5's cure (lpwa.sim.wedge)


def qideact(ctx: Ctx, cmd: Command) -> None:
    """AT+QIDEACT=<cid>: deactivate (OK also when it was not active)."""
    state = ctx.module.network
    if cmd.form is Form.TEST:
        ctx.info("+QIDEACT: (1-16)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 1)
    cid = int_param(cmd, 0, 1, 16)
    with state.lock:
        state.active.pop(cid, None)
        state.dns.pop(cid, None)


def qidnscfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QIDNSCFG=<cid>[,<pri>[,<sec>]]: query or set the DNS servers of a context."""
    state = ctx.module.network
    if cmd.form is Form.TEST:
        ctx.info("+QIDNSCFG: (1-16),<pridnsaddr>,<secdnsaddr>")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 3)
    cid = int_param(cmd, 0, 1, 16)
    if not state.is_active(cid):
        # A plain ERROR, CMEE=1 notwithstanding, for the query and the write
        # alike: a BG96 log shows "AT+QIDNSCFG=1" -> "\r\nERROR\r\n" and the
        # write form failing the same way (Azure/embedded-wireless-framework
        # issue #20; also STM's BG96 log in Azure-Samples/iot-middleware-
        # freertos-samples issue #381: AT+QIDNSCFG=1,"8.8.8.8" -> ERROR).
        raise CommandFailed(None)
    if len(cmd.args) == 1:
        pri, sec = state.dns_servers(cid)
        ctx.info(f'+QIDNSCFG: {cid},"{pri}","{sec}"')
        return
    servers = []
    for i in (1, 2):
        text = str_param(cmd, i, quoted=True, default="0.0.0.0")
        try:
            ipaddress.ip_address(text)
        except ValueError:
            raise CommandFailed(None) from None
        servers.append(text)
    with state.lock:
        state.dns[cid] = (servers[0], servers[1])


_PDP_TYPES = ("IP", "PPP", "IPV6", "IPV4V6", "NON-IP")
_CGDCONT_TYPE = {"IP": 1, "IPV6": 2, "IPV4V6": 3}


def cgdcont(ctx: Ctx, cmd: Command) -> None:
    """AT+CGDCONT=<cid>[,<PDP_type>[,<APN>]] (27.007 10.1.1); it shares the
    profile table with AT+QICSGP, as the module's contexts are one table (the
    719 reproduction sets both: captures C11, ``AT+CGDCONT=1,"IPV4V6","TM"``).
    """
    state = ctx.module.network
    if cmd.form is Form.TEST:
        for kind in ("IP", "IPV6", "IPV4V6"):
            ctx.info(f'+CGDCONT: (1-15),"{kind}",,,(0-2),(0-4),(0-1),(0-1)')
        return
    if cmd.form is Form.READ:
        with state.lock:
            for cid in sorted(state.profiles):
                prof = state.profiles[cid]
                kind = {1: "IP", 2: "IPV6", 3: "IPV4V6"}.get(prof.context_type, "IP")
                address = state.active.get(cid, "0.0.0.0")
                ctx.info(f'+CGDCONT: {cid},"{kind}","{prof.apn}","{address}",0,0,0,0')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    cid = int_param(cmd, 0, 1, 15)
    with state.lock:
        if len(cmd.args) == 1:
            if cid in state.active:
                raise CommandFailed(None)
            state.profiles.pop(cid, None)  # 27.007: <cid> alone undefines it
            return
        kind = str_param(cmd, 1, quoted=True).upper()
        if kind not in _PDP_TYPES:
            raise CommandFailed(None)
        apn = str_param(cmd, 2, quoted=True, default="", max_len=62)
        if cid in state.active:
            raise CommandFailed(None)  # a context in use is not redefined
        prof = state.profiles.setdefault(cid, PdpProfile())
        prof.context_type = _CGDCONT_TYPE.get(kind, 1)
        prof.apn = apn


def cgact(ctx: Ctx, cmd: Command) -> None:
    """AT+CGACT=<state>[,<cid>] and AT+CGACT? (27.007 10.1.10) on the same
    contexts as AT+QIACT/AT+QIDEACT: activating an active one is OK here (27.007
    says so), unlike AT+QIACT."""
    module = ctx.module
    state = module.network
    if cmd.form is Form.TEST:
        ctx.info("+CGACT: (0,1)")
        return
    if cmd.form is Form.READ:
        with state.lock:
            for cid in sorted(set(state.profiles) | set(state.active)):
                ctx.info(f"+CGACT: {cid},{1 if cid in state.active else 0}")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 2)
    on = int_param(cmd, 0, 0, 1)
    cid = int_param(cmd, 1, 1, 16, default=1)
    with state.lock:
        if not on:
            state.active.pop(cid, None)
            state.dns.pop(cid, None)
            return
        if cid in state.active:
            return
        if _reg_stat(module) != 1 or len(state.active) >= MAX_ACTIVE:
            raise CommandFailed(None)
        state.active[cid] = _address(module, cid)
        if not any(s != "0.0.0.0" for s in state.dns.get(cid, NO_DNS)):
            state.dns[cid] = NETWORK_DNS
    module.http_wedge.reactivated()


def qcfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QCFG="nccconf"[,<value>] (HTTP note 4.3 solution 3: ``AT+QCFG=
    "nccconf",201`` enables ePCO); other AT+QCFG settings answer ERROR here."""
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info('+QCFG: "nccconf",<value>')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    max_args(cmd, 2)
    if str_param(cmd, 0, quoted=True).lower() != "nccconf":
        raise CommandFailed(None)
    arg = cmd.arg(1)
    if arg is None:
        ctx.info(f'+QCFG: "nccconf",{module.nccconf:X}')
        return
    if arg.quoted:
        raise CommandFailed(None)
    try:
        # The note writes 201 for the ePCO bit set: a hexadecimal bit mask.
        value = int(arg.text, 16)
    except ValueError:
        raise CommandFailed(None) from None
    if not 0 <= value <= 0xFFFF:
        raise CommandFailed(None)
    module.nccconf = value  # takes effect at the next registration (note 4.3)


REGISTRY = Registry(
    extended={
        "+CGDCONT": cgdcont,
        "+CGACT": cgact,
        "+QCFG": qcfg,
        "+CPIN": cpin,
        "+CEREG": _registration("CEREG"),
        "+CGREG": _registration("CGREG"),
        "+CREG": _registration("CREG"),
        "+COPS": cops,
        "+CSQ": csq,
        "+CFUN": cfun,
        "+CIMI": cimi,
        "+QCCID": qccid,
        "+QICSGP": qicsgp,
        "+QIACT": qiact,
        "+QIDEACT": qideact,
        "+QIDNSCFG": qidnscfg,
    }
)
