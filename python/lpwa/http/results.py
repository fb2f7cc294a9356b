"""Parsers of what the module answers to the HTTP procedures, strict and total.

Every function takes module text and returns typed values or raises
:class:`~lpwa.errors.ProtocolError`: never ``IndexError``, ``ValueError`` or
``OverflowError`` whatever the wire says (issue 10 item 12; fuzzed in
``tests/test_http_parsers.py``). Numbers are ASCII digits only (``str.isdigit``
also accepts ``"²"``, which ``int()`` refuses) and bounded, so a 25-digit
``<content_length>`` is a ProtocolError rather than a number nobody can use.
No I/O.
"""

from __future__ import annotations

import re

from lpwa.errors import ProtocolError

__all__ = [
    "MAX_LENGTH",
    "cfg_value",
    "parse_head",
    "parse_result",
    "qflds_space",
    "qflst_size",
    "qfopen_handle",
    "qfwrite_count",
    "readfile_err",
]

# A body or file larger than this cannot come from a module whose UFS and POST
# limits are megabytes; 2**40 also stays far below what Python slices can hold.
MAX_LENGTH = 1 << 40
_DIGITS = re.compile(r"[0-9]{1,13}")
_STATUS_LINE = re.compile(r"HTTP/[0-9]\.[0-9] ([1-9][0-9]{2})(?: (.*))?")


def _number(text: str, what: str, source: str, limit: int = MAX_LENGTH) -> int:
    field = text.strip()
    if not _DIGITS.fullmatch(field):
        raise ProtocolError(f"{what} is not a number in {source!r}")
    value = int(field)
    if value > limit:
        raise ProtocolError(f"{what} {value} is out of range in {source!r}")
    return value


def _fields(text: str, name: str) -> list[str]:
    """The comma-separated fields after ``name:`` (no quotes expected)."""
    prefix = name + ":"
    if not text.startswith(prefix):
        raise ProtocolError(f"expected {prefix!r}, got {text!r}")
    rest = text[len(prefix) :].strip()
    return [f.strip().strip('"') for f in rest.split(",")] if rest else []


def parse_result(text: str, name: str) -> tuple[int, int, int | None]:
    """``+QHTTPGET: <err>[,<httprspcode>[,<content_length>]]`` → (err, status, length).

    The same shape for ``+QHTTPPOST`` and ``+QHTTPPOSTFILE`` (HTTP note 2.3-2.5):
    one field when err is not 0, status (100-999) and an optional length when it is.
    """
    fields = _fields(text, name)
    if not 1 <= len(fields) <= 3:
        raise ProtocolError(f"bad result URC: {text!r}")
    err = _number(fields[0], "<err>", text, 65535)
    if err != 0:
        if len(fields) != 1:
            raise ProtocolError(f"result URC with an error and more fields: {text!r}")
        return err, 0, None
    if len(fields) < 2:
        raise ProtocolError(f"result URC without status code: {text!r}")
    status = _number(fields[1], "<httprspcode>", text, 999)
    if status < 100:
        raise ProtocolError(f"<httprspcode> {status} is not an HTTP status in {text!r}")
    length = _number(fields[2], "<content_length>", text) if len(fields) == 3 else None
    return 0, status, length


def readfile_err(text: str) -> int:
    """``+QHTTPREADFILE: <err>`` (HTTP note 2.7) → err."""
    fields = _fields(text, "+QHTTPREADFILE")
    if len(fields) != 1:
        raise ProtocolError(f"bad +QHTTPREADFILE URC: {text!r}")
    return _number(fields[0], "<err>", text, 65535)


def qfopen_handle(line: str) -> int:
    """``+QFOPEN: <filehandle>`` → the handle."""
    fields = _fields(line, "+QFOPEN")
    if len(fields) != 1:
        raise ProtocolError(f"bad +QFOPEN answer: {line!r}")
    return _number(fields[0], "<filehandle>", line)


def qflst_size(lines: tuple[str, ...] | list[str], name: str) -> int | None:
    """The size of ``name`` in ``+QFLST: "<name>",<size>`` lines, None if absent."""
    for line in lines:
        if not line.startswith("+QFLST:"):
            continue
        fields = _fields(line, "+QFLST")
        if len(fields) != 2:
            raise ProtocolError(f"bad +QFLST answer: {line!r}")
        listed = fields[0].removeprefix("UFS:")
        if listed == name.removeprefix("UFS:"):
            return _number(fields[1], "<file_size>", line)
    return None


def qflds_space(line: str) -> tuple[int, int]:
    """``+QFLDS: <free_size>,<total_size>`` → (free, total)."""
    fields = _fields(line, "+QFLDS")
    if len(fields) != 2:
        raise ProtocolError(f"bad +QFLDS answer: {line!r}")
    return _number(fields[0], "<free_size>", line), _number(fields[1], "<total_size>", line)


def qfwrite_count(line: str) -> tuple[int, int]:
    """``+QFWRITE: <written_length>,<total_length>`` → (written, total)."""
    fields = _fields(line, "+QFWRITE")
    if len(fields) != 2:
        raise ProtocolError(f"bad +QFWRITE answer: {line!r}")
    return _number(fields[0], "<written_length>", line), _number(fields[1], "<total>", line)


def cfg_value(line: str) -> tuple[str, int] | None:
    """``+QHTTPCFG: "<key>",<value>`` → (key, value); None for lines of other shapes."""
    fields = _fields(line, "+QHTTPCFG")
    if len(fields) != 2 or not _DIGITS.fullmatch(fields[1]):
        return None
    return fields[0].lower(), int(fields[1])


def parse_head(head: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    """``HTTP/1.1 200 OK\\r\\nName: value\\r\\n…`` (without the blank line).

    Returns (status, reason, header pairs). A head arrives from the server, so
    anything is possible: only the shape RFC 9112 gives is accepted.
    """
    lines = head.decode("latin-1").split("\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError(f"bad HTTP status line from the module: {lines[0][:200]!r}")
    pairs = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"bad HTTP header line from the module: {line[:200]!r}")
        pairs.append((name, value.strip(" \t")))
    return int(match.group(1)), match.group(2) or "", pairs
