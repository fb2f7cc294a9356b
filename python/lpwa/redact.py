"""The one place lpwa removes secrets from what it logs or traces.

Every log line and trace that can carry a command, a URL, a data phase or a
module's answer goes through these functions first, where the record is made
(a filter on the ``lpwa`` logger would not see its children's records). They
redact *per command*, knowing which field of which command is secret, not by a
regex over whole lines. Pure functions: no I/O, no state, and they never raise,
whatever the input (a renderer for logs must not break the call it logs).

- :func:`url`: userinfo and secret-looking query values of a URL.
- :func:`command`: an AT command line (``AT+QICSGP`` password, ``AT+QHTTPCFG="auth"``, …).
- :func:`data`: the bytes written after ``CONNECT``/``>`` for a command, escaped.
- :func:`response`: an information line the module answered to a command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote_plus

__all__ = ["MASK", "MAX_DATA", "command", "data", "escape", "header", "response", "url"]

MASK = "***"
# Characters of a data phase shown before the rest is summarised: enough to
# recognise a request or a file, short enough to keep a log readable.
MAX_DATA = 512
# JSON bodies up to this size are parsed to mask secret-named keys ({"password": …}).
MAX_JSON = 64 * 1024

# Query parameter and header names containing one of these are secret (issue 10
# item 14: api_key, access_token, password, client_secret, X-Amz-Signature, auth).
_SECRET_WORDS = ("key", "token", "pass", "secret", "sig", "auth")
# Headers that carry credentials whatever their name says.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
# UFS file names whose content is a key: PSK files (CoAP note 3.2: "<id>_server.psk"
# holds "<identity>&<key>"), private keys (HTTP note 3.2.2.1: "clientkey.pem").
_SECRET_FILE_WORDS = ("key", "psk", "secret", "pass", "token", "cred")
_PRIVATE_KEY_MARK = b"PRIVATE KEY-----"
# QSSLCFG keys whose values are UFS file *names* (not secret in themselves).
_SSL_FILE_KEYS = frozenset({"cacert", "clientcert", "clientkey"})

_COMMAND = re.compile(r"^(\s*)(AT)?([+&]?[A-Za-z0-9]+)(.*?)(\s*)$", re.DOTALL | re.IGNORECASE)
_REQUEST_LINE = re.compile(r"^([A-Za-z]+) (\S+)( HTTP/\d(?:\.\d)?)$")
_FORM = re.compile(r"^[\w.%+~*-]+=[^&\s]*(?:&[\w.%+~*-]+=?[^&\s]*)*$")


def _is_secret_name(name: str) -> bool:
    lowered = unquote_plus(name, errors="replace").lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _redact_params(text: str) -> str:
    """``a=1&api_key=x`` → ``a=1&api_key=***`` (``&`` or ``;`` separated)."""
    parts = re.split(r"([&;])", text)
    out = []
    for part in parts:
        name, eq, value = part.partition("=")
        if eq and value and _is_secret_name(name):
            part = f"{name}={MASK}"
        out.append(part)
    return "".join(out)


def _url_token(token: str) -> str:
    scheme, sep, rest = token.partition("://")
    if not sep:
        scheme, rest = "", token
    # The authority ends at the first "/", "?" or "#"; userinfo is what precedes
    # its last "@" (RFC 3986 3.2.1; a password may itself contain "@").
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority and (sep or ":" in authority.rpartition("@")[0]):
        authority = MASK + "@" + authority.rpartition("@")[2]
    path, qmark, query = tail.partition("?")
    if qmark:
        query, hmark, fragment = query.partition("#")
    else:
        path, hmark, fragment = path.partition("#")
    out = (scheme + sep if sep else "") + authority + path
    if qmark:
        out += "?" + _redact_params(query)
    if hmark:
        # OAuth implicit grants put tokens in the fragment (#access_token=…).
        out += "#" + (_redact_params(fragment) if "=" in fragment else fragment)
    return out


def url(text: str) -> str:
    """``text`` with URL userinfo and secret query values replaced by ``***``.

    ``https://user:pw@h/p?a=1&api_key=K`` → ``https://***@h/p?a=1&api_key=***``.
    A query value is secret when its name contains key, token, pass, secret, sig
    or auth (case-insensitive). Whitespace-separated words are treated one by one,
    so a message holding a URL can be passed whole. Never raises.
    """
    try:
        if not isinstance(text, str):
            text = str(text)
        return "".join(
            _url_token(tok) if tok.strip(" \t\r\n") else tok
            # Only ASCII blanks end a word: a URL has none, a message's words do.
            for tok in re.split(r"([ \t\r\n]+)", text)
        )
    except Exception:  # a log renderer must never break the call it logs
        return "<url redacted>"


def header(line: str) -> str:
    """One ``Name: value`` header line with the value masked when the name is secret.

    Authorization, Proxy-Authorization, Cookie and Set-Cookie always; others when
    the name contains key, token, pass, secret, sig or auth (``X-Api-Key``).
    """
    name, colon, value = line.partition(":")
    if not colon:
        return line
    bare = name.strip().lower()
    if bare in _SECRET_HEADERS or _is_secret_name(bare):
        return f"{name}:{' ' if value.startswith(' ') else ''}{MASK}"
    return line


# -- AT command fields ------------------------------------------------------------


def _split_raw(params: str) -> list[str]:
    """Comma-separated fields with their quotes and spaces kept (so they rejoin exactly)."""
    return _split_outside_quotes(params, ",")


def _unquote(field: str) -> str:
    text = field.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text.strip('"')


def _mask(field: str) -> str:
    """A field replaced by ``***``, quoted as it was; an empty value stays empty."""
    if not _unquote(field):
        return field
    lead = field[: len(field) - len(field.lstrip())]
    return lead + ('"***"' if field.strip().startswith('"') else MASK)


def _mask_after_colon(field: str) -> str:
    """``"user:password"`` → ``"user:***"`` (AT+QHTTPCFG="auth")."""
    value = _unquote(field)
    user, colon, secret = value.partition(":")
    if not colon:
        return _mask(field)
    if not secret:
        return field
    return f'"{user}:{MASK}"'


def _mask_header(field: str) -> str:
    value = _unquote(field)
    masked = header(value)
    if masked == value:
        return field
    return f'"{masked}"' if field.strip().startswith('"') else masked


def _mask_indexes(*indexes: int, start: int | None = None) -> Callable[[list[str]], None]:
    def rule(fields: list[str]) -> None:
        for i in range(len(fields)):
            if i in indexes or (start is not None and i >= start):
                fields[i] = _mask(fields[i])

    return rule


def _qhttpcfg(fields: list[str]) -> None:
    # Option name first: "auth","<username>:<password>" and "custom_header","<value>"
    # (BG95 test form, captures C16). Both in the command and in its +QHTTPCFG answer.
    option = _unquote(fields[0]).lower() if fields else ""
    if len(fields) < 2:
        return
    if option == "auth":
        fields[1:] = [_mask_after_colon(f) for f in fields[1:]]
    elif option == "custom_header":
        fields[1:] = [_mask_header(f) for f in fields[1:]]


def _qsslcfg(fields: list[str]) -> None:
    # "<key>",<ctx>,<value>…: file-name keys and numbers are not secret; a key
    # whose name says psk/key/secret/pass (e.g. a build's "psk" identity+key) is.
    option = _unquote(fields[0]).lower() if fields else ""
    if option in _SSL_FILE_KEYS:
        return
    if option == "psk" or _is_secret_name(option):
        for i in range(2, len(fields)):
            fields[i] = _mask(fields[i])


def _qftpcfg(fields: list[str]) -> None:
    # AT+QFTPCFG="account","<username>","<password>" (FTP(S) AT commands manual).
    if fields and _unquote(fields[0]).lower() == "account":
        for i in range(2, len(fields)):
            fields[i] = _mask(fields[i])


# Per command (without "AT"), which fields of the command line are secret.
_COMMAND_RULES: dict[str, Callable[[list[str]], None]] = {
    # AT+QICSGP=<cid>,<type>,"<APN>","<username>","<password>",<auth> (HTTP note 2.1).
    "+QICSGP": _mask_indexes(4),
    # AT+CGAUTH=<cid>,<auth_prot>,"<userid>","<password>" (3GPP TS 27.007 10.1.31).
    "+CGAUTH": _mask_indexes(3),
    # AT+CPIN="<pin>"[,"<new pin>"], AT+CPWD=<fac>,"<old>","<new>",
    # AT+CLCK=<fac>,<mode>,"<passwd>" (3GPP TS 27.007 8.3, 8.5, 7.4).
    "+CPIN": _mask_indexes(start=0),
    "+CPWD": _mask_indexes(start=1),
    "+CLCK": _mask_indexes(start=2),
    # AT+QMTCONN=<client_idx>,"<clientID>","<username>","<password>" (MQTT manual).
    "+QMTCONN": _mask_indexes(3),
    "+QHTTPCFG": _qhttpcfg,
    "+QSSLCFG": _qsslcfg,
    "+QFTPCFG": _qftpcfg,
}

# Per information line prefix, which fields of the module's answer are secret.
_RESPONSE_RULES: dict[str, Callable[[list[str]], None]] = {
    # +QICSGP: <type>,"<APN>","<username>","<password>",<auth> (AT+QICSGP=<cid>).
    "+QICSGP": _mask_indexes(3),
    "+CGAUTH": _mask_indexes(3),
    "+QHTTPCFG": _qhttpcfg,
    "+QSSLCFG": _qsslcfg,
    "+QFTPCFG": _qftpcfg,
}


def _url_fields(fields: list[str]) -> None:
    # A quoted URL in any field (AT+QHTTPURL? on some builds, MQTT/FTP hosts).
    for i, f in enumerate(fields):
        if "://" in f or "@" in f or "?" in f:
            inner = _unquote(f)
            masked = url(inner)
            if masked != inner:
                fields[i] = f'"{masked}"' if f.strip().startswith('"') else masked


def _redact_fields(params: str, rule: Callable[[list[str]], None] | None) -> str:
    fields = _split_raw(params)
    if rule is not None:
        rule(fields)
    _url_fields(fields)
    return ",".join(fields)


def _name(line: str) -> str:
    """``AT+QFUPL="a",3`` → ``+QFUPL``; upper case, without ``AT``."""
    m = _COMMAND.match(line)
    return m.group(3).upper() if m else ""


def command(line: str) -> str:
    """An AT command line as it may be logged: its secret fields replaced by ``***``.

    ``AT+QICSGP=1,1,"apn","user","pw",1`` → ``AT+QICSGP=1,1,"apn","user","***",1``;
    also ``AT+QHTTPCFG="auth"`` and secret ``"custom_header"`` values, secret
    ``AT+QSSLCFG`` keys, ``AT+CPIN``/``CPWD``/``CLCK``/``CGAUTH``, ``AT+QMTCONN``,
    ``AT+QFTPCFG="account"`` and URLs inside quoted fields. Other commands are
    returned unchanged. Never raises.
    """
    try:
        if not isinstance(line, str):
            line = str(line)
        # Several commands on one line (AT+A=1;+B=2, V.250 6.3.1): each on its own.
        return ";".join(_one_command(part) for part in _split_outside_quotes(line, ";"))
    except Exception:  # a log renderer must never break the call it logs
        return "<command redacted>"


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _one_command(line: str) -> str:
    m = _COMMAND.match(line)
    if m is None:
        return line
    lead, at, name, rest, trail = m.groups()
    if not rest.startswith("="):
        return line
    rule = _COMMAND_RULES.get(name.upper())
    return f"{lead}{at or ''}{name}={_redact_fields(rest[1:], rule)}{trail}"


def response(command: str, line: str) -> str:
    """An information line the module answered to ``command``, secrets replaced.

    ``+QICSGP: 1,"apn","user","pw",0`` → ``+QICSGP: 1,"apn","user","***",0``.
    Lines without secrets are returned unchanged. Never raises.
    """
    try:
        if not isinstance(line, str):
            line = str(line)
        prefix, colon, rest = line.partition(":")
        if not colon or not prefix.startswith("+"):
            return line
        rule = _RESPONSE_RULES.get(prefix.strip().upper())
        if rule is None and not any(c in rest for c in "@?"):
            return line
        return f"{prefix}:{_redact_fields(rest, rule)}"
    except Exception:  # a log renderer must never break the call it logs
        return "<response redacted>"


# -- data phases -------------------------------------------------------------------


def escape(text: str) -> str:
    """Printable ASCII as is; CR, LF, TAB, backslash and the rest escaped."""
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def _render(text: str, total: int) -> str:
    if len(text) <= MAX_DATA:
        return escape(text)
    return f"{escape(text[:MAX_DATA])}… <{total} bytes in all>"


def _is_secret_file(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_FILE_WORDS)


def _request(text: str) -> str | None:
    """A custom HTTP request (request line, headers, body) with its secrets masked,
    or None when ``text`` does not start with a request line."""
    head, sep, body = text.partition("\r\n\r\n")
    if not sep:
        head, sep, body = text.partition("\n\n")
    lines = head.split("\n")
    m = _REQUEST_LINE.match(lines[0].rstrip("\r"))
    if m is None:
        return None
    cr = "\r" if lines[0].endswith("\r") else ""
    out = [f"{m.group(1)} {url(m.group(2))}{m.group(3)}{cr}"]
    for ln in lines[1:]:
        cr = "\r" if ln.endswith("\r") else ""
        out.append(header(ln.rstrip("\r")) + cr)
    return "\n".join(out) + sep + _body(body)


def _body(text: str) -> str:
    # An urlencoded form (password=…&client_secret=…) is masked like a query.
    stripped = text.strip()
    if stripped and _FORM.match(stripped):
        return _redact_params(text)
    if stripped[:1] in ("{", "[") and len(stripped) <= MAX_JSON:
        try:
            parsed = json.loads(stripped)
        except ValueError:
            return text
        masked = _mask_json(parsed)
        if masked != parsed:
            return json.dumps(masked, ensure_ascii=False)
    return text


def _mask_json(value: object) -> object:
    """A JSON value with the values of secret-named object keys masked."""
    if isinstance(value, dict):
        return {
            k: MASK if _is_secret_name(str(k)) and v not in (None, "") else _mask_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def data(command: str, payload: bytes) -> str:
    """The data phase written for ``command`` (its command line), escaped and redacted.

    - ``AT+QFUPL``/``AT+QFDWL`` of a file whose name says key, psk, secret, pass,
      token or cred (``0_server.psk``, ``clientkey.pem``), or any content holding a
      ``PRIVATE KEY``: ``<N bytes redacted>``.
    - ``AT+QHTTPURL``: the URL through :func:`url`.
    - ``AT+QHTTPGET``/``QHTTPPOST``/``QHTTPPUT`` custom requests: the request-line
      URL through :func:`url`, secret header values (:func:`header`) and secret
      form fields masked; a plain body as it is.
    - Anything longer than :data:`MAX_DATA` characters is cut, with the total length.

    Never raises.
    """
    try:
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            return f"<{type(payload).__name__} data redacted>"
        raw = bytes(payload)
        name = _name(command) if isinstance(command, str) else ""
        if _PRIVATE_KEY_MARK in raw:
            return f"<{len(raw)} bytes redacted>"
        if name in ("+QFUPL", "+QFDWL"):
            params = _COMMAND.match(command)
            rest = params.group(4) if params else ""
            first = _split_raw(rest[1:])[0] if rest.startswith("=") else ""
            if _is_secret_file(_unquote(first)):
                return f"<{len(raw)} bytes redacted>"
        text = raw.decode("latin-1")
        if name == "+QHTTPURL":
            text = url(text)
        elif name in ("+QHTTPGET", "+QHTTPPOST", "+QHTTPPUT"):
            request = _request(text)
            text = request if request is not None else _body(text)
        return _render(text, len(raw))
    except Exception:  # a log renderer must never break the call it logs
        return "<data redacted>"
