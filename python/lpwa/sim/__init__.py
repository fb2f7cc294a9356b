"""``lpwa.sim``: a Quectel BG96/BG95/BG77 module simulator, faithful to the byte.

    from lpwa.sim import Simulator

    with Simulator(firmware="BG96MAR02A07M1G_01.016.01.016", time_scale=0.05) as sim:
        port = serial.serial_for_url(sim.url)   # or serial.Serial(sim.pty)

It plays the module's side of the serial link (design section 2 framing) on two
AT ports sharing one module: a TCP server (``sim.url``, port name ``uart1``)
and a pseudo-terminal (``sim.pty``, port name ``usbat``). Its network is real:
HTTP(S) goes out through the host's sockets (TLS per ``AT+QSSLCFG`` with the CA
from the simulated UFS), CoAP over UDP.

Layout (one concern per module): ``simulator`` (the facade), ``module`` (shared
state, URC routing, reboot), ``engine`` (per-port sessions, framing, data
phases), ``transport`` (pty and TCP), ``reactor`` (the shared I/O core),
``fleet``, ``ticker`` (periodic URCs), ``atparse``/``params`` (command lines),
``results`` (response bytes), command families ``basic``, ``network``,
``files``, ``tls`` (QSSLCFG), ``http`` (+ ``http_client``), ``coap`` (+
``coap_client``), ``firmware`` (profiles; quirk data in ``lpwa.quirks``),
``faults``, ``ufs``, ``dns``.

Fault injection (``sim.faults``, see ``lpwa.sim.faults``): ``reboot_on(prefix)``,
``reboot_during_read(after)``, ``truncate_read(after, err=717)``,
``stall_read(after, seconds)``, ``drop_during_read(after)``, ``garbage(data)``,
``urc_before_echo(text)``, ``drop_on(prefix)``, ``drop(port=None)``,
``inject(data, port=None)``, ``clear()``, ``armed``.

Other handles: ``sim.ufs`` (``UFS``: ``sim.ufs["cacert.pem"] = pem``),
``sim.reboot()``, ``sim.wait_booted()``, ``sim.sim_ready``/``sim.registered``
(settable), ``sim.queue_coap_tokens(*tokens)``, ``sim.transcript``/
``sim.transcript_bytes()``, ``sim.module``.

Many modules in one process: ``SimulatorFleet(count, **options)`` (``fleet``),
with ``.urls`` and ``.simulators``; every port of the process is served by one
shared I/O core (``reactor``: a reader thread, a timer thread, a worker pool
busy only while a port has input), so an idle module costs no thread.

``python -m lpwa.sim --help`` runs one from the shell (``main(argv)``);
``--count N`` serves N modules and prints their URLs.
"""

from __future__ import annotations

from lpwa.sim.faults import Faults
from lpwa.sim.firmware import KNOWN_FIRMWARE, FirmwareProfile
from lpwa.sim.fleet import SimulatorFleet
from lpwa.sim.simulator import DEFAULT_FIRMWARE, Simulator, TranscriptEntry
from lpwa.sim.ufs import UFS, checksum, checksum_hex

__all__ = [
    "DEFAULT_FIRMWARE",
    "KNOWN_FIRMWARE",
    "UFS",
    "Faults",
    "FirmwareProfile",
    "Simulator",
    "SimulatorFleet",
    "TranscriptEntry",
    "checksum",
    "checksum_hex",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """Run a simulator from the command line (``python -m lpwa.sim``)."""
    from lpwa.sim.__main__ import main as _main

    return _main(argv)
