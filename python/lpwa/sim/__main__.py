"""``python -m lpwa.sim``: run a simulated module until Ctrl-C.

Prints where it listens (the ``socket://`` URL and the pty path). ``main(argv)``
is what the ``lpwa sim`` subcommand calls.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from lpwa.sim.firmware import KNOWN_FIRMWARE
from lpwa.sim.simulator import DEFAULT_FIRMWARE, Simulator

__all__ = ["build_parser", "main"]


def _host_entry(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError("expected NAME=IP")
    return name, address


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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        sim = Simulator(
            firmware=args.firmware,
            port=args.port,
            host=args.bind,
            pty=not args.no_pty,
            echo=not args.no_echo,
            time_scale=args.time_scale,
            hosts=dict(args.host),
            system_dns=args.system_dns,
            seed=args.seed,
            coap_ack_prefix=args.coap_ack_prefix,
            app_rdy_delay=args.app_rdy_delay,
            http_wedge_after=args.http_wedge_after,
            http_wedge_cure=args.http_wedge_cure,
        )
    except ValueError as exc:
        print(f"lpwa: ParameterError: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        # Both signals just end the wait below, so a stop at any moment
        # (even right after the banner) is clean.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    with sim:
        print(f"lpwa simulator {sim.firmware}")
        print(f"url: {sim.url}")
        if not args.no_pty:
            print(f"pty: {sim.pty}")
        print("Ctrl-C to stop", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
