"""Reading fields of the module's information lines, strictly.

Anything malformed (a missing line or field, a number that is not digits, out of
range or absurdly long) is a :class:`~lpwa.errors.ProtocolError` naming the
command and the line, never an ``IndexError``/``ValueError``/``OverflowError``.
No I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lpwa.errors import ProtocolError

if TYPE_CHECKING:
    from lpwa.at.channel import Reply

__all__ = ["fields", "hex_word", "number"]

# 20 digits hold any 64-bit count; longer is garbage, not a bigger number.
_DIGITS = re.compile(r"[0-9]{1,20}")
_SIGNED = re.compile(r"-?[0-9]{1,20}")
_HEX = re.compile(r"[0-9A-Fa-f]{1,4}")


def fields(reply: Reply, name: str, count: int = 1) -> list[str]:
    """The fields of ``reply``'s first ``name:`` line, at least ``count`` of them."""
    found = reply.fields(name)  # ProtocolError when there is no such line
    if len(found) < count:
        raise ProtocolError(
            f"{reply.command!r}: {name} answer has {len(found)} fields, expected {count}: {found!r}"
        )
    return found


def number(command: str, what: str, text: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    """The decimal number ``text`` (``what`` of ``command``'s answer) in ``lo..hi``."""
    stripped = text.strip()
    pattern = _SIGNED if lo < 0 else _DIGITS
    if not pattern.fullmatch(stripped):
        raise ProtocolError(f"{command!r}: {what} is not a number: {text!r}")
    value = int(stripped)
    if not lo <= value <= hi:
        raise ProtocolError(f"{command!r}: {what} {value} is outside {lo}-{hi}")
    return value


def hex_word(command: str, what: str, text: str) -> str:
    """A 16-bit hexadecimal checksum field, lowercase without leading zeros."""
    stripped = text.strip()
    if not _HEX.fullmatch(stripped):
        raise ProtocolError(f"{command!r}: {what} is not a 16-bit hex number: {text!r}")
    return format(int(stripped, 16), "x")
