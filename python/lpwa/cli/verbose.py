"""``lpwa -v``: the whole AT exchange on standard error, escaped, secrets redacted.

Hooked on the channel's ``on_trace`` before the module is set up, so the session
start (``AT``, ``ATE0``, identity) shows too. Every line goes through
``lpwa.redact``, which knows per command which fields and data are secret (the
``AT+QICSGP`` password, custom request headers, ``AT+QFUPL`` of key and PSK files);
this module only frames and escapes.

    > AT+QICSGP=1,1,"internet","user","***",1\\r
    < echo    AT+QICSGP=1,1,"internet","user","***",1
    < final   OK
    > data    GET /x HTTP/1.1\\r\\nAuthorization: ***\\r\\n\\r\\n
    < body    5000 bytes: HTTP/1.1 200 OK\\r\\n…
"""

from __future__ import annotations

import threading
from typing import IO

from lpwa import redact

__all__ = ["ATTrace", "escape"]

# Body bytes kept to show the start of a body (as much as redact.data shows).
BODY_HEAD = redact.MAX_DATA
escape = redact.escape


class ATTrace:
    """An ``ATChannel.on_trace`` callback writing one line per event to ``out``.

    Called from the caller's thread (what is written) and the channel's reader
    thread (what is read); a lock keeps lines whole.
    """

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._lock = threading.Lock()
        self._command = ""  # the line in flight: the context redaction needs
        self._body_head = b""
        self._body_size = 0

    def __call__(self, direction: str, kind: str, data: bytes) -> None:
        with self._lock:
            line = self._render(direction, kind, bytes(data))
            if line is not None:
                self.out.write(line + "\n")
                self.out.flush()

    def _render(self, direction: str, kind: str, data: bytes) -> str | None:
        if direction == ">":
            if kind == "command":
                self._command = data.decode("latin-1").rstrip("\r")
                return f"> {escape(redact.command(self._command))}\\r"
            return f"> {kind:<7} {redact.data(self._command, data)}"
        if kind == "body":
            self._body(data)
            return None
        if kind == "body_end":
            self._body(data)
            size, head = self._body_size, self._body_head
            self._body_size, self._body_head = 0, b""
            shown = redact.data(self._command, head)
            if size > len(head):
                shown += f"… <{size} bytes in all>"
            return f"< body    {size} bytes: {shown}"
        text = data.decode("latin-1")
        if kind == "echo":
            text = redact.command(text.rstrip("\r"))
        elif kind != "final":
            # Information lines, URCs, CONNECT, prompts and unframed bytes alike:
            # an answer can echo a secret field (+QICSGP: …,"<password>",…).
            text = redact.response(self._command, text)
        return f"< {kind:<7} {escape(text)}"

    def _body(self, data: bytes) -> None:
        self._body_size += len(data)
        if len(self._body_head) < BODY_HEAD:
            self._body_head += data[: BODY_HEAD - len(self._body_head)]
