"""HTTP(S) commands (HTTP note chapter 2): AT+QHTTPCFG, +QHTTPURL, +QHTTPGET,
+QHTTPPOST, +QHTTPPOSTFILE, +QHTTPREAD, +QHTTPREADFILE.

Where errors appear (decided where the note is loose):

- Bad parameters: ``+CME ERROR: 730``; unknown QHTTPCFG key: ``ERROR``; no SIM:
  ``ERROR`` (note 4.1); PDP context not active: ``+CME ERROR: 709``; no URL:
  ``+CME ERROR: 712``; a request still running: ``+CME ERROR: 703``.
- QHTTPGET (requestheader 0) answers ``OK`` at once; DNS, connect, TLS and
  response failures come as ``+QHTTPGET: <err>`` (one field).
- QHTTPPOST, QHTTPGET with requestheader 1 and QHTTPPOSTFILE connect first
  ("CONNECT may be output in 125s to indicate that the connection is
  successful", 2.3/2.4), so DNS (714, note 4.3), connect (716/702) and TLS (701)
  failures come as ``+CME ERROR: <err>`` instead of CONNECT/OK; the response
  outcome comes in the URC.
- Host data phases end with ``+CME ERROR: 726`` (Input timeout) when
  ``<input_time>``/``<timeout>`` runs out; ``+++`` (note 1.3) interrupts the
  command, which then answers ``OK`` and sends nothing.
- ``<rsptime>`` expiring gives ``+QHTTP<cmd>: 728`` (Wait HTTP(S) response
  timeout); ``<wait_time>`` expiring in QHTTPREAD ends the block with
  ``+CME ERROR: 727`` (Wait data timeout), in QHTTPREADFILE with
  ``+QHTTPREADFILE: 727``. A body cut by the network ends
  ``\\r\\nOK\\r\\n\\r\\n+QHTTPREAD: 717\\r\\n`` (note 4.6).
- With ``responseheader`` 1 the status line and headers are output exactly as
  received, including a ``Transfer-Encoding: chunked`` line, while the body is
  always de-chunked: a host must not de-chunk it again.
- The 719 quirk (``spec/002_*``): on affected builds an HTTPS QHTTPPOST or
  QHTTPPOSTFILE whose request length has bit 11 set is sent (the server sees it
  and answers) but reported as ``+QHTTPPOST: 719`` / ``+QHTTPPOSTFILE: 719``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.sim import dns
from lpwa.sim.atparse import Command, Form
from lpwa.sim.engine import Registry
from lpwa.sim.http_client import (
    CONTENT_TYPES,
    Exchange,
    HttpFailure,
    ResponseHead,
    Target,
    build_request,
    parse_url,
)
from lpwa.sim.params import CommandFailed, int_param, max_args, str_param
from lpwa.sim.tls import TlsSetupError, client_context
from lpwa.sim.ufs import UFS

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx
    from lpwa.sim.module import Module

__all__ = ["REGISTRY", "HttpConfig", "HttpResponse", "HttpState"]

E_UNKNOWN = 701
E_BUSY = 703
E_NO_REQUEST = 705
E_DEACTIVATED = 709
E_URL = 711
E_EMPTY_URL = 712
E_DNS = 714
E_SOCKET_CLOSED = 719
E_INPUT_TIMEOUT = 726
E_WAIT_DATA = 727
E_INVALID = 730

CONNECT_TIME = 125  # seconds: "CONNECT may be output in 125s" (2.3, 2.4)
DEFAULT_TIME = 60
POLL = 0.05  # seconds between checks for +++ while the body is awaited


@dataclass
class HttpConfig:
    """AT+QHTTPCFG values (2.1) with their defaults."""

    contextid: int = 1
    requestheader: int = 0
    responseheader: int = 0
    sslctxid: int = 1
    contenttype: int = 0


_CFG_RANGES: dict[str, tuple[int, int]] = {
    "contextid": (1, 16),
    "requestheader": (0, 1),
    "responseheader": (0, 1),
    "sslctxid": (0, 5),
    "contenttype": (0, 3),
}


@dataclass
class HttpResponse:
    """The last response, waiting for QHTTPREAD/QHTTPREADFILE."""

    head: ResponseHead
    exchange: Exchange


@dataclass
class HttpState:
    """HTTP(S) state: configuration, URL, the running request and the last response."""

    cfg: HttpConfig = field(default_factory=HttpConfig)
    url: str | None = None
    busy: bool = False
    response: HttpResponse | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_response(self) -> HttpResponse | None:
        """Hand the response to a reader (each response is read once)."""
        with self.lock:
            resp, self.response = self.response, None
            return resp

    def close(self) -> None:
        """Drop the last response and its connection."""
        with self.lock:
            resp, self.response = self.response, None
        if resp is not None:
            resp.exchange.close()


def qhttpcfg(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPCFG="<key>"[,<value>]: set, or query when the value is omitted (2.1)."""
    cfg = ctx.module.http.cfg
    if cmd.form is Form.TEST:
        for key, (lo, hi) in _CFG_RANGES.items():
            values = f"({lo},{hi})" if hi - lo == 1 else f"({lo}-{hi})"
            ctx.info(f'+QHTTPCFG: "{key}",{values}')
        return
    if cmd.form is Form.READ:
        for key in _CFG_RANGES:
            ctx.info(f'+QHTTPCFG: "{key}",{getattr(cfg, key)}')
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(None)
    arg = cmd.arg(0)
    if arg is None or not arg.quoted or arg.text.lower() not in _CFG_RANGES:
        raise CommandFailed(None)
    key = arg.text.lower()
    max_args(cmd, 2, E_INVALID)
    if cmd.arg(1) is None:
        ctx.info(f'+QHTTPCFG: "{key}",{getattr(cfg, key)}')
        return
    lo, hi = _CFG_RANGES[key]
    setattr(cfg, key, int_param(cmd, 1, lo, hi, error=E_INVALID))


