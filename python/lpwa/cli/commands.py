"""``lpwa info``, ``lpwa http`` and ``lpwa coap``: one module session each."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from lpwa.at import ATChannel
from lpwa.at.transport import holders_hint
from lpwa.cli.progress import ProgressBar, Spinner
from lpwa.errors import (
    ATTimeout,
    CoAPDNSError,
    HTTPDNSError,
    LpwaError,
    ModuleRebooted,
    ParameterError,
    ProtocolError,
)
from lpwa.modem import Modem

__all__ = ["coap", "hint", "http", "info", "module_seconds", "open_modem"]

# Bodies at least this large get a progress bar.
PROGRESS_FROM = 64 * 1024


@contextmanager
def open_modem(args: argparse.Namespace) -> Iterator[Modem]:
    """The module ``--port`` names; ``sim`` starts a simulator for the session.

    With ``-v`` the AT exchange is traced from the first byte (see ``verbose``).
    """
    hosts = dict(getattr(args, "host", None) or [])
    system_dns = bool(getattr(args, "system_dns", False))
    if args.port != "sim":
        if hosts or system_dns:
            raise ParameterError(
                "--host and --system-dns are for the built-in simulator (--port sim)"
            )
        with _modem_on(args.port, args) as modem:
            yield modem
        return
    from lpwa.sim import Simulator

    options = {"firmware": args.firmware} if args.firmware else {}
    # Like the module's own DNS: names resolve through --host entries (and the
    # host's resolver only with --system-dns), so nothing leaves the machine unasked.
    with (
        Simulator(hosts=hosts, system_dns=system_dns, **options) as sim,
        _modem_on(sim.url, args) as modem,
    ):
        yield modem


@contextmanager
def _modem_on(port: str, args: argparse.Namespace) -> Iterator[Modem]:
    channel = ATChannel.open(port, args.baudrate)
    if getattr(args, "verbose", False):
        from lpwa.cli.verbose import ATTrace

        channel.on_trace = ATTrace(sys.stderr)
    try:
        modem = Modem(channel)
    except BaseException:
        channel.close()
        raise
    with modem:
        yield modem


def hint(exc: BaseException, args: argparse.Namespace) -> str:
    """What to add to the one-line error for ``exc``: how to get past it, or ``""``."""
    port = getattr(args, "port", "")
    if isinstance(exc, (HTTPDNSError, CoAPDNSError)) and port == "sim":
        return (
            "the built-in simulator resolves only IP addresses, localhost and "
            "--host NAME=IP entries; add --host NAME=IP, or --system-dns to use this "
            "machine's resolver"
        )
    if isinstance(exc, (ATTimeout, ProtocolError, ModuleRebooted)) and port not in ("", "sim"):
        # A module that answers nothing or nonsense: often another program
        # (ModemManager) talking on the same port. (Modem.open says so itself.)
        text = holders_hint(port)
        return "" if text and text in str(exc) else text
    return ""


def module_seconds(timeout: float | None, option: str = "--timeout") -> int | None:
    """``--timeout`` as the module's whole seconds (rounded up), 1-65535.

    The same mapping as the library's ``timeout=`` (rsptime / wait_time).
    """
    if timeout is None:
        return None
    if not timeout > 0:
        raise ParameterError(f"{option} must be more than 0 s: {timeout:g}")
    if not math.isfinite(timeout) or math.ceil(timeout) > 65535:
        raise ParameterError(f"{option} must be at most 65535 s: {timeout:g}")
    return math.ceil(timeout)


def _read_arg(value: str) -> bytes:
    """``@file`` reads the file; anything else is the text itself."""
    if value.startswith("@"):
        return Path(value[1:]).read_bytes()
    return value.encode("utf-8")


def info(args: argparse.Namespace) -> int:
    """``lpwa info``: print identity, SIM, registration and PDP contexts; 0."""
    with open_modem(args) as modem:
        net = modem.network
        rows = [
            ("model", modem.model),
            ("firmware", modem.firmware),
            ("revision", modem.revision),
            ("719 quirk", ", ".join(sorted(modem.quirks.https_post_719)) or "none"),
            ("SIM", net.sim_status()),
            ("registration", _registration(modem)),
        ]
        contexts = net.status()
        rows += [
            (f"PDP context {c.context_id}", f"{'active' if c.active else 'inactive'} {c.address}")
            for c in contexts
        ] or [("PDP contexts", "none active")]
    if args.port != "sim":
        # Another program on the same port steals answers (ModemManager does).
        shared = holders_hint(args.port)
        if shared:
            rows.append(("port", shared))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _registration(modem: Modem) -> str:
    reg = modem.network.registration()
    names = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 5: "roaming"}
    return f"{names.get(reg.stat, 'unknown')} (stat {reg.stat})"


# The UFS name the CLI uploads --cacert under (its own, so no file of the
# application's is overwritten).
CACERT_FILE = "lpwa_cli_ca.pem"
INSECURE_WARNING = "lpwa: warning: --insecure: the server's certificate is not verified"


def http(args: argparse.Namespace) -> int:
    """``lpwa http get|post``: the body to stdout or ``--output``; 0 on 2xx, else 2.

    Every argument is checked and every file read before the module is touched.
    """
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep:
            raise ParameterError(f"--header takes K:V, not {item!r}")
        headers[name.strip()] = value.strip()
    data = _read_arg(args.data) if args.data is not None else None
    if args.method == "post" and data is None:
        raise ParameterError("http post needs --data")
    # Checked here so that nothing reaches the module before the option is;
    # the library maps timeout= to rsptime and wait_time the same way.
    module_seconds(args.timeout)
    https = urlsplit(args.url).scheme.lower() == "https"
    cacert = _tls_choice(args, https)
    host = urlsplit(args.url).hostname or args.url
    with open_modem(args) as modem:
        # apn None: the context is activated as stored (AT+QICSGP is left alone).
        modem.network.activate(1, apn=args.apn)
        with _http_config_kept(modem), _ssl_context_kept(modem, https, cacert is not None):
            if https:
                _https_setup(modem, cacert)
            bar = ProgressBar("body", min_total=PROGRESS_FROM)
            hdrs = headers or None
            with Spinner(f"waiting for {host}", timeout=args.timeout, live=_spin(args)):
                if args.method == "get":
                    response = modem.http.get(
                        args.url, headers=hdrs, stream=True, on_progress=bar, timeout=args.timeout
                    )
                else:
                    assert data is not None
                    response = modem.http.post(
                        args.url,
                        data,
                        headers=hdrs,
                        stream=True,
                        on_progress=bar,
                        timeout=args.timeout,
                    )
            # Closed whatever the sink does (a broken pipe): the restores below
            # need the module back.
            with response:
                _write_body(response.iter_content(), args.output, bar)
        status = f"HTTP {response.status_code} {response.reason}".rstrip()
        if response.padded_by:
            status += f" (padded by {response.padded_by} bytes against error 719)"
        print(status, file=sys.stderr)
        if 300 <= response.status_code < 400:
            # The module follows no redirect: say where the resource went.
            location = response.headers.get("Location")
            if location is not None:
                print(f"Location: {location}", file=sys.stderr)
    # README and --help promise 2 for anything but 2xx: a redirect is not the
    # resource that was asked for either.
    return 0 if 200 <= response.status_code < 300 else 2


def _tls_choice(args: argparse.Namespace, https: bool) -> bytes | None:
    """The CA to verify with (read now), None with --insecure; refuses neither, as curl
    verifies by default and the module has no CA of its own to fall back on."""
    if args.cacert and args.insecure:
        raise ParameterError("give --cacert FILE or --insecure (-k), not both")
    if not https:
        return None
    if args.insecure:
        print(INSECURE_WARNING, file=sys.stderr)
        return None
    if not args.cacert:
        raise ParameterError(
            "an https:// URL needs --cacert FILE (the CA to verify the server with) "
            "or --insecure (-k) to skip verification"
        )
    return Path(args.cacert).read_bytes()


def _https_setup(modem: Modem, cacert: bytes | None) -> None:
    """SSL context 1 for HTTPS: verify against ``cacert`` (seclevel 1), or, only
    with --insecure (``cacert`` None), no verification (seclevel 0)."""
    if cacert is not None:
        modem.files.upload(CACERT_FILE, cacert)
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=1, cacert=CACERT_FILE)
    else:
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=0)
    modem.http.config(sslctxid=1)


# The keys _https_setup may change in SSL context 1 (with the defaults
# ssl.configure adds): read before, put back after, sni and checkhost last so
# that the defaults seclevel brings are overwritten.
SSL_KEPT = ("sslversion", "ciphersuite", "seclevel", "cacert", "sni", "checkhost")


@contextmanager
def _ssl_context_kept(modem: Modem, https: bool, uploaded: bool) -> Iterator[None]:
    """Put SSL context 1 back as it was, and delete the CA the CLI uploaded: the
    module keeps no trace of a --cacert or --insecure run."""
    if not https:
        yield
        return
    before: dict[str, int | str] = {}
    for key in SSL_KEPT:
        # A build that does not know a key (sni, checkhost on a BG96) is left out.
        with contextlib.suppress(LpwaError, ValueError):
            fields = modem.ssl.query(1, key)
            if fields:
                before[key] = fields[0] if key == "cacert" else int(fields[0], 0)
    try:
        yield
    finally:
        for key, value in before.items():
            with contextlib.suppress(LpwaError):
                if value == "":
                    # No CA before: ssl.configure takes no empty name, the module does.
                    modem.command(f'AT+QSSLCFG="{key}",1,""')
                else:
                    modem.ssl.configure(1, **{key: value})
        if uploaded:
            with contextlib.suppress(LpwaError):
                modem.files.delete(CACERT_FILE)


@contextmanager
def _http_config_kept(modem: Modem) -> Iterator[None]:
    """Put back the QHTTPCFG keys (responseheader, requestheader, sslctxid, ...)
    the request changed: the CLI changes no configuration it was not asked to."""
    before = modem.http.config()
    try:
        yield
    except BaseException:
        # The request's own error is the one to report; restore what we can.
        with contextlib.suppress(LpwaError):
            _restore_http_config(modem, before)
        raise
    _restore_http_config(modem, before)


def _restore_http_config(modem: Modem, before: dict[str, int]) -> None:
    now = modem.http.config()
    changed = {key: value for key, value in before.items() if now.get(key) != value}
    if changed:
        modem.http.config(**changed)


def _write_body(chunks: Iterator[bytes], output: str | None, bar: ProgressBar) -> None:
    sink = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in chunks:
            sink.write(chunk)
    finally:
        bar.finish()
        if output:
            sink.close()
        else:
            sink.flush()


def _spin(args: argparse.Namespace) -> bool | None:
    # With -v the trace is the progress: no spinner over it.
    return False if getattr(args, "verbose", False) else None


def coap(args: argparse.Namespace) -> int:
    """``lpwa coap get|post|put|delete``: the payload to stdout; 0 on 2.xx, else 2."""
    from lpwa.coap.client import RETRIES, split_uri

    parts = urlsplit(args.url)
    if parts.scheme != "coap" or not parts.hostname:
        raise ParameterError(f"URL must be coap://host[:port]/path, not {args.url!r}")
    payload = _read_arg(args.payload) if args.payload else b""
    if args.timeout is not None and not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise ParameterError(f"--timeout must be a number of seconds above 0: {args.timeout:g}")
    if args.retries is not None and args.retries not in RETRIES:
        # QCOAPCFG "trans" (CoAP note 3.3.1) takes 4-8 retransmissions.
        raise ParameterError(
            f"--retries must be {RETRIES.start}-{RETRIES.stop - 1} (the module's range): "
            f"{args.retries}"
        )
    with open_modem(args) as modem:
        modem.network.activate(1, apn=args.apn)
        client = modem.coap.client(0)
        if args.retries is not None:
            client.configure(retries=args.retries)
        with client.open(parts.hostname, parts.port or 5683):
            method = getattr(client, args.method)
            kwargs: dict[str, object] = {"confirmable": not args.non}
            if args.timeout is not None:
                kwargs["timeout"] = args.timeout
            path, query = split_uri(parts.path, parts.query)  # RFC 7252 6.4
            if query:
                kwargs["query"] = query
            label = f"waiting for {parts.hostname}"
            with Spinner(label, timeout=args.timeout, live=_spin(args)):
                if args.method in ("post", "put"):
                    response = method(path, payload, **kwargs)
                else:
                    response = method(path, **kwargs)
    print(f"{response.code} {response.code.name}", file=sys.stderr)
    sys.stdout.buffer.write(response.payload)
    # A newline for the terminal's sake only: piped or redirected, the payload is exact.
    if sys.stdout.isatty() and response.payload and not response.payload.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
    return 0 if response.code.is_successful() else 2
