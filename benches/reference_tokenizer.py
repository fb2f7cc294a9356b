"""A pure-Python AT stream tokenizer with the same contract as ``lpwa.tokenizer``.

It is the benchmark reference (``bench_tokenizer.py``) and the differential
oracle of the Rust core (``tests/test_tokenizer_differential.py``): the same
names, the same events for the same stream, written as idiomatic Python
(``bytes.find``, ``re`` and ``bytearray``, no per-byte loops over bulk data).
The rules are design §2 and §3; the Rust sources (``rust/src/``) carry the
spec references.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple, Union

__all__ = ["DEFAULT_URCS", "Event", "Tokenizer"]

DEFAULT_URCS = (
    "RDY",
    "APP RDY",
    "POWERED DOWN",
    "NORMAL POWER DOWN",
    "UNDER_VOLTAGE POWER DOWN",
    "OVER_VOLTAGE POWER DOWN",
    "+CFUN",
    "+CPIN",
    "+QUSIM",
    "+QIND",
    "+QIURC",
    "+QHTTPGET",
    "+QHTTPPOST",
    "+QHTTPPOSTFILE",
    "+QHTTPREADFILE",
    "+QCOAPOPEN",
    "+QCOAPCLOSE",
    "+QCOAPRECV",
    "+QCOAPACK",
    "+COAPACK",
    "+QCOAPIND",
    "+CEREG",
    "+CREG",
    "+CGREG",
    "+CGEV",
    "+QSSLURC",
    "+QMTSTAT",
    "+QMTRECV",
    "+QPSMTIMER",
    "+CTZV",
    "+CTZE",
    "+QNTP",
    "+QIOPEN",
    "+QFOTADL",
    "+QGPSURC",
)

_FINALS = frozenset(
    (
        b"OK",
        b"ERROR",
        b"NO CARRIER",
        b"SEND OK",
        b"SEND FAIL",
        b"NO DIALTONE",
        b"BUSY",
        b"NO ANSWER",
    )
)
_MAX_DIGITS = 12
_U64 = 2**64
_TRAILER_SLACK = 64
# ASCII whitespace as Rust's `u8::is_ascii_whitespace` sees it (no VT).
_WS = b" \t\n\r\x0c"
_TERMINATOR = re.compile(rb"[\r\n]")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_OK_HEAD = b"\r\nOK\r\n"
_HTTPREAD = b"\r\n+QHTTPREAD: "
_CME = b"\r\n+CME ERROR: "
_QFDWL = b"\r\n+QFDWL: "
_HTTP_STARTS = (_OK_HEAD + _HTTPREAD, _CME)
_QFDWL_STARTS = (_QFDWL, _CME)
_BODY_PHASES = {"+QHTTPREAD": "http", "+QFDWL": "qfdwl", "+QFREAD": "qfread", "+QIRD": "qird"}


class Event(NamedTuple):
    """One framed piece of module output."""

    kind: str
    data: bytes
    code: int | None = None
    payload: bytes | None = None
    more: bool = False

    @property
    def name(self) -> str | None:
        if self.kind in ("line", "urc", "final") and self.data[:1] == b"+":
            return self.data.partition(b":")[0].decode("utf-8", "replace")
        return None


def _parse_int(field: bytes) -> int | None:
    field = field.strip(_WS)
    if not field or len(field) > _MAX_DIGITS or not field.isdigit():
        return None
    return int(field)


def _final_code(line: bytes) -> tuple[bool, int | None]:
    if line.startswith((b"+CME ERROR:", b"+CMS ERROR:")):
        return True, _parse_int(line[11:])
    return line in _FINALS, None


def _content_length(headers: bytes) -> int | None:
    for line in headers.split(b"\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip(_WS).lower() == b"content-length":
            return _parse_int(value)
    return None


class _Command(NamedTuple):
    name: str
    phase: str | None
    body_length: int | None
    response_header: bool


def _parse_command(line: bytes, body_length: int | None, header: bool) -> _Command | None:
    if line[:2].upper() != b"AT":
        return None
    rest = line[2:]
    if rest[:1] == b"+":
        match = re.match(rb"\+[A-Za-z0-9_]*", rest)
        assert match is not None
        name = match.group()
    elif rest[:1] == b"&" and rest[1:2].isalpha():
        name = rest[:2]
    elif rest[:1].isalpha():
        name = rest[:1]
    else:
        name = b""
    args = rest[len(name) :]
    text = ("" if name[:1] == b"+" else "AT") + name.decode("ascii").upper()
    query = args[:1] == b"?" or args.startswith(b"=?")
    phase = None if query else _BODY_PHASES.get(text)
    return _Command(text, phase, body_length, header)


class _UrcTable:
    def __init__(self) -> None:
        self.names: set[bytes] = set()
        self.prefixes: list[bytes] = []
        for urc in DEFAULT_URCS:
            self.add(urc.encode())

    def add(self, entry: bytes) -> None:
        if not entry:
            return
        if entry[:1] == b"+" and b":" not in entry:
            self.names.add(entry.upper())
        elif entry not in self.prefixes:
            self.prefixes.append(entry)

    def matches(self, line: bytes) -> bool:
        if line[:1] == b"+":
            name, colon, _ = line.partition(b":")
            if colon and name.upper() in self.names:
                return True
        return any(line.startswith(p) for p in self.prefixes)


# Trailer probes: (_NO,), (_MORE,) or (_HIT, end index, number).
_NO = (0, 0, 0)
_MORE = (1, 0, 0)
_HIT = 2


def _probe_crlf(buf: bytearray, k: int, ok: bool, value: int) -> tuple[int, int, int]:
    if k >= len(buf):
        return _MORE
    if ok and buf[k] == 13:
        if k + 1 >= len(buf):
            return _MORE
        if buf[k + 1] == 10:
            return (_HIT, k + 2, value)
    return _NO


def _count(buf: bytearray, i: int, pattern: re.Pattern[bytes], cap: int) -> int:
    match = pattern.match(buf, i, i + cap + 1)
    return match.end() - i if match else 0


_DIGITS = re.compile(rb"[0-9]*")
_HEX = re.compile(rb"[0-9A-Fa-f]*")


def _probe_number_line(buf: bytearray, i: int, prefix: bytes) -> tuple[int, int, int]:
    head = buf[i : i + len(prefix)]
    if head != prefix[: len(head)]:
        return _NO
    j = i + len(prefix)
    if j > len(buf):
        return _MORE
    digits = _count(buf, j, _DIGITS, _MAX_DIGITS)
    if digits > _MAX_DIGITS:
        return _NO
    value = int(buf[j : j + digits]) if digits else 0
    return _probe_crlf(buf, j + digits, digits > 0, value)


def _probe_qfdwl(buf: bytearray, i: int) -> tuple[int, int, int]:
    head = buf[i : i + len(_QFDWL)]
    if head != _QFDWL[: len(head)]:
        return _NO
    r = i + len(head)
    digits = _count(buf, r, _DIGITS, _MAX_DIGITS)
    if digits > _MAX_DIGITS:
        return _NO
    if r + digits >= len(buf):
        return _MORE
    if buf[r + digits] != 44 or not digits:
        return _NO
    value = int(buf[r : r + digits])
    hexdigits = _count(buf, r + digits + 1, _HEX, 8)
    if hexdigits > 8:
        return _NO
    return _probe_crlf(buf, r + digits + 1 + hexdigits, hexdigits > 0, value)


class _Body:
    """A data phase: offsets are absolute from the first body byte; ``buf``
    holds the bytes from ``base`` on."""

    def __init__(self, framing: str, total: int | None) -> None:
        self.framing = framing  # "exact", "http" or "qfdwl"
        self.total = total
        self.headers_pending = False
        self.hscan = 0
        self.body_length: int | None = None
        self.buf = bytearray()
        self.base = 0
        self.scan = 0

    def end(self) -> int:
        return self.base + len(self.buf)

    def feed(
        self, data: bytes, pos: int, stream: bool, max_body: int, out: list[Event]
    ) -> tuple[int, tuple[str, bytes, int | None] | None]:
        start = self.end()
        total = self.total
        if self.framing == "exact" and total is not None:
            take = total - start
        elif total is not None and start < total + _TRAILER_SLACK:
            take = total + _TRAILER_SLACK - start
        else:
            take = len(data) - pos
        take = min(take, len(data) - pos)
        self.buf += data[pos : pos + take]
        found = self.find_end(max_body)
        if found is None:
            if not stream:
                self.emit_chunks(max_body, out)
            return pos + take, None
        at, end, how = found
        self.emit_last(at, how[2] if how[0] in ("http", "cme") else None, stream, max_body, out)
        return pos + (end - start), how

    def flush(self, out: list[Event]) -> None:
        safe = self.safe() - self.base
        if safe > 0:
            out.append(Event("body", bytes(self.buf[:safe]), None, None, True))
            del self.buf[:safe]
            self.base += safe

    def emit_chunks(self, max_body: int, out: list[Event]) -> None:
        safe = self.safe() - self.base
        off = 0
        while safe - off > max_body:
            out.append(Event("body", bytes(self.buf[off : off + max_body]), None, None, True))
            off += max_body
        if off:
            del self.buf[:off]
            self.base += off

    def emit_last(
        self, at: int, code: int | None, stream: bool, max_body: int, out: list[Event]
    ) -> None:
        rest = self.buf[: at - self.base]
        piece = max(len(rest) if stream else max_body, 1)
        if not rest:
            out.append(Event("body", b"", code))
        for off in range(0, len(rest), piece):
            last = off + piece >= len(rest)
            chunk = bytes(rest[off : off + piece])
            out.append(Event("body", chunk, code if last else None, None, not last))
        self.buf.clear()
        self.base = at

    def safe(self) -> int:
        if self.framing == "exact":
            return self.end()
        if self.headers_pending:
            return self.base
        if self.framing == "http":
            start, starts = max(self.scan - 6, 0), _HTTP_STARTS
        else:
            start, starts = self.scan, _QFDWL_STARTS
        buf = self.buf
        i = max(start, self.base) - self.base
        while True:
            p = buf.find(b"\r", i)
            if p < 0:
                return self.end()
            for t in starts:
                head = buf[p : p + len(t)]
                if head == t[: len(head)]:
                    return self.base + p
            i = p + 1

    def find_end(self, max_body: int) -> tuple[int, int, tuple[str, bytes, int | None]] | None:
        if self.framing == "exact":
            if self.end() == self.total:
                return self.total, self.total, ("length", b"", None)
            return None
        self.find_header_end(max_body)
        self.scan = max(self.scan, self.base)
        buf = self.buf
        while True:
            q = buf.find(b"\r\n+", self.scan - self.base)
            if q < 0:
                self.scan = max(self.scan, self.end() - 2)
                return None
            q_abs = self.base + q
            state, end, value = self.probe(q, q_abs)
            if state == _MORE[0]:
                self.scan = q_abs
                return None
            if state == _NO[0]:
                self.scan = q_abs + 1
                continue
            end_abs = q_abs + end - q
            line = bytes(buf[q + 2 : end - 2])
            if line.startswith(b"+CME"):
                # Within a known length every byte is body (a server may forge it).
                if self.total is not None and q_abs < self.total:
                    self.scan = q_abs + 1
                    continue
                return q_abs, end_abs, ("cme", line, value)
            if self.framing == "qfdwl":
                return q_abs, end_abs, ("qfdwl", line, None)
            at = q_abs - 6
            # By length, any OK trailer before the end is content.
            if self.total is None or at >= self.total:
                return at, end_abs, ("http", b"OK", value)
            self.scan = q_abs + 1

    def probe(self, q: int, q_abs: int) -> tuple[int, int, int]:
        buf = self.buf
        cme = _probe_number_line(buf, q, _CME)
        if self.framing == "qfdwl":
            other = _probe_qfdwl(buf, q)
            if other[0] == _HIT and other[2] != q_abs:
                other = _NO
        elif q >= 6 and buf[q - 6 : q] == _OK_HEAD:
            other = _probe_number_line(buf, q, _HTTPREAD)
        else:
            other = _NO
        if cme[0] == _HIT:
            return cme
        if other[0] == _HIT:
            return other
        if _MORE in (cme, other):
            return _MORE
        return _NO

    def find_header_end(self, max_body: int) -> None:
        if not self.headers_pending:
            return
        limit = max(max_body, 4)
        start = self.hscan
        i = self.buf.find(b"\r\n\r\n", min(start, limit), min(len(self.buf), limit))
        if i >= 0:
            header_end = i + 4
            length = self.body_length
            if length is None:
                length = _content_length(bytes(self.buf[: i + 2]))
            self.headers_pending = False
            if length is not None and length + header_end < _U64:
                self.total = length + header_end
        elif len(self.buf) >= limit:
            self.headers_pending = False
        else:
            self.hscan = max(len(self.buf) - 3, 0)


class _Payload:
    def __init__(self, line: bytes, kind: str, want: int) -> None:
        self.line = line
        self.kind = kind
        self.want = want
        self.data = bytearray()


class Tokenizer:
    """The AT stream tokenizer: bytes in, events out (design §3)."""

    def __init__(
        self,
        urc_prefixes: Iterable[Union[bytes, str]] | None = None,
        *,
        max_line: int = 4096,
        max_body: int = 2 * 1_048_576,
        stream_bodies: bool = False,
    ) -> None:
        if max_line <= 0 or max_body <= 0:
            raise ValueError("max_line and max_body must be positive")
        self.max_line = max_line
        self.max_body = max_body
        self.stream_bodies = stream_bodies
        self._urcs = _UrcTable()
        for prefix in urc_prefixes or ():
            self._urcs.add(prefix.encode() if isinstance(prefix, str) else bytes(prefix))
        self.reset()

    def reset(self) -> None:
        self._mode: Union[_Payload, _Body, None] = None
        self._line = bytearray()
        self._discarding = False
        self._skip_lf = False
        self._echo: bytes | None = None
        self._in_flight: _Command | None = None

    @property
    def in_flight(self) -> str | None:
        return self._in_flight.name if self._in_flight else None

    @property
    def buffered(self) -> int:
        mode = self._mode
        if isinstance(mode, _Payload):
            return len(self._line) + len(mode.line) + len(mode.data)
        if isinstance(mode, _Body):
            return len(self._line) + len(mode.buf)
        return len(self._line)

    def sent(
        self, command: bytes, *, body_length: int | None = None, response_header: bool = False
    ) -> None:
        line = bytes(command).rstrip(b"\r\n")
        parsed = _parse_command(line, body_length, response_header)
        if parsed is not None:
            self._in_flight = parsed
        self._echo = line or None

    def feed(self, data: Union[bytes, bytearray, memoryview]) -> list[Event]:
        data = bytes(data)
        out: list[Event] = []
        pos, n = 0, len(data)
        while pos < n:
            if self._skip_lf:
                self._skip_lf = False
                if data[pos] == 10:
                    pos += 1
                    continue
            mode = self._mode
            if mode is None:
                pos = self._feed_lines(data, pos, out)
            elif isinstance(mode, _Payload):
                take = min(mode.want - len(mode.data), n - pos)
                mode.data += data[pos : pos + take]
                pos += take
                if len(mode.data) == mode.want:
                    out.append(Event(mode.kind, mode.line, None, bytes(mode.data)))
                    self._mode = None
            else:
                pos, end = mode.feed(data, pos, self.stream_bodies, self.max_body, out)
                if end is not None:
                    self._mode = None
                    self._body_ended(end, out)
        if self.stream_bodies and isinstance(self._mode, _Body):
            self._mode.flush(out)
        return out

    def _feed_lines(self, data: bytes, pos: int, out: list[Event]) -> int:
        line = self._line
        max_line = self.max_line
        n = len(data)
        while pos < n:
            if self._skip_lf:
                self._skip_lf = False
                if data[pos] == 10:
                    pos += 1
                    continue
            if not self._discarding:
                if not line:
                    prompt = data.startswith(b"> ", pos)
                else:
                    prompt = line == b">" and data[pos] == 32
                if prompt:
                    pos += 2 - len(line)
                    line.clear()
                    out.append(Event("prompt", b"> "))
                    continue
            match = _TERMINATOR.search(data, pos)
            if match is None:
                if not self._discarding:
                    line += data[pos : pos + max_line + 1 - len(line)]
                    if len(line) > max_line:
                        out.append(Event("invalid", bytes(line[:max_line])))
                        line.clear()
                        self._discarding = True
                return n
            j = match.start()
            self._skip_lf = data[j] == 13
            if self._discarding:
                self._discarding = False
                pos = j + 1
                continue
            if line:
                line += data[pos : min(j, pos + max_line + 1 - len(line))]
                text = bytes(line)
                line.clear()
            else:
                text = data[pos:j]
            pos = j + 1
            if self._on_line(text, out):
                return pos
        return pos

    def _on_line(self, line: bytes, out: list[Event]) -> bool:
        """One complete line; True when a data phase started."""
        if not line:
            return False
        if len(line) > self.max_line:
            out.append(Event("invalid", line[: self.max_line]))
            return False
        if _CONTROL.search(line):
            out.append(Event("invalid", line))
            return False
        if line == self._echo:
            self._echo = None
            out.append(Event("echo", line))
            return False
        if line[:2].upper() == b"AT":
            self._in_flight = _parse_command(line, None, False)
            self._echo = None
            out.append(Event("echo", line))
            return False
        is_final, code = _final_code(line)
        if is_final:
            self._in_flight = None
            self._echo = None
            out.append(Event("final", line, code))
            return False
        if line == b"CONNECT" or line.startswith(b"CONNECT "):
            code = _parse_int(line[8:]) if len(line) > 7 else None
            out.append(Event("connect", line, code))
            command = self._in_flight
            phase = command.phase if command else None
            if command and phase == "http":
                body = _Body("http", None)
                if command.response_header:
                    body.headers_pending = True
                    body.body_length = command.body_length
                else:
                    body.total = command.body_length
                self._mode = body
            elif phase == "qfdwl":
                self._mode = _Body("qfdwl", None)
            elif phase == "qfread" and code is not None:
                self._start_exact(code, out)
            return self._mode is not None
        kind = self._classify(line)
        if kind == "urc" and line == b"RDY":
            # A reboot: the command in flight is gone; buffered bytes stay.
            self._in_flight = None
            self._echo = None
        if line.startswith(b"+QCOAPRECV:"):
            comma = line.rfind(b",")
            length = _parse_int(line[comma + 1 :]) if comma >= 0 else None
            if length == 0:
                out.append(Event(kind, line, None, b""))
            elif length is not None and length <= self.max_body:
                self._mode = _Payload(line, kind, length)
                return True
            else:
                out.append(Event("invalid", line))
            return False
        out.append(Event(kind, line))
        command = self._in_flight
        if kind == "line" and command and command.phase == "qird" and line.startswith(b"+QIRD:"):
            length = _parse_int(line[6:])
            if length is not None:
                self._start_exact(length, out)
        return self._mode is not None

    def _classify(self, line: bytes) -> str:
        command = self._in_flight
        if command is None:
            return "urc"
        if line[:1] == b"+" and line.partition(b":")[0].upper() == command.name.encode():
            return "line"
        return "urc" if self._urcs.matches(line) else "line"

    def _start_exact(self, n: int, out: list[Event]) -> None:
        if n == 0:
            out.append(Event("body", b""))
        else:
            self._mode = _Body("exact", n)

    def _body_ended(self, end: tuple[str, bytes, int | None], out: list[Event]) -> None:
        how, line, code = end
        if how == "qfdwl":
            out.append(Event("line", line))
        elif how in ("http", "cme"):
            self._in_flight = None
            self._echo = None
            out.append(Event("final", line, code if how == "cme" else None))