def _require_sim(ctx: Ctx) -> None:
    if not ctx.module.sim_ready:
        raise CommandFailed(None)  # note 4.1: ERROR -> check the (U)SIM


def _require_idle(ctx: Ctx) -> None:
    if ctx.module.http.busy:
        raise CommandFailed(E_BUSY)


def qhttpurl(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPURL=<URL_length>[,<timeout>]: CONNECT, the URL, OK (2.2)."""
    http = ctx.module.http
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPURL: (1-700),(1-65535)")
        return
    if cmd.form is Form.READ:
        if http.url is not None:
            ctx.info(f"+QHTTPURL: {http.url}")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    _require_sim(ctx)
    max_args(cmd, 2, E_INVALID)
    length = int_param(cmd, 0, 1, 700, error=E_INVALID)
    timeout = int_param(cmd, 1, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    _require_idle(ctx)
    ctx.connect()
    got = ctx.read_data(length, ctx.scaled(timeout))
    if got.end == "escape":
        return
    if got.end != "complete":
        raise CommandFailed(E_INPUT_TIMEOUT)
    url = got.data.decode("latin-1")
    try:
        parse_url(url)
    except HttpFailure:
        raise CommandFailed(E_URL) from None
    http.url = url
    http.close()


def _target(ctx: Ctx) -> Target:
    module = ctx.module
    http = module.http
    if not http.url:
        raise CommandFailed(E_EMPTY_URL)
    if not module.network.is_active(http.cfg.contextid):
        raise CommandFailed(E_DEACTIVATED)
    try:
        return parse_url(http.url)
    except HttpFailure as exc:
        raise CommandFailed(exc.code) from None


def _open_exchange(module: Module, target: Target) -> Exchange:
    """DNS, TCP connect and TLS per the configured SSL context; HttpFailure on error."""
    cfg = module.http.cfg
    try:
        address = dns.resolve(
            target.host,
            module.options.hosts,
            system_dns=module.options.system_dns,
            have_dns_server=module.network.has_dns(cfg.contextid),
        )
    except dns.DNSFailure:
        raise HttpFailure(E_DNS, target.host) from None
    tls = None
    sni = None
    if target.https:
        ssl_cfg = module.ssl.contexts[cfg.sslctxid]
        try:
            tls = client_context(ssl_cfg, module.ufs)
        except TlsSetupError as exc:
            raise HttpFailure(E_UNKNOWN, str(exc)) from None
        for text in tls.substitutions:  # TLS 1.0, RC4... (issue 15)
            module.note_tls_substitution(text)
        if ssl_cfg.sni or ssl_cfg.checkhost:
            sni = target.host.strip("[]")
    exchange = Exchange(target)
    exchange.open(address, module.scaled(CONNECT_TIME), tls, sni)
    return exchange


@dataclass(frozen=True)
class _Job:
    """One request to run in a worker thread after OK."""

    urc: str  # "+QHTTPGET", "+QHTTPPOST", "+QHTTPPOSTFILE"
    method: str
    target: Target
    request: bytes
    rsptime: float
    exchange: Exchange | None  # already connected (POST), else connect in the worker


def _start(ctx: Ctx, job: _Job) -> None:
    module = ctx.module
    module.http.close()
    module.http.busy = True
    threading.Thread(
        target=_run_job, args=(module, job, ctx.generation), name="sim-http", daemon=True
    ).start()


def _run_job(module: Module, job: _Job, generation: int) -> None:
    http = module.http
    exchange = job.exchange
    try:
        if exchange is None:
            exchange = _open_exchange(module, job.target)
        exchange.send(job.request, module.scaled(CONNECT_TIME))
        head = exchange.read_head(job.rsptime)
        command = job.urc.lstrip("+")
        if module.profile.quirks.fails_719(command, len(job.request), https=job.target.https):
            raise HttpFailure(E_SOCKET_CLOSED, "firmware quirk (spec/002)")
        exchange.pump_body(head, job.method)
    except HttpFailure as exc:
        if exchange is not None:
            exchange.close()
        http.busy = False
        module.emit_urc(f"{job.urc}: {exc.code}", generation=generation)
        return
    with http.lock:
        http.response = HttpResponse(head, exchange)
    http.busy = False
    length = head.content_length
    fields = f"0,{head.status}" + ("" if length is None else f",{length}")
    module.emit_urc(f"{job.urc}: {fields}", generation=generation)


def _connect_first(ctx: Ctx, target: Target) -> Exchange:
    try:
        return _open_exchange(ctx.module, target)
    except HttpFailure as exc:
        raise CommandFailed(exc.code) from None


def qhttpget(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPGET[=<rsptime>] or, with requestheader 1, =<rsptime>,<data_length>[,<input_time>]."""
    module = ctx.module
    cfg = module.http.cfg
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPGET: (1-65535),(1-2048),(1-65535)")
        return
    if cmd.form not in (Form.WRITE, Form.EXEC):
        raise CommandFailed(E_INVALID)
    _require_sim(ctx)
    max_args(cmd, 3, E_INVALID)
    rsptime = int_param(cmd, 0, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    _require_idle(ctx)
    target = _target(ctx)
    if not cfg.requestheader:
        if cmd.arg(1) is not None:
            raise CommandFailed(E_INVALID)
        request = build_request("GET", target)
        ctx.ok()
        _start(ctx, _Job("+QHTTPGET", "GET", target, request, ctx.scaled(rsptime), None))
        return
    length = int_param(cmd, 1, 1, 2048, error=E_INVALID)
    input_time = int_param(cmd, 2, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    exchange = _connect_first(ctx, target)
    custom = _input(ctx, exchange, length, input_time)
    if custom is None:
        return
    ctx.ok()
    _start(ctx, _Job("+QHTTPGET", _method(custom), target, custom, ctx.scaled(rsptime), exchange))


def _input(ctx: Ctx, exchange: Exchange, length: int, input_time: int) -> bytes | None:
    """CONNECT and the host's bytes; None after ``+++`` (OK already sent)."""
    try:
        ctx.connect()
        got = ctx.read_data(length, ctx.scaled(input_time))
    except BaseException:
        exchange.close()
        raise
    if got.end == "escape":
        exchange.close()
        ctx.ok()
        return None
    if got.end != "complete":
        exchange.close()
        raise CommandFailed(E_INPUT_TIMEOUT)
    return got.data


def _method(request: bytes) -> str:
    return request.split(b" ", 1)[0].decode("latin-1", "replace").upper()


def _post_request(cfg: HttpConfig, target: Target, data: bytes) -> tuple[bytes, str]:
    """The request a POST sends and its method: the host's bytes as given when
    requestheader=1 (note 2.4), else the module's own head around ``data``."""
    if cfg.requestheader:
        return data, _method(data)
    content_type = CONTENT_TYPES[cfg.contenttype]
    return build_request("POST", target, body=data, content_type=content_type), "POST"


def qhttppost(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPPOST=<data_length>[,<input_time>,<rsptime>] (2.4)."""
    module = ctx.module
    cfg = module.http.cfg
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPPOST: (1-1024000),(1-65535),(1-65535)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    _require_sim(ctx)
    max_args(cmd, 3, E_INVALID)
    length = int_param(cmd, 0, 1, 1024000, error=E_INVALID)
    input_time = int_param(cmd, 1, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    rsptime = int_param(cmd, 2, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    _require_idle(ctx)
    target = _target(ctx)
    exchange = _connect_first(ctx, target)
    data = _input(ctx, exchange, length, input_time)
    if data is None:
        return
    request, method = _post_request(cfg, target, data)
    ctx.ok()
    _start(ctx, _Job("+QHTTPPOST", method, target, request, ctx.scaled(rsptime), exchange))


def _file_name(cmd: Command) -> str:
    text = str_param(cmd, 0, quoted=True, error=E_INVALID, max_len=84)
    try:
        return UFS.normalize(text)
    except ValueError:
        raise CommandFailed(E_INVALID) from None


def qhttppostfile(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPPOSTFILE=<file_name>[,<rsptime>]: POST a UFS file (2.5)."""
    module = ctx.module
    cfg = module.http.cfg
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPPOSTFILE: <file_name>,(1-65535)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    _require_sim(ctx)
    max_args(cmd, 2, E_INVALID)
    name = _file_name(cmd)
    rsptime = int_param(cmd, 1, 1, 65535, default=DEFAULT_TIME, error=E_INVALID)
    _require_idle(ctx)
    try:
        data = module.ufs.read(name)
    except KeyError:
        raise CommandFailed(405) from None  # FILE manual: file not found
    target = _target(ctx)
    exchange = _connect_first(ctx, target)
    request, method = _post_request(cfg, target, data)
    ctx.ok()
    _start(ctx, _Job("+QHTTPPOSTFILE", method, target, request, ctx.scaled(rsptime), exchange))


def _response_for_read(ctx: Ctx) -> HttpResponse:
    http = ctx.module.http
    if http.busy:
        raise CommandFailed(E_BUSY)
    resp = http.take_response()
    if resp is None:
        raise CommandFailed(E_NO_REQUEST)
    return resp


def qhttpread(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPREAD[=<wait_time>]: CONNECT, [head], body, OK, +QHTTPREAD: <err> (2.6)."""
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPREAD: (1-65535)")
        return
    if cmd.form not in (Form.WRITE, Form.EXEC):
        raise CommandFailed(E_INVALID)
    max_args(cmd, 1, E_INVALID)
    wait_time = ctx.scaled(int_param(cmd, 0, 1, 65535, default=DEFAULT_TIME, error=E_INVALID))
    resp = _response_for_read(ctx)
    try:
        _stream_body(ctx, resp, wait_time)
    finally:
        resp.exchange.close()


def _stream_body(ctx: Ctx, resp: HttpResponse, wait_time: float) -> None:
    module = ctx.module
    body = resp.exchange.body
    fault = module.faults.take_read_fault()
    ctx.connect()
    if module.http.cfg.responseheader:
        ctx.send(resp.head.raw)
    sent = 0
    idle_until = time.monotonic() + wait_time
    while True:
        limit = 16384
        if fault is not None:
            limit = max(0, min(limit, fault.after - sent))
            if limit == 0:
                if fault.kind == "reboot":
                    module.reboot()
                    ctx.check()
                if fault.kind == "drop":
                    ctx.channel.port.drop()
                    ctx.final_sent = True
                    return
                if fault.kind == "truncate":
                    ctx.ok(ctx.urc_line(f"+QHTTPREAD: {fault.err}"))
                    return
                if fault.kind == "stall":
                    ctx.sleep(fault.seconds)
                    idle_until = time.monotonic() + wait_time
                fault = None
                continue
        chunk, state = body.read(limit, POLL)
        if chunk:
            ctx.send(chunk)
            sent += len(chunk)
            idle_until = time.monotonic() + wait_time
            continue
        if state == "timeout":
            if ctx.escape_pending():  # "+++" interrupts the output (note 1.3)
                ctx.ok()
                return
            if time.monotonic() < idle_until:
                continue
        if state == "eof":
            ctx.ok(ctx.urc_line("+QHTTPREAD: 0"))
        elif state == "error":
            ctx.ok(ctx.urc_line(f"+QHTTPREAD: {body.error}"))
        else:
            ctx.fail(E_WAIT_DATA)
        return


def qhttpreadfile(ctx: Ctx, cmd: Command) -> None:
    """AT+QHTTPREADFILE=<file_name>[,<wait_time>]: OK, then +QHTTPREADFILE: <err> (2.7)."""
    module = ctx.module
    if cmd.form is Form.TEST:
        ctx.info("+QHTTPREADFILE: <file_name>,(1-65535)")
        return
    if cmd.form is not Form.WRITE:
        raise CommandFailed(E_INVALID)
    max_args(cmd, 2, E_INVALID)
    name = _file_name(cmd)
    wait_time = ctx.scaled(int_param(cmd, 1, 1, 65535, default=DEFAULT_TIME, error=E_INVALID))
    resp = _response_for_read(ctx)
    ctx.ok()
    head = resp.head.raw if module.http.cfg.responseheader else b""
    threading.Thread(
        target=_read_to_file,
        args=(module, resp, name, head, wait_time, ctx.generation),
        name="sim-http-file",
        daemon=True,
    ).start()


def _read_to_file(
    module: Module, resp: HttpResponse, name: str, head: bytes, wait_time: float, generation: int
) -> None:
    parts = [head]
    err = 0
    try:
        while True:
            chunk, state = resp.exchange.body.read(1 << 20, wait_time)
            if chunk:
                parts.append(chunk)
                continue
            if state == "error":
                err = resp.exchange.body.error
            elif state == "timeout":
                err = E_WAIT_DATA
            break
        if generation != module.generation:
            return  # the module rebooted meanwhile: nothing is stored or reported
        if err == 0:
            try:
                module.ufs.write(name, b"".join(parts))
            except OSError:
                err = 729  # Memory allocation failed: the UFS is full
    finally:
        resp.exchange.close()
    module.emit_urc(f"+QHTTPREADFILE: {err}", generation=generation)


REGISTRY = Registry(
    extended={
        "+QHTTPCFG": qhttpcfg,
        "+QHTTPURL": qhttpurl,
        "+QHTTPGET": qhttpget,
        "+QHTTPPOST": qhttppost,
        "+QHTTPPOSTFILE": qhttppostfile,
        "+QHTTPREAD": qhttpread,
        "+QHTTPREADFILE": qhttpreadfile,
    }
)
