"""``lpwa info``, ``lpwa http`` and ``lpwa coap``: one module session each."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from lpwa.cli.progress import ProgressBar
from lpwa.errors import ParameterError
from lpwa.modem import Modem

__all__ = ["coap", "http", "info", "open_modem"]

# Bodies at least this large get a progress bar.
PROGRESS_FROM = 64 * 1024


@contextmanager
def open_modem(args: argparse.Namespace) -> Iterator[Modem]:
    """The module ``--port`` names; ``sim`` starts a simulator for the session."""
    if args.port != "sim":
        with Modem.open(args.port, args.baudrate) as modem:
            yield modem
        return
    from lpwa.sim import Simulator

    options = {"firmware": args.firmware} if args.firmware else {}
    # The user asked for these hosts by name: let the simulated module resolve
    # them with the host's resolver, as a real module would with its network's.
    with Simulator(system_dns=True, **options) as sim, Modem.open(sim.url) as modem:
        yield modem


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
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


def _registration(modem: Modem) -> str:
    reg = modem.network.registration()
    names = {0: "not registered", 1: "home", 2: "searching", 3: "denied", 5: "roaming"}
    return f"{names.get(reg.stat, 'unknown')} (stat {reg.stat})"


def http(args: argparse.Namespace) -> int:
    """``lpwa http get|post``: the body to stdout or ``--output``; 0 on 2xx, else 2."""
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition(":")
        if not sep:
            raise ParameterError(f"--header takes K:V, not {item!r}")
        headers[name.strip()] = value.strip()
    data = _read_arg(args.data) if args.data is not None else None
    if args.method == "post" and data is None:
        raise ParameterError("http post needs --data")
    with open_modem(args) as modem:
        modem.network.activate(1, apn=args.apn)
        if args.url.lower().startswith("https://"):
            _https_setup(modem, args.cacert)
        bar = ProgressBar("body", min_total=PROGRESS_FROM)
        hdrs = headers or None
        if args.method == "get":
            response = modem.http.get(args.url, headers=hdrs, stream=True, on_progress=bar)
        else:
            assert data is not None
            response = modem.http.post(args.url, data, headers=hdrs, stream=True, on_progress=bar)
        sink = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
        try:
            for chunk in response.iter_content():
                sink.write(chunk)
        finally:
            bar.finish()
            if args.output:
                sink.close()
            else:
                sink.flush()
        status = f"HTTP {response.status_code} {response.reason}".rstrip()
        if response.padded_by:
            status += f" (padded by {response.padded_by} bytes against error 719)"
        print(status, file=sys.stderr)
    return 0 if response.ok else 2


def _https_setup(modem: Modem, cacert: str | None) -> None:
    """SSL context 1 for HTTPS: verify against ``cacert`` if given, else don't verify."""
    if cacert:
        modem.files.upload("cacert.pem", Path(cacert).read_bytes())
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=1, cacert="cacert.pem")
    else:
        modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=0)
    modem.http.config(sslctxid=1)


def coap(args: argparse.Namespace) -> int:
    """``lpwa coap get|post|put|delete``: the payload to stdout; 0 on 2.xx, else 2."""
    parts = urlsplit(args.url)
    if parts.scheme != "coap" or not parts.hostname:
        raise ParameterError(f"URL must be coap://host[:port]/path, not {args.url!r}")
    payload = _read_arg(args.payload) if args.payload else b""
    with open_modem(args) as modem:
        modem.network.activate(1, apn=args.apn)
        client = modem.coap.client(0)
        with client.open(parts.hostname, parts.port or 5683):
            method = getattr(client, args.method)
            kwargs: dict[str, object] = {"confirmable": not args.non}
            if parts.query:
                kwargs["query"] = parts.query
            if args.method in ("post", "put"):
                response = method(parts.path, payload, **kwargs)
            else:
                response = method(parts.path, **kwargs)
    print(f"{response.code} {response.code.name}", file=sys.stderr)
    sys.stdout.buffer.write(response.payload)
    # A newline for the terminal's sake only: piped or redirected, the payload is exact.
    if sys.stdout.isatty() and response.payload and not response.payload.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()
    return 0 if response.code.is_successful() else 2
