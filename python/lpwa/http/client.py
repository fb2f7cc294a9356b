"""``modem.http``: HTTP(S) requests through the module's stack (AT+QHTTP*).

A request is: check every argument against the HTTP note's ranges (nothing is sent
if one is off), set the QHTTPCFG keys that differ from what the module has, send
the URL (AT+QHTTPURL), send the request (AT+QHTTPGET / QHTTPPOST / QHTTPPOSTFILE),
and wait for its URC ``+QHTTP…: <err>[,<httprspcode>[,<content_length>]]``. The body
is read by the Response, lazily.

Timeouts come from the note: the URC within ``rsptime``, CONNECT within 125 s,
host data within ``input_time``, and while reading never an inter-byte timeout
shorter than ``wait_time`` (bodies stall mid-way on real networks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, TypeVar

from lpwa.at import Urc
from lpwa.errors import (
    HTTPDNSError,
    HTTPNetworkConfigError,
    HTTPNetworkDeactivatedError,
    HTTPNetworkError,
    HTTPUARTBusyError,
    ParameterError,
    ProtocolError,
    http_error,
)
from lpwa.http.request import (
    CONTENT_TYPES,
    MAX_CUSTOM_GET,
    MAX_POST,
    URL,
    custom_request,
    module_request_head,
    padding_needed,
    parse_url,
)
from lpwa.http.response import Progress, Response

if TYPE_CHECKING:
    from lpwa.modem import Modem

log = logging.getLogger("lpwa.http")

# QHTTPCFG keys of the HTTP note 2.1 and their ranges.
HTTP_KEYS: dict[str, range] = {
    "contextid": range(1, 17),
    "requestheader": range(0, 2),
    "responseheader": range(0, 2),
    "sslctxid": range(0, 6),
    "contenttype": range(0, 4),
}
# "CONNECT may be output in 125s" (HTTP note 2.3, 2.4).
CONNECT_TIME = 125
# Slack on top of the module's own timers, for the UART and a busy host.
MARGIN = 5.0
# Silence beyond <wait_time> before we give up on a body: the module reports
# its own wait_time expiry (HTTP note 2.6), so ours only needs to come later.
IDLE_MARGIN = 2.0
SECONDS = range(1, 65536)  # rsptime, input_time, wait_time: 1-65535 s
T = TypeVar("T")


def _check_seconds(**values: int) -> None:
    for name, value in values.items():
        if value not in SECONDS:
            raise ParameterError(f"{name} must be 1-65535 s: {value}")


class HTTP:
    """HTTP(S) client of one module: ``modem.http``."""

    def __init__(self, modem: Modem, *, response_headers: bool = True) -> None:
        self._modem = modem
        self._known: dict[str, int] = {}
        """QHTTPCFG values we set or read; forgotten when the module reboots."""
        self.response_headers = response_headers
        """Ask the module for status line and headers (responseheader=1)."""
        modem.on_reboot(self._known.clear)

    # -- configuration ------------------------------------------------------------

    def config(self, **keys: int) -> dict[str, int]:
        """Set QHTTPCFG keys (all checked before any is sent); return all current values.

        Keys: ``contextid`` 1-16, ``requestheader`` 0/1, ``responseheader`` 0/1,
        ``sslctxid`` 0-5, ``contenttype`` 0-3 (HTTP note 2.1).
        """
        for key, value in keys.items():
            if key not in HTTP_KEYS:
                raise ParameterError(f"unknown QHTTPCFG key {key!r}; known: {', '.join(HTTP_KEYS)}")
            if int(value) not in HTTP_KEYS[key]:
                rng = HTTP_KEYS[key]
                raise ParameterError(f"{key} must be {rng.start}-{rng.stop - 1}: {value!r}")
        for key, value in keys.items():
            self._set(key, int(value))
        reply = self._modem.command("AT+QHTTPCFG?")
        for fields in reply.all_fields("+QHTTPCFG"):
            if len(fields) >= 2 and fields[0] in HTTP_KEYS and fields[1].isdigit():
                self._known[fields[0]] = int(fields[1])
        if "responseheader" in keys:
            self.response_headers = bool(keys["responseheader"])
        return dict(self._known)

    def _set(self, key: str, value: int) -> None:
        self._modem.ensure_session()
        if self._known.get(key) != value:
            self._modem.command(f'AT+QHTTPCFG="{key}",{value}')
            self._known[key] = value

    def _set_url(self, url: URL, timeout: int = 60) -> None:
        raw = url.text.encode("ascii")
        self._modem.command(f"AT+QHTTPURL={len(raw)},{timeout}", data=raw, timeout=timeout + MARGIN)

    # -- requests -------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        rsptime: int = 60,
        input_time: int = 60,
        wait_time: int = 60,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Response:
        """HTTP(S) GET. With ``headers``, a custom request head (≤ 2048 bytes) is sent.

        ``stream=True`` leaves the body unread until ``iter_content()``,
        ``content`` or ``save()``; ``on_progress(received, total)`` follows it.
        """
        target = parse_url(url)
        _check_seconds(rsptime=rsptime, input_time=input_time, wait_time=wait_time)
        request = custom_request("GET", target, headers) if headers is not None else None
        if request is not None and len(request) > MAX_CUSTOM_GET:
            raise ParameterError(
                f"custom GET request is {len(request)} bytes; the module takes {MAX_CUSTOM_GET}"
            )

        def send() -> Response:
            self._prepare(target, custom=request is not None)
            if request is None:
                line, data = f"AT+QHTTPGET={rsptime}", None
            else:
                line, data = f"AT+QHTTPGET={rsptime},{len(request)},{input_time}", request
            return self._send("+QHTTPGET", line, data, target, rsptime, input_time, 0)

        response = self._with_recovery(send, retries)
        return self._finish(response, wait_time, stream, on_progress)

    def post(
        self,
        url: str,
        data: bytes | str,
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        rsptime: int = 60,
        input_time: int = 60,
        wait_time: int = 60,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Response:
        """HTTP(S) POST of ``data`` (≤ 1,024,000 bytes with the request head).

        ``content_type`` one of the module's four (HTTP note 2.1) is set with
        QHTTPCFG; any other, or ``headers``, makes a custom request head. On
        firmware with the 719 bug an HTTPS request whose length has bit 11 set
        is sent as a custom request padded with an ignorable header
        (``response.padded_by`` tells by how much).
        """
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        target = parse_url(url)
        _check_seconds(rsptime=rsptime, input_time=input_time, wait_time=wait_time)
        if not body:
            raise ParameterError("POST data must be 1-1024000 bytes, not empty")
        ctype = content_type or CONTENT_TYPES[0]
        module_types = {name: num for num, name in CONTENT_TYPES.items()}
        custom = headers is not None or ctype not in module_types
        padding = 0
        if not custom and self._modem.quirks.fails_719(
            "QHTTPPOST",
            len(module_request_head("POST", target, content_type=ctype, content_length=len(body)))
            + len(body),
            https=target.https,
        ):
            custom = True
        request: bytes | None = None
        if custom:
            request = custom_request("POST", target, headers, body, content_type=ctype)
            if self._modem.quirks.fails_719("QHTTPPOST", len(request), https=target.https):
                padding = padding_needed(len(request))
                request = custom_request(
                    "POST", target, headers, body, content_type=ctype, padding=padding
                )
                log.info("POST %s padded by %d bytes against error 719", url, padding)
        payload = request if request is not None else body
        if len(payload) > MAX_POST:
            raise ParameterError(
                f"POST request is {len(payload)} bytes; the module takes {MAX_POST}"
            )

        def send() -> Response:
            self._prepare(target, custom=request is not None)
            if request is None:
                self._set("contenttype", module_types[ctype])
            line = f"AT+QHTTPPOST={len(payload)},{input_time},{rsptime}"
            return self._send("+QHTTPPOST", line, payload, target, rsptime, input_time, padding)

        response = self._with_recovery(send, retries)
        return self._finish(response, wait_time, stream, on_progress)

    def post_file(
        self,
        url: str,
        filename: str,
        *,
        rsptime: int = 60,
        wait_time: int = 60,
        stream: bool = False,
        on_progress: Progress | None = None,
        retries: int = 1,
    ) -> Response:
        """HTTP(S) POST of a UFS file as the body (AT+QHTTPPOSTFILE).

        On firmware whose QHTTPPOSTFILE has the 719 bug, an HTTPS request whose
        length would have bit 11 set is sent instead as a padded QHTTPPOST of the
        file's content (the module's file cannot be padded in place).
        """
        target = parse_url(url)
        _check_seconds(rsptime=rsptime, wait_time=wait_time)
        if not 1 <= len(filename) <= 80:
            raise ParameterError(f"file name must be 1-80 characters: {filename!r}")
        ctype_num = self._known.get("contenttype", 0)
        if target.https and "QHTTPPOSTFILE" in self._modem.quirks.https_post_719:
            size = next((f.size for f in self._modem.files.list(filename)), None)
            if size is None:
                raise ParameterError(f"no file {filename!r} in the module's UFS")
            head = module_request_head(
                "POST", target, content_type=CONTENT_TYPES[ctype_num], content_length=size
            )
            if self._modem.quirks.fails_719("QHTTPPOSTFILE", len(head) + size):
                log.info("POSTFILE %s would hit error 719; sending it as a padded POST", url)
                content = self._modem.files.download(filename)
                return self.post(
                    url,
                    content,
                    headers={},
                    content_type=CONTENT_TYPES[ctype_num],
                    rsptime=rsptime,
                    wait_time=wait_time,
                    stream=stream,
                    on_progress=on_progress,
                    retries=retries,
                )

        def send() -> Response:
            self._prepare(target, custom=False)
            line = f'AT+QHTTPPOSTFILE="{filename}",{rsptime}'
            return self._send("+QHTTPPOSTFILE", line, None, target, rsptime, 60, 0)

        response = self._with_recovery(send, retries)
        return self._finish(response, wait_time, stream, on_progress)

    def read_file(self, filename: str, response: Response, *, wait_time: int = 60) -> None:
        """Store ``response`` (not yet read) in a UFS file (AT+QHTTPREADFILE)."""
        response.save(filename, wait_time=wait_time)

    # -- the steps of a request -----------------------------------------------------

    def _prepare(self, url: URL, *, custom: bool) -> None:
        self._set("requestheader", 1 if custom else 0)
        self._set("responseheader", 1 if self.response_headers else 0)
        self._set_url(url)

    def _send(
        self,
        name: str,
        line: str,
        data: bytes | None,
        url: URL,
        rsptime: int,
        input_time: int,
        padding: int,
    ) -> Response:
        command_timeout = CONNECT_TIME + input_time + MARGIN if data is not None else MARGIN + 5
        with self._modem.channel.expect_urc(name) as waiter:
            self._modem.command(line, data=data, timeout=command_timeout)
            urc = waiter.wait(rsptime + MARGIN)
        err, status, length = _result_fields(urc)
        if err != 0:
            raise http_error(line, err)
        return Response(
            self,
            url.text,
            status,
            length,
            with_head=self.response_headers,
            wait_time=60,
            padded_by=padding,
        )

    def _finish(
        self, response: Response, wait_time: int, stream: bool, on_progress: Progress | None
    ) -> Response:
        response._wait_time = wait_time
        response._on_progress = on_progress
        if not stream:
            _ = response.content
        return response

    def _with_recovery(self, send: Callable[[], T], retries: int) -> T:
        """HTTP note chapter 4: re-activate the PDP context after network errors
        (4.3 solution 2, 4.5) and wait out a busy UART (4.4), then try again."""
        attempt = 0
        while True:
            try:
                return send()
            except HTTPUARTBusyError:
                if attempt >= retries:
                    raise
                time.sleep(1.0)
            except (
                HTTPDNSError,
                HTTPNetworkDeactivatedError,
                HTTPNetworkConfigError,
                HTTPNetworkError,
            ) as exc:
                if attempt >= retries:
                    raise
                context_id = self._known.get("contextid", 1)
                log.warning("%s; re-activating PDP context %d (HTTP note 4.3/4.5)", exc, context_id)
                self._modem.network.reactivate(context_id)
            attempt += 1

    def _read_body(self, response: Response) -> Iterator[bytes]:
        """The raw QHTTPREAD output (head and body) as it arrives."""
        wait_time = response._wait_time
        line = f"AT+QHTTPREAD={wait_time}"
        stream = self._modem.channel.stream(
            line,
            timeout=None,
            idle_timeout=wait_time + IDLE_MARGIN,
            body_length=response.content_length,
            response_header=response._with_head,
        )
        chunks = iter(stream)
        try:
            yield from chunks
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if stream.body_code not in (0, None):
            raise http_error(line, stream.body_code)
        if not stream.body_seen:
            raise ProtocolError(f"{line}: the module sent no body")

    def _read_to_file(self, filename: str, wait_time: int) -> None:
        _check_seconds(wait_time=wait_time)
        if not 1 <= len(filename) <= 80:
            raise ParameterError(f"file name must be 1-80 characters: {filename!r}")
        line = f'AT+QHTTPREADFILE="{filename}",{wait_time}'
        with self._modem.channel.expect_urc("+QHTTPREADFILE") as waiter:
            self._modem.command(line)
            urc = waiter.wait(wait_time + MARGIN)
        err = int(urc.fields[0])
        if err != 0:
            raise http_error(line, err)


def _result_fields(urc: Urc) -> tuple[int, int, int | None]:
    """``+QHTTPGET: <err>[,<httprspcode>[,<content_length>]]`` (design §2)."""
    try:
        fields = [int(f) for f in urc.fields]
    except ValueError:
        raise ProtocolError(f"bad result URC: {urc.text!r}") from None
    if not fields:
        raise ProtocolError(f"bad result URC: {urc.text!r}")
    if fields[0] != 0:
        return fields[0], 0, None
    if len(fields) < 2:
        raise ProtocolError(f"result URC without status code: {urc.text!r}")
    return 0, fields[1], fields[2] if len(fields) > 2 else None


__all__ = ["HTTP", "HTTP_KEYS"]
