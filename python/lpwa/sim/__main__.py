"""``python -m lpwa.sim``: run a simulated module (or ``--count N``) until Ctrl-C.

Prints where it listens (the ``socket://`` URL and the pty path). With
``--count N`` (N > 1) it serves N modules (``SimulatorFleet``, no pty) and
prints a header line, one URL per line, then ``Ctrl-C to stop``.
``main(argv)`` is what the ``lpwa sim`` subcommand calls.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from lpwa.sim.firmware import KNOWN_FIRMWARE
from lpwa.sim.fleet import SimulatorFleet
from lpwa.sim.simulator import DEFAULT_FIRMWARE, Simulator

__all__ = ["build_parser", "main"]


def _host_entry(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError("expected NAME=IP")
    return name, address


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m lpwa.sim",
        description="Simulated Quectel BG96/BG95/BG77 module on a TCP port and a pty.",
    )
    parser.add_argument(
        "--firmware",
        default=DEFAULT_FIRMWARE,
        help=f"full AT+QGMR revision (default {DEFAULT_FIRMWARE}); known: "
        + ", ".join(KNOWN_FIRMWARE),
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: any free one)")
    parser.add_argument("--bind", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    parser.add_argument("--no-pty", action="store_true", help="do not open a pseudo-terminal")
    parser.add_argument("--no-echo", action="store_true", help="power up with ATE0")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply the module's timers (default 1)"
    )
    parser.add_argument(
        "--host",
        action="append",
        type=_host_entry,
        default=[],
        metavar="NAME=IP",
        help="add a DNS entry for the module (repeatable)",
    )
    parser.add_argument(
        "--system-dns",
        action="store_true",
        help="resolve other names with the host's resolver (off by default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for random choices")
    parser.add_argument("--coap-ack-prefix", default=None, help='e.g. "+COAPACK"')
    parser.add_argument(
        "--app-rdy-delay",
        type=float,
        default=None,
        help="module seconds from RDY to APP RDY after a reboot (BG95/BG77; default 2)",
    )
    parser.add_argument(
        "--http-wedge-after",
        type=int,
        default=None,
        metavar="N",
        help="the HTTP stack fails every request with 710 after N requests (off by default)",
    )
    parser.add_argument(
        "--http-wedge-cure",
        choices=("reactivate", "reboot"),
        default="reactivate",
        help="what brings a wedged HTTP stack back (HTTP note 4.5 / a reboot)",
    )
    parser.add_argument(
        "--count",
        type=_positive_int,
        default=1,
        metavar="N",
        help="serve N modules from this process, one TCP port each, no pty (default 1)",
    )
    parser.add_argument(
        "--urc-every",
        type=_positive_float,
        default=None,
        metavar="SECONDS",
        help='each module sends +QIND: "csq",<rssi>,99 every SECONDS (off by default)',
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.count > 1 and args.port:
        print("lpwa: ParameterError: --port serves one module (--count 1)", file=sys.stderr)
        return 1
    options: dict[str, Any] = {
        "firmware": args.firmware,
        "host": args.bind,
        "echo": not args.no_echo,
        "time_scale": args.time_scale,
        "hosts": dict(args.host),
        "system_dns": args.system_dns,
        "seed": args.seed,
        "coap_ack_prefix": args.coap_ack_prefix,
        "app_rdy_delay": args.app_rdy_delay,
        "http_wedge_after": args.http_wedge_after,
        "http_wedge_cure": args.http_wedge_cure,
        "urc_every": args.urc_every,
    }
    server: Simulator | SimulatorFleet
    try:
        if args.count == 1:
            server = Simulator(port=args.port, pty=not args.no_pty, **options)
        else:
            server = SimulatorFleet(args.count, **options)
    except ValueError as exc:
        print(f"lpwa: ParameterError: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Both signals just end the wait below, so a stop at any moment
        # (even right after the banner) is clean.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    with server:
        if isinstance(server, Simulator):
            print(f"lpwa simulator {server.firmware}")
            print(f"url: {server.url}")
            if not args.no_pty:
                print(f"pty: {server.pty}")
        else:
            print(f"lpwa simulator {server.firmware} x{len(server)}")
            print("\n".join(server.urls))
        print("Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
