"""The simplest idiomatic pure-Python AT tokenizer: the one a careful Python
programmer writes in an afternoon (``bytearray`` + ``find``), as the second
benchmark reference of ``bench_batch.py`` (next to the full-contract
``reference_tokenizer.py``).

It frames what a typical stream holds: echo lines, information lines, finals,
URCs (a prefix table; everything is a URC with no command in flight),
``> `` prompts, ``+QCOAPRECV`` payloads and ``AT+QHTTPREAD`` bodies of a
declared length (then the ``OK`` / ``+QHTTPREAD: <err>`` trailer). No limits,
no trailer-framed bodies, no other data phases: it is a yardstick, not a
contract. Events are ``(kind, data)`` tuples.
"""

from __future__ import annotations

URC_PREFIXES = (b"RDY", b"APP RDY", b"POWERED DOWN", b"+CFUN:", b"+CPIN:", b"+QIND:")
URC_PREFIXES += (b"+QIURC:", b"+QHTTPGET:", b"+QHTTPPOST:", b"+QCOAPRECV:", b"+QCOAPACK:")
URC_PREFIXES += (b"+QCOAPOPEN:", b"+QCOAPCLOSE:", b"+CEREG:", b"+CREG:", b"+CGREG:", b"+QNTP:")
FINALS = frozenset((b"OK", b"ERROR", b"NO CARRIER", b"SEND OK", b"SEND FAIL"))


class SimpleTokenizer:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.echo: bytes | None = None  # the echo of the last sent() line
        self.command: bytes | None = None  # b"+QHTTPREAD", b"I"…
        self.body_length: int | None = None
        self.want = 0  # raw bytes still to read (a body or a payload)
        self.skip_lf = False  # the \n of a \r\n split across reads
        self.coap_line: bytes | None = None  # the +QCOAPRECV line awaiting its payload

    def sent(self, command: bytes, body_length: int | None = None) -> None:
        self.echo = command.rstrip(b"\r\n")
        self.command = self.echo[2:].partition(b"=")[0].partition(b"?")[0] or b"AT"
        self.body_length = body_length

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        buf = self.buf
        buf += data
        out: list[tuple[str, bytes]] = []
        pos = 0
        while pos < len(buf):
            if self.skip_lf:
                self.skip_lf = False
                pos += buf[pos] == 10
                continue
            if self.want:
                if len(buf) - pos < self.want:
                    break
                raw = bytes(buf[pos : pos + self.want])
                pos += self.want
                self.want = 0
                out.append(("urc", self.coap_line) if self.coap_line else ("body", raw))
                self.coap_line = None
            elif buf.startswith(b"> ", pos):
                out.append(("prompt", b"> "))
                pos += 2
            else:
                end = buf.find(b"\r", pos)
                if end < 0:
                    break
                line = bytes(buf[pos:end]).lstrip(b"\n")
                pos = end + 1
                self.skip_lf = True
                event = self._line(line) if line else None
                if event is not None:
                    out.append(event)
        del buf[:pos]
        return out

    def _line(self, line: bytes) -> tuple[str, bytes] | None:
        if line == self.echo:
            self.echo = None
            return ("echo", line)
        if line[:2] == b"AT":
            self.sent(line)
            return ("echo", line)
        if line in FINALS or line.startswith(b"+CME ERROR:"):
            self.command = self.echo = None
            return ("final", line)
        if line.startswith(b"CONNECT"):
            if self.command == b"+QHTTPREAD" and self.body_length:
                self.want, self.body_length = self.body_length, None
            return ("connect", line)
        if line.startswith(b"+QHTTPREAD:"):
            return None  # the trailer's error code, part of the body
        if line.startswith(b"+QCOAPRECV:"):
            self.want = int(line.rpartition(b",")[2])
            if self.want:
                self.coap_line = line
                return None
            return ("urc", line)
        if self.command is None:
            return ("urc", line)
        if line.partition(b":")[0] == self.command or not line.startswith(URC_PREFIXES):
            return ("line", line)  # the command's own response, or unknown
        return ("urc", line)
