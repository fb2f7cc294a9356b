"""Typed access to command parameters with the spec's ranges. No I/O.

Every check raises ``CommandFailed`` with the error the command family reports
for a bad parameter: ``+CME ERROR: 730`` for the QHTTP* commands (HTTP note,
chapter 5: "Invalid parameter"), plain ``ERROR`` for the QCOAP* commands ("If
there is any error: ERROR", CoAP note 3.3), and so on.
"""

from __future__ import annotations

from lpwa.sim.atparse import Command

__all__ = ["CommandFailed", "int_param", "str_param"]


class CommandFailed(Exception):
    """A command ends in an error: ``+CME ERROR: <cme>``, or ``ERROR`` when cme is None."""

    def __init__(self, cme: int | None = None) -> None:
        self.cme = cme
        super().__init__("ERROR" if cme is None else f"+CME ERROR: {cme}")


def parse_int(text: str) -> int | None:
    """Decimal, or ``0x`` hexadecimal; None when not a number."""
    t = text.strip()
    try:
        if t.lower().startswith("0x"):
            return int(t[2:], 16)
        if t.isdigit() or (t.startswith("-") and t[1:].isdigit()):
            return int(t)
    except ValueError:
        return None
    return None


def int_param(
    cmd: Command,
    index: int,
    lo: int,
    hi: int,
    *,
    default: int | None = None,
    error: int | None = None,
    allowed: tuple[int, ...] | None = None,
) -> int:
    """Integer parameter ``index`` within ``lo..hi`` (or in ``allowed``)."""
    arg = cmd.arg(index)
    if arg is None:
        if default is None:
            raise CommandFailed(error)
        return default
    if arg.quoted:
        raise CommandFailed(error)
    value = parse_int(arg.text)
    if value is None or not lo <= value <= hi or (allowed is not None and value not in allowed):
        raise CommandFailed(error)
    return value


def str_param(
    cmd: Command,
    index: int,
    *,
    default: str | None = None,
    error: int | None = None,
    max_len: int | None = None,
    quoted: bool = False,
) -> str:
    """String parameter ``index`` (quoted when ``quoted`` is True), at most ``max_len``."""
    arg = cmd.arg(index)
    if arg is None:
        if default is None:
            raise CommandFailed(error)
        return default
    if quoted and not arg.quoted:
        raise CommandFailed(error)
    if max_len is not None and len(arg.text) > max_len:
        raise CommandFailed(error)
    return arg.text


def max_args(cmd: Command, count: int, error: int | None = None) -> None:
    """Reject a write command with more than ``count`` parameters."""
    if len(cmd.args) > count:
        raise CommandFailed(error)
