"""Checks of a caller's arguments, made before anything is written to the module.

Each returns the value in the form the command line needs, or raises
:class:`~lpwa.errors.ParameterTypeError` (also a ``TypeError``) for a wrong type
and :class:`~lpwa.errors.ParameterError` for a value out of range. A ``bool`` is
never a number here (``True`` for a context id is a mistake, not 1), and caller
data is never built with ``bytes(int)`` (``bytes(5)`` is five zero bytes).
No I/O.
"""

from __future__ import annotations

import math
import operator

from lpwa.errors import ParameterError, ParameterTypeError

__all__ = ["at_string", "data", "integer", "seconds", "text", "ufs_name"]

# What the UFS refuses in a file name (the simulator's rule, from the FILE manual's
# 406 "invalid file name"); the "UFS:" prefix is allowed and counted apart.
_UFS_BAD = frozenset('\\/:*?"<>|\r\n\x00')
UFS_MAX_NAME = 80
"""Longest UFS file name (HTTP note 2.5: "The max length of the file name is 80 bytes")."""


def integer(name: str, value: object, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi``; any integer type but ``bool``."""
    wrong = f"{name} must be an int, not {type(value).__name__}: {value!r}"
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise ParameterTypeError(wrong)
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:  # an __index__ that refuses (numpy.bool_)
        raise ParameterTypeError(wrong) from None
    if not lo <= number <= hi:
        raise ParameterError(f"{name} must be {lo}-{hi}: {number}")
    return number


def seconds(name: str, value: object, lo: float = 0.0, hi: float = math.inf) -> float:
    """A duration in seconds: an int or float (not ``bool``), finite, in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterTypeError(f"{name} must be a number of seconds, not {value!r}")
    number = float(value)
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ParameterError(f"{name} must be {lo:g}-{hi:g} s: {value!r}")
    return number


def text(
    name: str,
    value: object,
    *,
    min_len: int = 0,
    max_len: int | None = None,
    secret: bool = False,
) -> str:
    """A ``str`` of ``min_len..max_len`` characters (``secret``: never in a message)."""
    shown = "" if secret else f": {value!r}"
    if not isinstance(value, str):
        raise ParameterTypeError(f"{name} must be a str, not {type(value).__name__}{shown}")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        limit = f"{min_len}-{max_len}" if max_len is not None else f"at least {min_len}"
        raise ParameterError(f"{name} must be {limit} characters{shown}")
    return value


def at_string(
    name: str,
    value: object,
    *,
    min_len: int = 0,
    max_len: int | None = None,
    secret: bool = False,
) -> str:
    """A ``str`` an AT command can carry inside quotes, quoted.

    Printable ASCII only: the command line is sent as ASCII, and a quote, CR or
    LF would end the string or the command early. A ``secret`` value (a
    password) is never shown in the error message, which may be logged.
    """
    checked = text(name, value, min_len=min_len, max_len=max_len, secret=secret)
    bad = next((c for c in checked if not " " <= c <= "~" or c == '"'), None)
    if bad is not None:
        where = f"at index {checked.index(bad)}" if secret else f"{bad!r}: {checked!r}"
        raise ParameterError(f"{name} cannot be sent in an AT string (character {where})")
    return f'"{checked}"'


def ufs_name(value: object, name: str = "file name") -> str:
    """A UFS file name (optionally ``UFS:``-prefixed), quoted for the command line."""
    checked = text(name, value)
    base = checked[4:] if checked[:4].upper() == "UFS:" else checked
    if not 1 <= len(base) <= UFS_MAX_NAME:
        raise ParameterError(f"{name} must be 1-{UFS_MAX_NAME} characters: {checked!r}")
    bad = next((c for c in base if c in _UFS_BAD or not " " <= c <= "~"), None)
    if bad is not None:
        raise ParameterError(f"{name} contains {bad!r}, which the UFS refuses: {checked!r}")
    return f'"{checked}"'


def data(name: str, value: object) -> bytes:
    """Caller data as ``bytes``: only bytes-like objects (bytes, bytearray, memoryview).

    ``str`` is refused (encode it: the encoding is the caller's choice), and so is
    an ``int`` (``bytes(123)`` would be 123 zero bytes).
    """
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    hint = " (encode it first, e.g. .encode())" if isinstance(value, str) else ""
    raise ParameterTypeError(
        f"{name} must be bytes-like (bytes, bytearray, memoryview), "
        f"not {type(value).__name__}{hint}"
    )
