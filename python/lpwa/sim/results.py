"""Byte framing of responses, final result codes and URCs (design section 2). No I/O.

With ``ATV1`` (the default) every line is ``\\r\\n<text>\\r\\n``; consecutive
information lines share one CRLF and a blank line separates them from the final
code: ``\\r\\n+A\\r\\n+B\\r\\n\\r\\nOK\\r\\n``. With ``ATV0`` information lines are
``<text>\\r\\n`` and final codes are numeric ``<n>\\r`` (V.250 6.2.6).
"""

from __future__ import annotations

from lpwa.errors import HTTP_ERROR_MEANINGS

__all__ = ["cme_text", "connect", "final", "info_block", "urc"]

CRLF = b"\r\n"

_NUMERIC = {"OK": b"0", "CONNECT": b"1", "RING": b"2", "NO CARRIER": b"3", "ERROR": b"4"}

# Verbose (AT+CMEE=2) texts: 3GPP TS 27.007 9.2 for the general ones, the Quectel
# FILE manual for 4xx, the HTTP(S) note chapter 5 for 701-730.
CME_TEXT: dict[int, str] = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    13: "SIM failure",
    14: "SIM busy",
    30: "no network service",
    50: "incorrect parameters",
    100: "unknown",
    400: "invalid input value",
    401: "larger than the size of the file",
    402: "read zero byte",
    403: "drive full",
    405: "file not found",
    406: "invalid file name",
    407: "file already existed",
    409: "fail to write the file",
    410: "fail to open the file",
    411: "fail to read the file",
    413: "reach the max number of file allowed to be opened",
    416: "invalid file descriptor",
    417: "fail to list the file",
    418: "fail to delete the file",
    421: "time out",
    423: "file too large",
    425: "invalid parameter",
    426: "file already opened",
    **HTTP_ERROR_MEANINGS,
}


def cme_text(code: int) -> str:
    """The verbose text of a CME error number."""
    return CME_TEXT.get(code, "unknown")


def _enc(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("latin-1")


def info_block(lines: list[bytes], verbose: bool = True) -> bytes:
    """Information lines as the module frames them (without the final code)."""
    if not lines:
        return b""
    if not verbose:
        return b"".join(line + CRLF for line in lines)
    return CRLF + CRLF.join(lines) + CRLF


def final(code: str, verbose: bool = True) -> bytes:
    """A final result code (``OK``, ``ERROR``...) or ``+CME ERROR: <n>`` text."""
    if not verbose:
        numeric = _NUMERIC.get(code)
        return numeric + b"\r" if numeric is not None else _enc(code) + CRLF
    return CRLF + _enc(code) + CRLF


def cme(code: int | None, cmee: int, verbose: bool = True) -> bytes:
    """The error result for CME ``code`` under ``AT+CMEE=<cmee>`` (None: plain ERROR)."""
    if code is None or cmee == 0:
        return final("ERROR", verbose)
    detail = str(code) if cmee == 1 else cme_text(code)
    return final(f"+CME ERROR: {detail}", verbose)


def connect(length: int | None = None, verbose: bool = True) -> bytes:
    """``CONNECT`` or ``CONNECT <n>`` (QFREAD) opening a data block."""
    if not verbose:
        return b"1\r"
    return final("CONNECT" if length is None else f"CONNECT {length}")


def urc(text: str | bytes, verbose: bool = True) -> bytes:
    """An unsolicited result code line."""
    return (CRLF if verbose else b"") + _enc(text) + CRLF
