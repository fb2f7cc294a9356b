"""The ``lpwa`` command: demo, info, http, coap, trace and sim.

``--port`` takes any pyserial URL (``socket://host:port``, ``rfc2217://…``), a
device or pty path, or ``sim`` for a built-in simulated module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lpwa import __version__
from lpwa.errors import LpwaError


def _port_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        default="sim",
        help="pyserial URL, device or pty path of the module, or 'sim' for a built-in "
        "simulator (default: sim)",
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="serial speed (default 115200)"
    )
    parser.add_argument(
        "--firmware",
        default=None,
        help="with --port sim: the simulated firmware revision (AT+QGMR)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lpwa",
        description="HTTP(S) and CoAP through Quectel BG95/BG77/BG96 modules over AT commands.",
    )
    parser.add_argument("--version", action="version", version=f"lpwa {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the AT exchange")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="run a full session on a built-in simulator with local servers",
        description="Start a simulated BG96 plus local HTTP(S) and CoAP servers on 127.0.0.1 "
        "and run a real session: identity, PDP activation, HTTPS GET of a large body, a POST "
        "that needs the error-719 padding, and CoAP GET/POST.",
    )
    demo.add_argument("--size", type=int, default=1024 * 1024, help="GET body size in bytes")
    demo.add_argument("--quiet", action="store_true", help="do not show the AT exchange")

    info = sub.add_parser("info", help="model, firmware, SIM, registration and PDP state")
    _port_option(info)

    http = sub.add_parser("http", help="HTTP(S) GET or POST through the module")
    _port_option(http)
    http.add_argument("method", choices=["get", "post"])
    http.add_argument("url")
    http.add_argument("--data", help="POST body: text, or @file to read it from a file")
    http.add_argument(
        "--header", action="append", default=[], metavar="K:V", help="extra request header"
    )
    http.add_argument("-o", "--output", help="write the body to this file instead of stdout")
    http.add_argument("--apn", default="", help="APN to activate PDP context 1 with")
    http.add_argument("--cacert", help="PEM file of the CA to verify an HTTPS server with")

    coap = sub.add_parser("coap", help="CoAP request through the module")
    _port_option(coap)
    coap.add_argument("method", choices=["get", "post", "put", "delete"])
    coap.add_argument("url", help="coap://host:port/path?query")
    coap.add_argument("--payload", default="", help="payload text, or @file")
    coap.add_argument("--non", action="store_true", help="send as Non-confirmable")
    coap.add_argument("--apn", default="", help="APN to activate PDP context 1 with")

    trace = sub.add_parser("trace", help="decode a captured module byte stream to JSON lines")
    trace.add_argument("file", help="capture file, or - for standard input")
    trace.add_argument("--stats", action="store_true", help="count events by kind and URC name")
    trace.add_argument("--brief", action="store_true", help="omit body and payload bytes")

    sim = sub.add_parser("sim", help="serve a simulated module on a pty and socket://")
    sim.add_argument("args", nargs=argparse.REMAINDER, help="options of python -m lpwa.sim")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(message)s")
    try:
        if args.command == "trace":
            from lpwa.cli.trace import run

            return run(args.file, stats=args.stats, brief=args.brief)
        if args.command == "sim":
            from lpwa.sim.__main__ import main as sim_main

            return sim_main(args.args)
        if args.command == "demo":
            from lpwa.cli.demo import run_demo

            return run_demo(size=args.size, quiet=args.quiet)
        from lpwa.cli import commands

        handler = {"info": commands.info, "http": commands.http, "coap": commands.coap}
        return handler[args.command](args)
    except LpwaError as exc:
        print(f"lpwa: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
