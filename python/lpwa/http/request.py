"""HTTP requests as the module sends them: URL checks, request heads, 719 padding.

No I/O. The module builds a request head itself when ``requestheader=0``
(:func:`module_request_head`, whose shape follows the HTTP note 1.2.1 example and
real BG96 captures); with ``requestheader=1`` the host sends the whole request
(:func:`custom_request`). Both the client and the simulator use these functions,
so the request length that the 719 bug depends on is computed in one place.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from lpwa.errors import ParameterError, ParameterTypeError
from lpwa.quirks import padding_for_719

# HTTP note 2.2: <URL_length> 1-700; 2.3: custom GET request 1-2048 bytes;
# 2.4: POST <data_length> 1-1024000.
MAX_URL = 700
MAX_CUSTOM_GET = 2048
MAX_POST = 1_024_000

# <content_type> of AT+QHTTPCFG="contenttype" (HTTP note 2.1).
CONTENT_TYPES: dict[int, str] = {
    0: "application/x-www-form-urlencoded",
    1: "text/plain",
    2: "application/octet-stream",
    3: "multipart/form-data",
}

# The headers the module itself writes (HTTP note 1.2.1).
USER_AGENT = "QUECTEL_MODULE"
PADDING_HEADER = "X-Padding"
# "X-Padding: " + CRLF: the smallest padding header we can add.
_MIN_PADDING = len(PADDING_HEADER) + 4


@dataclass(frozen=True)
class URL:
    """A URL the module accepts: ``http://`` or ``https://``, ASCII, ≤ 700 bytes."""

    text: str
    scheme: str
    host: str
    port: int
    target: str
    """The request target: path and query (``/processorder.php?a=1``)."""

    @property
    def https(self) -> bool:
        """Whether the URL is ``https://`` (TLS per the QHTTPCFG sslctxid)."""
        return self.scheme == "https"

    @property
    def host_header(self) -> str:
        """``Host:`` value: the port only when it is not the scheme's default."""
        default = 443 if self.https else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse_url(url: str) -> URL:
    """Check ``url`` against the module's rules (HTTP note 2.2) and split it."""
    if not isinstance(url, str):
        raise ParameterTypeError(f"URL must be a str, not {type(url).__name__}")
    try:
        raw = url.encode("ascii")
    except UnicodeEncodeError:
        raise ParameterError(f"URL must be ASCII (percent-encode it): {url!r}") from None
    if not 1 <= len(raw) <= MAX_URL:
        raise ParameterError(f"URL must be 1-{MAX_URL} bytes, not {len(raw)}")
    if any(b < 0x21 or b == 0x7F for b in raw):
        raise ParameterError(f"URL must not contain spaces or control bytes: {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ParameterError(f'URL must begin with "http://" or "https://": {url!r}')
    if not parts.hostname:
        raise ParameterError(f"URL has no host: {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ParameterError(f"URL has a bad port: {url!r}") from None
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return URL(url, scheme, parts.hostname, port, target)


def module_request_head(
    method: str, url: URL, *, content_type: str | None = None, content_length: int | None = None
) -> bytes:
    """The request line and headers the module writes when ``requestheader=0``."""
    lines = [
        f"{method} {url.target} HTTP/1.1",
        f"Host: {url.host_header}",
        "Accept: */*",
        f"User-Agent: {USER_AGENT}",
        "Connection: Keep-Alive",
    ]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# RFC 9110 5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_headers(headers: object) -> dict[str, str]:
    """Caller's request headers, checked: a mapping of str names (RFC 9110 tokens)
    to str values in latin-1 without CR/LF (they are sent as latin-1 bytes)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ParameterTypeError(f"headers must be a mapping, not {type(headers).__name__}")
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ParameterTypeError(f"header names and values must be str: {name!r}: {value!r}")
        if not _TOKEN.fullmatch(name):
            raise ParameterError(f"bad header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ParameterError(f"header {name!r} has a line break or NUL in its value")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ParameterError(
                f"header {name!r} has characters outside latin-1 (encode them first)"
            ) from None
        out[name] = value
    return out


def _check_header(name: str, value: str) -> None:
    check_headers({name: value})


def with_params(url: str, params: object) -> str:
    """``url`` with ``params`` (mapping or sequence of pairs, as requests takes
    them; None values left out) appended to its query, form-encoded."""
    if params is None:
        return url
    if isinstance(params, (str, bytes)):
        query = params.decode("ascii") if isinstance(params, bytes) else params
    else:
        query = urlencode(_pairs(params, "params"), doseq=True)
    if not query:
        return url
    base, hash_, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        sep = ""
    return base + sep + query + hash_ + fragment


def _pairs(value: object, what: str) -> list[tuple[str, object]]:
    items: list[tuple[object, object]]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)) and all(
        isinstance(p, tuple) and len(p) == 2 for p in value
    ):
        items = list(value)
    else:
        raise ParameterTypeError(
            f"{what} must be a mapping or a list of (name, value) pairs, not {type(value).__name__}"
        )
    out: list[tuple[str, object]] = []
    for key, val in items:
        if not isinstance(key, (str, bytes)):
            raise ParameterTypeError(f"{what} names must be str: {key!r}")
        if val is None:
            continue
        if isinstance(val, bool) or not isinstance(val, (str, bytes, int, float, list, tuple)):
            raise ParameterTypeError(f"{what} value of {key!r} must be str or a number: {val!r}")
        out.append((key.decode("utf-8") if isinstance(key, bytes) else key, val))
    return out


def encode_body(data: object, json: object) -> tuple[bytes, str | None]:
    """The POST body from ``data`` or ``json`` as requests takes them, and the
    Content-Type it implies (None: the caller's or the module's default).

    bytes-like as is, str as UTF-8, a mapping or list of pairs form-encoded
    (application/x-www-form-urlencoded), ``json`` serialised as UTF-8 JSON.
    Anything else is a ParameterError: ``bytes(123)`` would send 123 zero bytes.
    """
    if json is not None:
        if data is not None:
            raise ParameterError("give data or json, not both")
        try:
            text = _json.dumps(json, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"json is not serialisable: {exc}") from None
        return text.encode("utf-8"), "application/json"
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), None
    if isinstance(data, str):
        return data.encode("utf-8"), None
    if data is None:
        raise ParameterError("POST needs data or json (the module sends 1-1024000 bytes)")
    if isinstance(data, (Mapping, list, tuple)):
        return urlencode(_pairs(data, "data"), doseq=True).encode("ascii"), CONTENT_TYPES[0]
    raise ParameterTypeError(
        f"data must be bytes, str, a mapping or a list of pairs, not {type(data).__name__}"
    )


def custom_request(
    method: str,
    url: URL,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    *,
    content_type: str | None = None,
    padding: int = 0,
) -> bytes:
    """A whole request for ``requestheader=1``: request line, headers, body.

    Host, Accept, User-Agent and Connection default to what the module would
    send; ``headers`` override them (the Host must stay in line with the URL,
    HTTP note 1.2.1 rule 2). ``padding`` adds an ignorable ``X-Padding`` header
    of exactly that many bytes (0, or at least :data:`_MIN_PADDING`).
    """
    fields: dict[str, tuple[str, str]] = {}
    defaults = {
        "Host": url.host_header,
        "Accept": "*/*",
        "User-Agent": USER_AGENT,
        "Connection": "Keep-Alive",
    }
    for name, value in defaults.items():
        fields[name.lower()] = (name, value)
    for name, value in (headers or {}).items():
        _check_header(name, value)
        fields[name.lower()] = (name, value)
    if body is not None:
        if content_type is not None and "content-type" not in fields:
            fields["content-type"] = ("Content-Type", content_type)
        fields["content-length"] = ("Content-Length", str(len(body)))
    if padding:
        padding_header(padding)  # checks the size
        fields["x-padding"] = (PADDING_HEADER, "Z" * (padding - _MIN_PADDING))
    head = f"{method} {url.target} HTTP/1.1\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.values()
    )
    return head.encode("latin-1") + b"\r\n" + (body or b"")


def padding_header(padding: int) -> bytes:
    """An ``X-Padding`` header line of exactly ``padding`` bytes, CRLF included."""
    if padding < _MIN_PADDING:
        raise ParameterError(f"padding must be 0 or at least {_MIN_PADDING} bytes")
    return f"{PADDING_HEADER}: {'Z' * (padding - _MIN_PADDING)}\r\n".encode("latin-1")


def padding_needed(request_length: int) -> int:
    """Bytes of X-Padding header that clear bit 11 of ``request_length`` (0 if clear).

    The thread pads to the next multiple of 2048; when that gap is smaller than
    the smallest header we can add, any length up to 2047 bytes past that
    multiple also has bit 11 clear, so the smallest header does.
    """
    gap = padding_for_719(request_length)
    return 0 if gap == 0 else max(gap, _MIN_PADDING)
