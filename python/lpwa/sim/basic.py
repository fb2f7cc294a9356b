"""Basic and identity commands: AT, ATE, ATV, ATI, ATZ, AT&F, AT+CMEE, AT+CGMR,
AT+QGMR, AT+CGMI/CGMM/CGSN/GSN, AT+QURCCFG.

ATE/ATV/CMEE are per port (each AT port of a Quectel module keeps its own),
reset to the power-up values by ATZ/AT&F and by every reboot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lpwa.sim.atparse import Command, Form
from lpwa.sim.engine import Registry
from lpwa.sim.params import CommandFailed, int_param, str_param

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx

__all__ = ["REGISTRY", "URC_PORTS"]

URC_PORTS = ("usbat", "usbmodem", "uart1")
"""Values of ``AT+QURCCFG="urcport"``; the simulator's TCP port is ``uart1``, its pty ``usbat``."""


def _flag(digits: str) -> bool:
    if digits in ("", "0"):
        return False
    if digits == "1":
        return True
    raise CommandFailed(None)


def ate(ctx: Ctx, digits: str) -> None:
    """ATE0/ATE1: command echo on this port."""
    ctx.channel.echo = _flag(digits)


def atv(ctx: Ctx, digits: str) -> None:
    """ATV0/ATV1: numeric or verbose result codes on this port."""
    ctx.channel.verbose = _flag(digits)


def atq(ctx: Ctx, digits: str) -> None:
    """ATQ0 only (result codes are never suppressed)."""
    if digits not in ("", "0"):
        raise CommandFailed(None)


def at_ignored(ctx: Ctx, digits: str) -> None:
    """AT&D, AT&C, AT&W: accepted, no effect on the simulation."""
    if len(digits) > 1:
        raise CommandFailed(None)


def atz(ctx: Ctx, digits: str) -> None:
    """ATZ / AT&F: restore the port's power-up settings."""
    if digits not in ("", "0"):
        raise CommandFailed(None)
    opts = ctx.module.options
    ctx.channel.echo, ctx.channel.verbose, ctx.channel.cmee = opts.echo, True, opts.cmee


def ati(ctx: Ctx, digits: str) -> None:
    """ATI: manufacturer, model and short revision."""
    if digits not in ("", "0"):
        raise CommandFailed(None)
    prof = ctx.module.profile
    ctx.info(prof.manufacturer)
    ctx.info(prof.model)
    ctx.info(f"Revision: {prof.short_revision}")


def cmee(ctx: Ctx, cmd: Command) -> None:
    """AT+CMEE: 0 plain ERROR, 1 numeric, 2 verbose ``+CME ERROR``."""
    if cmd.form is Form.TEST:
        ctx.info("+CMEE: (0-2)")
    elif cmd.form is Form.READ:
        ctx.info(f"+CMEE: {ctx.channel.cmee}")
    elif cmd.form is Form.WRITE:
        if len(cmd.args) > 1:
            raise CommandFailed(None)
        ctx.channel.cmee = int_param(cmd, 0, 0, 2, default=0)
    else:
        ctx.channel.cmee = 0


def _exec_only(cmd: Command) -> None:
    if cmd.form not in (Form.EXEC, Form.TEST):
        raise CommandFailed(None)


def cgmr(ctx: Ctx, cmd: Command) -> None:
    """AT+CGMR / AT+GMR: the short revision."""
    _exec_only(cmd)
    if cmd.form is Form.EXEC:
        ctx.info(ctx.module.profile.short_revision)


def qgmr(ctx: Ctx, cmd: Command) -> None:
    """AT+QGMR: the full revision (``BG96MAR02A07M1G_01.016.01.016``)."""
    _exec_only(cmd)
    if cmd.form is Form.EXEC:
        ctx.info(ctx.module.profile.revision)


def cgmi(ctx: Ctx, cmd: Command) -> None:
    """AT+CGMI / AT+GMI: manufacturer."""
    _exec_only(cmd)
    if cmd.form is Form.EXEC:
        ctx.info(ctx.module.profile.manufacturer)


def cgmm(ctx: Ctx, cmd: Command) -> None:
    """AT+CGMM / AT+GMM: model."""
    _exec_only(cmd)
    if cmd.form is Form.EXEC:
        ctx.info(ctx.module.profile.model)


def cgsn(ctx: Ctx, cmd: Command) -> None:
    """AT+CGSN / AT+GSN: the IMEI."""
    _exec_only(cmd)
    if cmd.form is Form.EXEC:
        ctx.info(ctx.module.options.imei)


def qurccfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QURCCFG="urcport"[,<value>]: where URCs go.

    Until it is written, URCs follow the port the last command came from (and
    go to every port before the first command); the read form then names that
    port. Writing "usbmodem" (a port the simulator does not have) sends them
    nowhere, as on a module whose URCs go to an unopened port.
    """
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info('+QURCCFG: "urcport",("usbat","usbmodem","uart1")')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    key = str_param(cmd, 0, quoted=True).lower()
    if key != "urcport" or len(cmd.args) > 2:
        raise CommandFailed(None)
    if cmd.arg(1) is None:
        ctx.info(f'+QURCCFG: "urcport","{module.effective_urc_port()}"')
        return
    value = str_param(cmd, 1, quoted=True).lower()
    if value not in URC_PORTS:
        raise CommandFailed(None)
    module.urc_port = value


REGISTRY = Registry(
    extended={
        "+CMEE": cmee,
        "+CGMR": cgmr,
        "+GMR": cgmr,
        "+QGMR": qgmr,
        "+CGMI": cgmi,
        "+GMI": cgmi,
        "+CGMM": cgmm,
        "+GMM": cgmm,
        "+CGSN": cgsn,
        "+GSN": cgsn,
        "+QURCCFG": qurccfg,
    },
    basic={
        "E": ate,
        "V": atv,
        "Q": atq,
        "I": ati,
        "Z": atz,
        "&F": atz,
        "&W": at_ignored,
        "&D": at_ignored,
        "&C": at_ignored,
    },
)
