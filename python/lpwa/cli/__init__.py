"""The ``lpwa`` command: demo, info, http, coap, trace and sim.

``--port`` takes any pyserial URL (``socket://host:port``, ``rfc2217://…``), a
device or pty path, or ``sim`` for a built-in simulated module.

Exit status: 0 on success; 1 on an error, reported as one line
``lpwa: <ErrorClass>: <message>`` on standard error (``--verbose`` adds the
traceback); 2 on a usage error or when the server answered with a failure
(HTTP status not 2xx, a redirect included; CoAP class not 2); 130 on Ctrl-C;
141 when standard output was closed early (``lpwa trace big.cap | head``), quietly.

The library logs nothing unless asked (``lpwa`` has a NullHandler); this command
decides what reaches the terminal: with ``-v`` the AT exchange (``cli.verbose``)
and the library's INFO records.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lpwa import __version__
from lpwa.errors import LpwaError


def _port_option(parser: argparse.ArgumentParser) -> None:
    # -v after the command word too, as curl users type it ('lpwa http get URL -v').
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="same as 'lpwa -v COMMAND'",
    )
    parser.add_argument(
        "--port",
        default="sim",
        help="pyserial URL, device or pty path of the module, or 'sim' for a built-in "
        "simulator (default: sim)",
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, metavar="BPS", help="serial speed (default 115200)"
    )
    parser.add_argument(
        "--firmware",
        default=None,
        metavar="REVISION",
        help="with --port sim: the simulated firmware revision (AT+QGMR)",
    )
    parser.add_argument(
        "--host",
        action="append",
        type=_host_entry,
        default=[],
        metavar="NAME=IP",
        help="with --port sim: a DNS entry for the simulated module (repeatable); "
        "it resolves only IP addresses, localhost and these by default",
    )
    parser.add_argument(
        "--system-dns",
        action="store_true",
        help="with --port sim: resolve other names with this machine's resolver",
    )


def _timeout_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=what)


def _host_entry(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"expected NAME=IP, not {text!r}")
    return name, address


def build_parser(sim_options: bool = True) -> argparse.ArgumentParser:
    """The ``lpwa`` argument parser, with one subparser per command. Without
    ``sim_options`` the ``sim`` command has no options: they import the simulator,
    about 0.2 s of start-up that the other commands (``lpwa trace``) do not need."""
    parser = argparse.ArgumentParser(
        prog="lpwa",
        description="HTTP(S) and CoAP through Quectel BG95/BG77/BG96 modules over AT commands.",
        epilog="Run 'lpwa COMMAND --help' for a command's options. Try 'lpwa demo' first.",
    )
    parser.add_argument("--version", action="version", version=f"lpwa {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the AT exchange (escaped, secrets redacted) on standard error, "
        "and the traceback of an error",
    )
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
    demo.add_argument(
        "--fleet",
        type=int,
        metavar="N",
        default=None,
        help="instead: N modules at once from one asyncio event loop (lpwa.aio.Fleet)",
    )

    info = sub.add_parser(
        "info",
        help="model, firmware, SIM, registration and PDP state",
        description="Print the module's model, firmware revision, error-719 quirk profile, "
        "SIM state, network registration and PDP contexts.",
    )
    _port_option(info)

    http = sub.add_parser(
        "http",
        help="HTTP(S) GET or POST through the module",
        description="Send one HTTP(S) request through the module (AT+QHTTP*) and write the "
        "response body to standard output (or --output); the status line goes to standard "
        "error, with a progress bar for large bodies. Exit status 2 if the status is not 2xx.",
    )
    _port_option(http)
    http.add_argument("method", choices=["get", "post"], metavar="METHOD", help="get or post")
    http.add_argument("url", metavar="URL", help="http:// or https:// URL (at most 700 bytes)")
    http.add_argument(
        "--data", metavar="TEXT|@FILE", help="POST body: text, or @file to read it from a file"
    )
    http.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K:V",
        help="extra request header (repeatable)",
    )
    http.add_argument(
        "-o", "--output", metavar="FILE", help="write the body to this file instead of stdout"
    )
    http.add_argument(
        "--apn",
        default=None,
        help="configure PDP context 1 with this APN before activating it "
        "(default: leave the stored AT+QICSGP settings alone)",
    )
    http.add_argument(
        "--cacert",
        metavar="PEM",
        help="PEM file of the CA to verify an HTTPS server with (HTTPS needs this or -k)",
    )
    http.add_argument(
        "-k",
        "--insecure",
        action="store_true",
        help="HTTPS without verifying the server's certificate (prints a warning)",
    )
    _timeout_option(
        http,
        "how long the module waits for the server's answer and between body packets "
        "(rsptime and wait_time, whole seconds 1-65535; default 60)",
    )

    coap = sub.add_parser(
        "coap",
        help="CoAP request through the module",
        description="Send one CoAP request through the module (AT+QCOAP*) and write the "
        "response payload to standard output; the response code goes to standard error. "
        "Exit status 2 if the code is not 2.xx.",
    )
    _port_option(coap)
    coap.add_argument(
        "method",
        choices=["get", "post", "put", "delete"],
        metavar="METHOD",
        help="get, post, put or delete",
    )
    coap.add_argument("url", metavar="URL", help="coap://host:port/path?query")
    coap.add_argument(
        "--payload",
        default="",
        metavar="TEXT|@FILE",
        help="payload text, or @file (at most 1024 bytes)",
    )
    coap.add_argument("--non", action="store_true", help="send as Non-confirmable")
    coap.add_argument(
        "--apn",
        default=None,
        help="configure PDP context 1 with this APN before activating it "
        "(default: leave the stored AT+QICSGP settings alone)",
    )
    _timeout_option(
        coap,
        "how long to wait for the answer (default: the retransmission window, "
        "about 190 s for a Confirmable request; 30 s for --non)",
    )
    coap.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help="retransmissions of a Confirmable request, 4-8 (sets the client's "
        'AT+QCOAPCFG="trans"; module default 5)',
    )

    trace = sub.add_parser(
        "trace",
        help="decode a captured module byte stream to JSON lines",
        description="Decode a raw module-to-host capture (echo on) into one JSON object per "
        "event: kind, text, name, code, and base64 bodies and payloads.",
    )
    trace.add_argument("file", metavar="FILE", help="capture file, or - for standard input")
    trace.add_argument(
        "--stats",
        action="store_true",
        help="print one JSON summary instead: events by kind, URCs by name, input bytes, MB/s",
    )
    trace.add_argument("--brief", action="store_true", help="omit body and payload bytes")
    trace.add_argument(
        "--format",
        choices=("raw", "escaped", "tagged", "dots", "hex", "text"),
        default=None,
        help="the log's dialect (default: detected from its first bytes)",
    )

    # The simulator's own options (python -m lpwa.sim), so 'lpwa sim --help' lists them.
    if sim_options:
        from lpwa.sim.__main__ import build_parser as sim_parser
    sub.add_parser(
        "sim",
        parents=[sim_parser()] if sim_options else [],
        add_help=False,
        help="serve a simulated module on a pty and socket:// until Ctrl-C",
        description="Run a simulated module and print where it listens (socket:// URL and "
        "pty path); stops on Ctrl-C or SIGTERM.",
    )
    return parser


def _sim_argv(argv: Sequence[str]) -> list[str]:
    """The arguments after the ``sim`` command word (the global options take no value)."""
    items = list(argv)
    return items[items.index("sim") + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lpwa`` command with ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(sim_options="sim" in argv)
    args = parser.parse_args(argv)
    if args.verbose:
        import logging

        # The AT exchange itself comes from the channel's trace hook (cli.verbose),
        # redacted; the library's DEBUG records would repeat it.
        logging.basicConfig(level=logging.INFO, format="lpwa: %(name)s: %(message)s")
    try:
        if args.command == "trace":
            from lpwa.cli.trace import run

            return run(args.file, stats=args.stats, brief=args.brief, format=args.format)
        if args.command == "sim":
            from lpwa.sim.__main__ import main as sim_main

            try:
                return sim_main(_sim_argv(argv))
            except KeyboardInterrupt:
                # Ctrl-C is how 'lpwa sim' is stopped, even in the instant
                # between its banner and its wait loop.
                return 0
        if args.command == "demo" and args.fleet is not None:
            from lpwa.cli.fleet_demo import run_fleet_demo

            if not 1 <= args.fleet <= 1000:
                parser.error("--fleet: 1 to 1000 modules")
            return run_fleet_demo(args.fleet)
        if args.command == "demo":
            from lpwa.cli.demo import run_demo

            return run_demo(size=args.size, quiet=args.quiet)
        from lpwa.cli import commands

        handler = {"info": commands.info, "http": commands.http, "coap": commands.coap}
        return handler[args.command](args)
    except BrokenPipeError:
        # The reader went away ('lpwa trace big.cap | head'): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except (LpwaError, OSError, ValueError) as exc:
        # ValueError: arguments the library refused (a firmware name, a URL…);
        # OSError: files named on the command line, sockets, the serial device.
        if args.verbose:
            import traceback

            traceback.print_exc()
        line = f"lpwa: {type(exc).__name__}: {_one_line(exc)}"
        extra = _hint(exc, args)
        print(f"{line}; {extra}" if extra else line, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _hint(exc: BaseException, args: argparse.Namespace) -> str:
    if args.command not in ("info", "http", "coap"):
        return ""
    from lpwa.cli.commands import hint

    return " ".join(hint(exc, args).split())


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or "(no message)"


if __name__ == "__main__":
    sys.exit(main())
