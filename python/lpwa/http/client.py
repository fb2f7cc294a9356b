"""``modem.http``: HTTP(S) requests through the module's stack (AT+QHTTP*).

A request is one *procedure* (:mod:`lpwa.procedure`), written once in
:class:`HTTPProcedures` and run by the sync facade :class:`HTTP` (held against
every other thread) or the asyncio one :class:`AsyncHTTP`: check every argument
against the HTTP note's ranges (nothing is sent if one is off), set the QHTTPCFG
keys the request needs, send the URL (AT+QHTTPURL) and the request (AT+QHTTPGET /
QHTTPPOST / QHTTPPOSTFILE), wait for its URC
``+QHTTP…: <err>[,<httprspcode>[,<content_length>]]``, read the body (``body``:
by length, or through a UFS file when the length is unknown), and put the
QHTTPCFG keys back as the caller had them. A ``stream=True`` response keeps
the module (a lease) until its body is read or it is closed.

Timeouts come from the note's documented maxima and the caller's parameters:

- the request command: ``CONNECT`` "may be output in 125s" (2.3, 2.4), then the
  host's data within ``<input_time>``; QHTTPPOSTFILE answers ``OK`` only once the
  server is connected (2.5), so up to the longer of 125 s and ``<rsptime>``;
- the result URC: ``<rsptime>`` after ``OK`` (2.3-2.5);
- the body: ``<wait_time>`` is "the maximum interval time between receiving two
  packets" (2.6, 2.7), so it bounds silences, never the whole transfer.

``timeout=`` (seconds, as requests users pass it) is how long to wait for the
server's answer: it sets both ``<rsptime>`` and ``<wait_time>``, rounded up to
whole seconds (1-65535).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

from lpwa import redact
from lpwa.at.fields import quote
from lpwa.errors import (
    CommandError,
    HTTPBusyError,
    HTTPDNSError,
    HTTPNetworkConfigError,
    HTTPNetworkDeactivatedError,
    HTTPNetworkError,
    HTTPSocketClosedError,
    HTTPUARTBusyError,
    LpwaError,
    ParameterError,
    ParameterTypeError,
    ProtocolError,
    http_error,
)
from lpwa.files import FilesProcedures
from lpwa.http.body import UFS, FileBody, RawBody, ReadBody, check_file_name, discard, temp_name
from lpwa.http.reader import BodyReader
from lpwa.http.request import (
    CONTENT_TYPES,
    MAX_CUSTOM_GET,
    MAX_POST,
    URL,
    check_headers,
    custom_request,
    encode_body,
    module_request_head,
    padding_header,
    padding_needed,
    parse_url,
    with_params,
)
from lpwa.http.response import Headers, Progress, Response
from lpwa.http.results import cfg_value, parse_result
from lpwa.procedure import (
    Api,
    Awaiting,
    Blocking,
    EnsureSession,
    K,
    Lease,
    Proc,
    Sleep,
    command,
    procedure,
    urc_after,
)
from lpwa.quirks import QHTTPPOST, QHTTPPOSTFILE, affected_by_719
from lpwa.session import REBOOT_TIMEOUT

if TYPE_CHECKING:
    from lpwa.aio.modem import AsyncModem
    from lpwa.network import NetworkProcedures
    from lpwa.session import Session

log = logging.getLogger("lpwa.http")

# QHTTPCFG keys of the HTTP note 2.1 and their ranges.
HTTP_KEYS: dict[str, range] = {
    "contextid": range(1, 17),
    "requestheader": range(0, 2),
    "responseheader": range(0, 2),
    "sslctxid": range(0, 6),
    "contenttype": range(0, 4),
}
# The note's defaults (2.1), assumed for keys a module does not list in AT+QHTTPCFG?.
CFG_DEFAULTS = {
    "contextid": 1,
    "requestheader": 0,
    "responseheader": 0,
    "sslctxid": 1,
    "contenttype": 0,
}
# "CONNECT may be output in 125s" (HTTP note 2.3, 2.4).
CONNECT_TIME = 125
# Slack on top of the module's own timers, for the UART and a busy host.
MARGIN = 5.0
# Silence beyond <wait_time> before we give up on a body: the module reports
# its own wait_time expiry (HTTP note 2.6), so ours only needs to come later.
IDLE_MARGIN = 2.0
SECONDS = range(1, 65536)  # rsptime, input_time, wait_time: 1-65535 s
DEFAULT_TIME = 60
T = TypeVar("T")


def _seconds(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"{name} must be an int of seconds, not {value!r}")
    if value not in SECONDS:
        raise ParameterError(f"{name} must be 1-65535 s: {value}")
    return value


def timeout_seconds(timeout: object) -> int:
    """``timeout=`` in seconds (int or float) as the module's whole seconds:
    rounded up, 1-65535; negative, zero, NaN or too large is a ParameterError."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ParameterTypeError(f"timeout must be a number of seconds, not {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ParameterError(f"timeout must be positive: {timeout!r}")
    value = math.ceil(timeout)
    if value not in SECONDS:
        raise ParameterError(f"timeout must be at most 65535 s: {timeout!r}")
    return value


def check_wait(wait_time: object) -> int:
    """``wait_time`` checked: an int of seconds, 1-65535."""
    return _seconds("wait_time", wait_time)


def _times(timeout: object, rsptime: object, wait_time: object) -> tuple[int, int]:
    """(rsptime, wait_time) from ``timeout=`` or the module's own parameters."""
    if timeout is not None:
        if rsptime is not None or wait_time is not None:
            raise ParameterError("give timeout= or rsptime=/wait_time=, not both")
        seconds = timeout_seconds(timeout)
        return seconds, seconds
    return (
        _seconds("rsptime", DEFAULT_TIME if rsptime is None else rsptime),
        _seconds("wait_time", DEFAULT_TIME if wait_time is None else wait_time),
    )


def _options(stream: object, on_progress: object, retries: object) -> None:
    if not isinstance(stream, bool):
        raise ParameterTypeError(f"stream must be True or False, not {stream!r}")
    if on_progress is not None and not callable(on_progress):
        raise ParameterTypeError("on_progress must be callable")
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise ParameterTypeError(f"retries must be an int, not {retries!r}")
    if not 0 <= retries <= 10:
        raise ParameterError(f"retries must be 0-10: {retries}")


class HTTPProcedures:
    """HTTP(S) client of one module, as procedures (driven by :class:`HTTP` and
    :class:`AsyncHTTP`).

    ``session`` gives the quirks, identity, health counters and reboot hook;
    ``network`` re-activates the PDP context and ``files`` reads a UFS file for
    the recovery ladder and the 719 padding. Keep QHTTPCFG changes to
    :meth:`config`, which knows them; a raw ``AT+QHTTPCFG`` sent with
    ``modem.command`` is not seen until the module reboots.
    """

    def __init__(
        self,
        session: Session,
        network: NetworkProcedures,
        files: FilesProcedures | None = None,
        *,
        response_headers: bool = True,
    ) -> None:
        self._session = session
        self._network = network
        self._files = FilesProcedures(session) if files is None else files
        self._ufs = UFS()
        self.shell: Any = None
        """The shell the responses run their body procedures in (set by the facade)."""
        self.asynchronous = False
        """Whether that shell is the asyncio one."""
        self._known: dict[str, int] = {}
        """The module's QHTTPCFG values as lpwa last saw or left them."""
        self.response_headers = response_headers
        """Read the status line and headers into ``Response.headers``: lpwa turns
        ``responseheader`` on for the request and its body, then back as it was."""
        self._learned_719: set[str] = set()
        """POST commands this module failed with 719 on (kept while the Modem is)."""
        # Re-entrant: a Response finaliser (garbage collection) may run while this
        # very thread holds it. Held only for the few lines that swap the lists,
        # never across a step.
        self._pending_lock = threading.RLock()
        self._orphans: list[tuple[str, int | None]] = []
        self._unrestored: dict[str, int] = {}
        self._swept = False
        session.on_reboot(self._known.clear)

    def bind(self, shell: Any, *, asynchronous: bool) -> None:
        """The shell that runs the procedures (a response's body runs in it too)."""
        self.shell = shell
        self.asynchronous = asynchronous

    # -- configuration ------------------------------------------------------------

    def config(self, /, **keys: int) -> Proc[dict[str, int]]:
        """Set QHTTPCFG keys (all checked before any is sent); return all current values.

        Keys: ``contextid`` 1-16, ``requestheader`` 0/1, ``responseheader`` 0/1,
        ``sslctxid`` 0-5, ``contenttype`` 0-3 (HTTP note 2.1). These are the
        caller's values: a request that needs another value for a key sets it
        for its own duration and puts the caller's back afterwards.
        """
        for key, value in keys.items():
            if key not in HTTP_KEYS:
                raise ParameterError(f"unknown QHTTPCFG key {key!r}; known: {', '.join(HTTP_KEYS)}")
            if isinstance(value, bool) or not isinstance(value, int):
                raise ParameterTypeError(f"{key} must be an int, not {value!r}")
            if value not in HTTP_KEYS[key]:
                rng = HTTP_KEYS[key]
                raise ParameterError(f"{key} must be {rng.start}-{rng.stop - 1}: {value!r}")
        yield from self._cleanup()
        for key, value in keys.items():
            yield from self._set(key, value)
        yield from self._read_config()
        return dict(self._known)

    def _read_config(self) -> Proc[None]:
        try:
            reply = yield from command("AT+QHTTPCFG?")
        except CommandError as exc:
            # A build without the read form (the BG95 note documents it; not every
            # manual does): the note's defaults stand in for what cannot be read.
            log.debug("AT+QHTTPCFG? refused (%s); assuming the note's defaults", exc)
            for key, value in CFG_DEFAULTS.items():
                self._known.setdefault(key, value)
            return
        for line in reply.lines:
            if line.startswith("+QHTTPCFG:"):
                parsed = cfg_value(line)
                if parsed is not None and parsed[0] in HTTP_KEYS:
                    self._known[parsed[0]] = parsed[1]

    def _value(self, key: str) -> Proc[int]:
        """The module's current value of ``key`` (read once, then tracked)."""
        yield EnsureSession()  # a reboot forgets the tracked values
        if key not in self._known:
            yield from self._read_config()
        if key not in self._known and key in CFG_DEFAULTS:
            self._known[key] = CFG_DEFAULTS[key]
        return self._known.get(key, 0)

    def _set(self, key: str, value: int) -> Proc[None]:
        yield EnsureSession()
        if self._known.get(key) != value:
            yield from command(f'AT+QHTTPCFG="{key}",{value}')
            self._known[key] = value

    def _apply(
        self, wanted: Mapping[str, int], before: dict[str, int] | None = None
    ) -> Proc[dict[str, int]]:
        """Set ``wanted``; the previous values of the keys that changed, recorded
        in ``before`` as each is sent (so a failure half-way loses none)."""
        before = {} if before is None else before
        for key, value in wanted.items():
            old = yield from self._value(key)
            if old != value:
                before.setdefault(key, old)
                yield from self._set(key, value)
        return before

    def restore_config(self, before: Mapping[str, int]) -> Proc[None]:
        """Put back QHTTPCFG values; what cannot be sent now is sent next time."""
        for key, value in before.items():
            try:
                yield from self._set(key, value)
            except LpwaError:
                self.restore_later({key: value})
                raise

    def restore_later(self, before: Mapping[str, int]) -> None:
        """QHTTPCFG values for the next procedure to put back (no I/O)."""
        with self._pending_lock:
            for key, value in before.items():
                self._unrestored.setdefault(key, value)

    def abandon(self, name: str, handle: int | None) -> None:
        """A temporary file for the next procedure to remove (no I/O)."""
        with self._pending_lock:
            self._orphans.append((name, handle))

    def _cleanup(self) -> Proc[None]:
        """What abandoned responses left: temporary files, QHTTPCFG to put back."""
        with self._pending_lock:
            orphans, self._orphans = self._orphans, []
            unrestored, self._unrestored = self._unrestored, {}
        for name, handle in orphans:
            yield from discard(self._ufs, name, handle)
        if unrestored:
            yield from self.restore_config(unrestored)

    def _sweep(self) -> Proc[None]:
        """Once per Modem, before lpwa first needs a temporary file: remove those
        an earlier program left (one module has one HTTP response at a time, so no
        other program can be reading through one now)."""
        if self._swept:
            return
        self._swept = True
        for name in (yield from self._ufs.stale()):
            yield from discard(self._ufs, name, None)

    # -- requests -------------------------------------------------------------------

    def get(
        self,
        url: str,
        params: object = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        rsptime: int | None = None,
        input_time: int = DEFAULT_TIME,
        wait_time: int | None = None,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Proc[Response]:
        """HTTP(S) GET. With ``headers``, a custom request head (≤ 2048 bytes) is sent.

        ``params`` (a mapping or list of pairs, as in requests) is form-encoded
        into the query. ``timeout`` (seconds) bounds the wait for the server's
        answer and every silence in the body (``<rsptime>`` and ``<wait_time>``);
        the module's own time for connecting (up to 125 s, note 2.3) is its own.
        ``stream=True`` leaves the body unread until ``iter_content()``,
        ``content`` or ``save()``, holding the module meanwhile (use ``with``);
        ``on_progress(received, total)`` follows it.
        """
        target = parse_url(with_params(url, params) if isinstance(url, str) else url)
        rsp, wait = _times(timeout, rsptime, wait_time)
        input_time = _seconds("input_time", input_time)
        _options(stream, on_progress, retries)
        hdrs = check_headers(headers) if headers is not None else None
        request = custom_request("GET", target, hdrs) if hdrs is not None else None
        if request is not None and len(request) > MAX_CUSTOM_GET:
            raise ParameterError(
                f"custom GET request is {len(request)} bytes; the module takes {MAX_CUSTOM_GET}"
            )

        def send() -> Proc[Response]:
            yield from self._set_url(target)
            if request is None:
                line, data = f"AT+QHTTPGET={rsp}", None
                # OK usually comes at once; the note does not say whether a build
                # connects first, so allow its 125 s for connecting.
                command_timeout = CONNECT_TIME + MARGIN
            else:
                line, data = f"AT+QHTTPGET={rsp},{len(request)},{input_time}", request
                command_timeout = CONNECT_TIME + input_time + MARGIN
            return (yield from self._send("+QHTTPGET", line, data, target, rsp, command_timeout, 0))

        wanted = {"requestheader": 1 if request is not None else 0}
        return (
            yield from self._procedure(
                wanted, send, stream, wait, on_progress, retries, https=target.https
            )
        )

    def post(
        self,
        url: str,
        data: bytes | str | Mapping[str, object] | None = None,
        json: object = None,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
        rsptime: int | None = None,
        input_time: int = DEFAULT_TIME,
        wait_time: int | None = None,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Proc[Response]:
        """HTTP(S) POST of ``data`` (≤ 1,024,000 bytes with the request head).

        ``data`` is bytes, str (UTF-8), or a mapping / list of pairs that is
        form-encoded as requests does; ``json`` is serialised as JSON
        (``application/json``). ``content_type`` one of the module's four (HTTP
        note 2.1) is set with QHTTPCFG; any other, or ``headers``, makes a custom
        request head. On a BG96 whose build has the 719 bug (known, learned, or
        forced with the Modem's quirks) an HTTPS request whose length has bit 11
        set is sent as a custom request padded with an ignorable header
        (``response.padded_by`` tells by how much); on another BG96 a POST that
        fails with 719 is retried once that way. ``timeout`` as for :meth:`get`.
        """
        target = parse_url(url)
        body, implied = encode_body(data, json)
        rsp, wait = _times(timeout, rsptime, wait_time)
        input_time = _seconds("input_time", input_time)
        _options(stream, on_progress, retries)
        if content_type is not None and not isinstance(content_type, str):
            raise ParameterTypeError(f"content_type must be a str, not {content_type!r}")
        hdrs = check_headers(headers) if headers is not None else None
        if not body:
            raise ParameterError("POST data must be 1-1024000 bytes, not empty")
        ctype = content_type or implied or CONTENT_TYPES[0]
        check_headers({"Content-Type": ctype})
        module_types = {name: num for num, name in CONTENT_TYPES.items()}
        module_len = len(
            module_request_head("POST", target, content_type=ctype, content_length=len(body))
        ) + len(body)
        custom = hdrs is not None or ctype not in module_types
        if not custom and self._fails_719(QHTTPPOST, module_len, target):
            custom = True
        request = custom_request("POST", target, hdrs, body, content_type=ctype) if custom else None
        padding = 0
        if request is not None and self._fails_719(QHTTPPOST, len(request), target):
            request, padding = self._padded(target, hdrs, body, ctype)
        payload = request if request is not None else body
        if len(payload) > MAX_POST:
            raise ParameterError(
                f"POST request is {len(payload)} bytes; the module takes {MAX_POST}"
            )
        wanted = {"requestheader": 1 if request is not None else 0}
        if request is None:
            wanted["contenttype"] = module_types[ctype]

        def send() -> Proc[Response]:
            return (yield from self._post(target, payload, input_time, rsp, padding))

        def retry(before: dict[str, int]) -> Proc[Response]:
            # A BG96 build not (yet) known for the 719 bug failed with it.
            padded, pad = self._padded(target, hdrs, body, ctype)
            for key, value in (yield from self._apply({"requestheader": 1})).items():
                before.setdefault(key, value)
            return (yield from self._post(target, padded, input_time, rsp, pad))

        length = len(payload) if request is not None else module_len
        on_719 = retry if padding == 0 and self._may_retry_719(target, length) else None
        return (
            yield from self._procedure(
                wanted,
                send,
                stream,
                wait,
                on_progress,
                retries,
                on_719=on_719,
                learn=QHTTPPOST,
                https=target.https,
            )
        )

    def _post(
        self, target: URL, payload: bytes, input_time: int, rsptime: int, padding: int
    ) -> Proc[Response]:
        yield from self._set_url(target)
        line = f"AT+QHTTPPOST={len(payload)},{input_time},{rsptime}"
        command_timeout = CONNECT_TIME + input_time + MARGIN
        return (
            yield from self._send(
                "+QHTTPPOST", line, payload, target, rsptime, command_timeout, padding
            )
        )

    def _padded(
        self, target: URL, headers: Mapping[str, str] | None, body: bytes, ctype: str
    ) -> tuple[bytes, int]:
        request = custom_request("POST", target, headers, body, content_type=ctype)
        padding = padding_needed(len(request))
        padded = custom_request("POST", target, headers, body, content_type=ctype, padding=padding)
        log.info("POST %s padded by %d bytes against error 719", redact.url(target.text), padding)
        return padded, padding

    def post_file(
        self,
        url: str,
        filename: str,
        *,
        timeout: float | None = None,
        rsptime: int | None = None,
        wait_time: int | None = None,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Proc[Response]:
        """HTTP(S) POST of a UFS file (AT+QHTTPPOSTFILE).

        The module's ``requestheader`` and ``contenttype`` are used as the caller
        set them: with ``requestheader=1`` the file holds the whole request, head
        and body (HTTP note 2.5, as in the 719 thread), else the body only. The
        module answers ``OK`` once the server is connected, so lpwa waits up to
        the longer of 125 s and ``<rsptime>`` for it. On a build with the 719 bug,
        an HTTPS request whose length would have bit 11 set is sent instead as a
        padded QHTTPPOST of the file's content (a file cannot be padded in place).
        """
        target = parse_url(url)
        check_file_name(filename)
        rsp, wait = _times(timeout, rsptime, wait_time)
        _options(stream, on_progress, retries)

        yield from self._cleanup()
        whole = (yield from self._value("requestheader")) == 1
        ctype = CONTENT_TYPES[(yield from self._value("contenttype"))]
        size: int | None = None
        if self._may_pad(QHTTPPOSTFILE, target):
            size = yield from self._ufs.size(filename)
            if size is None:
                raise ParameterError(f"no file {filename!r} in the module's UFS")
            length = size if whole else self._head_len(target, ctype, size) + size
            if self._fails_719(QHTTPPOSTFILE, length, target):
                log.info(
                    "POSTFILE %s would hit error 719; sending it as a padded POST",
                    redact.url(target.text),
                )
                return (
                    yield from self._post_file_padded(
                        target, filename, whole, ctype, rsp, wait, stream, on_progress, retries
                    )
                )

        def send() -> Proc[Response]:
            yield from self._set_url(target)
            line = f"AT+QHTTPPOSTFILE={quote(filename)},{rsp}"
            # OK comes once the server is connected (2.5): 125 s or <rsptime>.
            command_timeout = max(CONNECT_TIME, rsp) + MARGIN
            return (
                yield from self._send("+QHTTPPOSTFILE", line, None, target, rsp, command_timeout, 0)
            )

        def retry(before: dict[str, int]) -> Proc[Response]:
            # Streamed, so that this procedure reads it as the caller asked.
            return (
                yield from self._post_file_padded(
                    target, filename, whole, ctype, rsp, wait, True, None, 0
                )
            )

        on_719 = None
        if target.https and self._is_bg96():
            if size is None:
                size = yield from self._ufs.size(filename)
            if size is not None:
                length = size if whole else self._head_len(target, ctype, size) + size
                if self._may_retry_719(target, length):
                    on_719 = retry
        return (
            yield from self._procedure(
                {},
                send,
                stream,
                wait,
                on_progress,
                retries,
                on_719=on_719,
                learn=QHTTPPOSTFILE,
                https=target.https,
            )
        )

    def _post_file_padded(
        self,
        target: URL,
        filename: str,
        whole: bool,
        ctype: str,
        rsptime: int,
        wait_time: int,
        stream: bool,
        on_progress: Progress | None,
        retries: int,
    ) -> Proc[Response]:
        content = yield from self._files.download(filename)
        if not whole:
            return (
                yield from self.post(
                    target.text,
                    content,
                    headers={},
                    content_type=ctype,
                    rsptime=rsptime,
                    wait_time=wait_time,
                    stream=stream,
                    on_progress=on_progress,
                    retries=retries,
                )
            )
        # The file is a whole request: pad its own head.
        end = content.find(b"\r\n\r\n")
        if end < 0:
            raise ParameterError(f"{filename!r} holds no request head (requestheader=1)")
        padding = padding_needed(len(content))
        pad = padding_header(padding) if padding else b""
        request = content[: end + 2] + pad + content[end + 2 :]

        def send() -> Proc[Response]:
            return (yield from self._post(target, request, DEFAULT_TIME, rsptime, padding))

        return (
            yield from self._procedure(
                {"requestheader": 1},
                send,
                stream,
                wait_time,
                on_progress,
                retries,
                https=target.https,
            )
        )

    # -- the 719 bug ----------------------------------------------------------------

    def _is_bg96(self) -> bool:
        session = self._session
        return session.model.upper().startswith("BG96") or session.firmware.upper().startswith(
            "BG96"
        )

    def _commands_719(self) -> frozenset[str]:
        quirks = self._session.quirks
        if quirks.workaround_719 is False:
            return frozenset()
        return quirks.https_post_719 | self._learned_719

    def _may_pad(self, command: str, target: URL) -> bool:
        return target.https and command in self._commands_719()

    def _fails_719(self, command: str, length: int, target: URL) -> bool:
        return self._may_pad(command, target) and affected_by_719(length)

    def _may_retry_719(self, target: URL, length: int | None) -> bool:
        """A BG96 HTTPS POST whose length has bit 11 set (None: unknown) may be
        hitting a 719 build missing from the table: worth one padded retry."""
        if self._session.quirks.workaround_719 is False or not target.https or not self._is_bg96():
            return False
        return length is None or affected_by_719(length)

    def _head_len(self, target: URL, ctype: str, size: int) -> int:
        return len(module_request_head("POST", target, content_type=ctype, content_length=size))

    # -- the steps of a request -----------------------------------------------------

    def _procedure(
        self,
        wanted: Mapping[str, int],
        send: Callable[[], Proc[Response]],
        stream: bool,
        wait_time: int,
        on_progress: Progress | None,
        retries: int,
        *,
        on_719: Callable[[dict[str, int]], Proc[Response]] | None = None,
        learn: str = "",
        https: bool = False,
    ) -> Proc[Response]:
        """Configure, send, and read (or lease) the body."""
        yield from self._cleanup()
        config = dict(wanted)
        if self.response_headers:
            config["responseheader"] = 1
        caller_head = (yield from self._value("responseheader")) == 1
        before: dict[str, int] = {}

        def reapply(caller: Mapping[str, int]) -> Proc[None]:
            # After a reboot: the caller's values first (not to be restored
            # later: they are the caller's), then the request's on top.
            for key, value in caller.items():
                if key not in config:
                    yield from self._set(key, value)
            yield from self._apply(config, before)

        try:
            yield from self._apply(config, before)
            try:
                response = yield from self._with_recovery(send, retries, reapply, https=https)
            except HTTPSocketClosedError:
                if on_719 is None:
                    raise
                log.info("error 719 on a BG96 HTTPS POST: retrying once padded (spec/002)")
                response = yield from on_719(before)
                if learn:
                    self._learned_719.add(learn)
        except BaseException:
            yield from self._restore_quietly(before)
            raise
        # requestheader and contenttype only shape the request, which is sent;
        # responseheader stays until the body is read: the note does not say
        # whether the module applies it when it sends the request or when the
        # body is read, so it holds for both.
        head = {k: v for k, v in before.items() if k == "responseheader"}
        yield from self._restore_quietly({k: v for k, v in before.items() if k != "responseheader"})
        body = response._body
        body.caller_head = caller_head
        if body.finished:  # a nested procedure read it already
            yield from self._restore_quietly(head)
            return response
        body.restore = {**body.restore, **head}
        body.wait_time = wait_time
        body.on_progress = on_progress
        if body.lease is None:  # else a nested procedure made it
            body.with_head = (yield from self._value("responseheader")) == 1
            body.headers = None if body.with_head else Headers()
            if stream:
                body.lease = yield Lease()
        if stream:
            return response
        try:
            response._content = yield from body.read_all()
        finally:
            yield from body.finish()
        return response

    def _restore_quietly(self, before: Mapping[str, int]) -> Proc[None]:
        try:
            yield from self.restore_config(before)
        except LpwaError as exc:
            log.debug("QHTTPCFG not put back yet (%s); next request will", exc)

    def _set_url(self, url: URL, timeout: int = DEFAULT_TIME) -> Proc[None]:
        raw = url.text.encode("ascii")
        line = f"AT+QHTTPURL={len(raw)},{timeout}"
        yield from command(line, data=raw, timeout=timeout + MARGIN)

    def _send(
        self,
        name: str,
        line: str,
        data: bytes | None,
        url: URL,
        rsptime: int,
        command_timeout: float,
        padding: int,
    ) -> Proc[Response]:
        start = time.monotonic()
        urc = yield from urc_after(line, name, rsptime + MARGIN, data=data, timeout=command_timeout)
        elapsed = timedelta(seconds=time.monotonic() - start)
        err, status, length = parse_result(urc.text, name)
        if err != 0:
            self._session.health_counter.error(err)
            raise http_error(line, err)
        with_head = self._known.get("responseheader") == 1
        body = BodyReader(self, status, length, with_head=with_head)
        return Response(
            self.shell,
            body,
            url.text,
            asynchronous=self.asynchronous,
            padded_by=padding,
            elapsed=elapsed,
        )

    def _with_recovery(
        self,
        send: Callable[[], Proc[T]],
        retries: int,
        reapply: Callable[[Mapping[str, int]], Proc[None]] | None = None,
        *,
        https: bool = False,
    ) -> Proc[T]:
        """HTTP note chapter 4, one rung per retry (``retries`` bounds it): wait
        out a busy UART (4.4) or a request still running (703, e.g. one a killed
        run of the program left); after network errors re-activate the PDP
        context (4.3 solution 2, 4.5), and when the request fails again after
        that, reboot the module (4.2: "please reboot the module"; captures C13:
        a wedged stack came back only after a reset and re-activation), at most
        once per request, then activate the context and ``reapply`` the request's
        QHTTPCFG. Each step is logged and counted in ``modem.health()``."""
        attempt = 0
        reactivated = rebooted = False
        health = self._session.health_counter
        while True:
            try:
                return (yield from send())
            except (HTTPUARTBusyError, HTTPBusyError):
                if attempt >= retries:
                    raise
                yield Sleep(1.0)
            except (
                HTTPDNSError,
                HTTPNetworkDeactivatedError,
                HTTPNetworkConfigError,
                HTTPNetworkError,
            ) as exc:
                if attempt >= retries:
                    raise
                context_id = self._known.get("contextid", 1)
                if reactivated and not rebooted and https:
                    # A reboot may also reset the SSL contexts, which lpwa cannot
                    # set up again for the caller: resending could go out on an
                    # unverified one. Say so instead.
                    log.warning(
                        "%s after re-activation; an HTTPS request is not resent after a "
                        "reboot (the SSL context may be reset): reboot and configure it",
                        exc,
                    )
                    raise
                if reactivated and not rebooted:
                    log.warning("%s after re-activation; rebooting the module (HTTP note 4.2)", exc)
                    # The reboot resets QHTTPCFG (and the SSL contexts): the
                    # caller's values go back with the request's on top.
                    caller = {k: v for k, v in self._known.items() if k in HTTP_KEYS}
                    yield from self._session.reboot_procedure(REBOOT_TIMEOUT)
                    health.recovery("reboot")
                    rebooted = True
                    yield from self._network.activate(context_id)
                    if reapply is not None:
                        yield from reapply(caller)
                else:
                    log.warning(
                        "%s; re-activating PDP context %d (HTTP note 4.3/4.5)", exc, context_id
                    )
                    yield from self._network.reactivate(context_id)
                    health.recovery("reactivate")
                    reactivated = True
            attempt += 1

    # -- the body (for BodyReader) ------------------------------------------------------

    def open_body(self, body: BodyReader) -> Proc[RawBody]:
        """How to read ``body``: by its announced length, else through the UFS."""
        wait = body.wait_time
        if body.content_length is None:
            yield from self._sweep()
            return FileBody(self._ufs, wait)
        return ReadBody(wait, body.content_length, body.with_head)

    def save(self, body: BodyReader, filename: str, wait_time: int) -> Proc[None]:
        """Store the response in ``filename``: the body only, unless the caller
        turned the head on. When lpwa asked for the head itself, the module
        writes it into the file too (whether responseheader counts at the request
        or at the read, it was on for both), so the response goes to a temporary
        file and the body is copied out of it."""
        expected = body.content_length
        ufs = self._ufs
        if not (body.with_head and not body.caller_head):
            size = yield from ufs.store_response(filename, wait_time, expected=expected)
            head_len = 0
            if body.with_head:
                head = yield from ufs.read_head(filename, size)
                body.set_head(head[:-4])
                head_len = len(head)
            if expected is not None and size - head_len != expected:
                raise ProtocolError(
                    f"stored body has {size - head_len} bytes, Content-Length said {expected}"
                )
            return
        yield from self._sweep()
        tmp = temp_name()
        try:
            size = yield from ufs.store_response(tmp, wait_time, expected=expected)
            head = yield from ufs.read_head(tmp, size)
            body.set_head(head[:-4])
            if expected is not None and size - len(head) != expected:
                raise ProtocolError(
                    f"stored body has {size - len(head)} bytes, Content-Length said {expected}"
                )
            yield from ufs.copy(tmp, len(head), size, filename)
        finally:
            try:
                yield from ufs.delete(tmp)
            except LpwaError as exc:
                # Not this call's failure: the next procedure removes it.
                log.debug("temporary file %s not removed yet (%s)", tmp, exc)
                self.abandon(tmp, None)


class HTTP(Api[HTTPProcedures, K]):
    """HTTP(S) client of one module: ``modem.http`` and ``AsyncModem.http``
    (whose methods are awaited).

    Safe from several threads and tasks: each request is one procedure of the
    module, so a body is only ever returned to the call that asked for it. Keep
    QHTTPCFG changes to :meth:`config`, which knows them; a raw ``AT+QHTTPCFG``
    sent with ``modem.command`` is not seen until the module reboots.

    In the asyncio shell a response's body is read inside the request unless
    ``stream=True``; then ``async for piece in response.aiter_content(n)``,
    ``await response.aread()`` or ``await response.asave(name)``, and ``await
    response.aclose()`` (or ``async with``) to give the module back early.
    """

    def __init__(self, shell: Any, procs: HTTPProcedures) -> None:
        super().__init__(shell, procs)
        procs.bind(shell, asynchronous=hasattr(shell, "arun"))

    config = procedure(HTTPProcedures.config)
    get = procedure(HTTPProcedures.get)
    post = procedure(HTTPProcedures.post)
    post_file = procedure(HTTPProcedures.post_file)

    @overload
    def read_file(
        self: HTTP[Blocking], filename: str, response: Response, *, wait_time: int | None = None
    ) -> None: ...
    @overload
    def read_file(
        self: HTTP[Awaiting], filename: str, response: Response, *, wait_time: int | None = None
    ) -> Coroutine[Any, Any, None]: ...
    def read_file(self, filename: str, response: Response, *, wait_time: int | None = None) -> Any:
        """Store ``response`` (not yet read) in a UFS file: see :meth:`Response.save`
        (awaited in the asyncio shell)."""
        if self._procs.asynchronous:
            return response.asave(filename, wait_time=wait_time)
        return response.save(filename, wait_time=wait_time)

    @property
    def response_headers(self) -> bool:
        """Read the status line and headers into ``Response.headers``: lpwa turns
        ``responseheader`` on for the request and its body, then back as it was."""
        return self._procs.response_headers

    @response_headers.setter
    def response_headers(self, value: bool) -> None:
        self._procs.response_headers = value


AsyncHTTP = HTTP[Awaiting]
"""``AsyncModem.http``'s type."""


def async_http(modem: AsyncModem) -> HTTP[Awaiting]:
    """``AsyncModem.http``: the facade over this modem's HTTP procedures."""
    procs = HTTPProcedures(modem, modem.network_procedures, modem.files_procedures)
    return HTTP(modem, procs)


__all__ = [
    "HTTP",
    "HTTP_KEYS",
    "AsyncHTTP",
    "HTTPProcedures",
    "async_http",
    "check_wait",
    "timeout_seconds",
]
