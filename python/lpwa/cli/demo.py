"""``lpwa demo``: lpwa's main job, end to end, on a fresh machine.

A simulated BG96 whose firmware has the error-719 bug, local HTTP(S) and CoAP
servers on 127.0.0.1, and a real session through the module: identity, PDP
activation, the demo CA uploaded for HTTPS, an HTTPS GET of a large body with a
progress bar, an HTTPS POST that needs the 719 padding, and CoAP GET and POST.
It shows the AT exchange live (abridged) and a summary table, and exits 0 only if
every step did what it should.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from lpwa.at import ATChannel
from lpwa.cli.progress import ProgressBar
from lpwa.cli.servers import CoAPServer, HTTPServer, demo_ca_pem, firmware_image
from lpwa.errors import LpwaError
from lpwa.modem import Modem

# A BG96 build that fails HTTPS POSTs with 719 (spec/002_*), so the demo shows
# the workaround at work.
DEMO_FIRMWARE = "BG96MAR03A06M1G_01.005.01.005"
# A telemetry body whose request, as the module would send it, has bit 11 set.
TELEMETRY = json.dumps({"device": "gw-0042", "readings": list(range(400))}).encode()
LINE_WIDTH = 78


class TracePrinter:
    """Prints the AT exchange as it happens, abridged: long lines cut, data and
    bodies shown as their size."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.body = 0
        self.enabled = True

    def __call__(self, direction: str, kind: str, data: bytes) -> None:
        if not self.enabled:
            return
        if kind == "body":
            self.body += len(data)
            return
        if kind == "body_end":
            self.body += len(data)
            text = f"[{self.body} bytes of body]"
            self.body = 0
        elif kind == "data":
            text = f"[{len(data)} bytes of data]"
        elif kind == "echo":
            return
        else:
            text = data.decode("utf-8", "replace").strip()
        if len(text) > LINE_WIDTH - 6:
            text = text[: LINE_WIDTH - 9] + "..."
        self.out.write(f"    {direction} {text}\n")


@dataclass
class Step:
    """One line of the summary: what was done, whether it worked, what it showed."""

    name: str
    ok: bool
    detail: str
    seconds: float


class DemoSession:
    """The demo's steps, each returning what it showed (or raising)."""

    def __init__(
        self,
        modem: Modem,
        https: HTTPServer,
        coap_server: CoAPServer,
        *,
        size: int,
        printer: TracePrinter,
        out: IO[str],
    ) -> None:
        self.modem = modem
        self.https = https
        self.coap_server = coap_server
        self.size = size
        self.printer = printer
        self.out = out

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        """The steps in order, each a title and the action that runs it."""
        return [
            ("Identity and quirk profile", self.identity),
            ("Network (AT+CPIN?, AT+CEREG?, AT+QIACT)", self.network),
            ("TLS setup (AT+QFUPL, AT+QSSLCFG)", self.tls),
            (f"HTTPS GET of {self.size} bytes (AT+QHTTPGET, AT+QHTTPREAD)", self.https_get),
            ("HTTPS POST on 719-affected firmware (AT+QHTTPPOST)", self.https_post),
            ("CoAP GET and POST (AT+QCOAP*)", self.coap),
        ]

    def identity(self) -> str:
        """Model, firmware and the firmware's error-719 profile."""
        quirk = ", ".join(sorted(self.modem.quirks.https_post_719)) or "none"
        return f"{self.modem.model} {self.modem.firmware} (719 bug in: {quirk})"

    def network(self) -> str:
        """SIM and registration checks, then PDP context 1."""
        self.modem.network.check_ready()
        ctx = self.modem.network.activate(1, apn="internet")
        return f"PDP context 1 active, address {ctx.address}"

    def tls(self) -> str:
        """The demo CA up to the module's UFS and SSL context 1 verifying with it."""
        info = self.modem.files.upload("demo_ca.pem", demo_ca_pem())
        self.modem.ssl.configure(
            1, sslversion=4, ciphersuite=0xFFFF, seclevel=1, cacert="demo_ca.pem"
        )
        self.modem.http.config(contextid=1, sslctxid=1)
        return f"CA uploaded ({info.size} bytes, checksum verified), seclevel 1"

    def https_get(self) -> str:
        """A large HTTPS GET with a progress bar; the body's SHA-256 checked."""
        bar = ProgressBar("GET", out=self.out)
        quiet = not self.printer.enabled
        self.printer.enabled = False  # the progress bar tells this part
        start = time.monotonic()
        try:
            response = self.modem.http.get(
                f"{self.https.url}/firmware/{self.size}", on_progress=bar
            )
        finally:
            bar.finish()
            self.printer.enabled = not quiet
        elapsed = time.monotonic() - start
        response.raise_for_status()
        digest = hashlib.sha256(response.content).hexdigest()
        if digest != hashlib.sha256(firmware_image(self.size)).hexdigest():
            raise AssertionError("the body differs from what the server sent")
        rate = len(response.content) / max(elapsed, 1e-6) / 1024
        return (
            f"{response.status_code}, {len(response.content)} bytes, sha256 "
            f"{digest[:12]}... verified, {rate:.0f} KiB/s"
        )

    def https_post(self) -> str:
        """An HTTPS POST that fails with 719 unless the library pads it."""
        response = self.modem.http.post(
            f"{self.https.url}/telemetry", TELEMETRY, content_type="application/json"
        )
        response.raise_for_status()
        seen = response.json()
        if seen["received"] != len(TELEMETRY):
            raise AssertionError("the server got a different body")
        if response.padded_by <= 0:
            raise AssertionError("the 719 padding was not applied")
        return (
            f"{response.status_code}, padded by {response.padded_by} bytes "
            f"to {seen['request_length']} (bit 11 clear) against error 719"
        )

    def coap(self) -> str:
        """A confirmable CoAP GET and a non-confirmable POST."""
        client = self.modem.coap.client(0)
        with client.open("127.0.0.1", self.coap_server.port):
            reading = client.get("sensors/temperature")
            stored = client.post("telemetry", b"t=21.5;h=40", confirmable=False)
        if not (reading.code.is_successful() and stored.code.is_successful()):
            raise AssertionError(f"CoAP answers {reading.code} and {stored.code}")
        return (
            f"GET {reading.code} {reading.payload.decode()!r}; "
            f"POST (NON) {stored.code} {stored.payload.decode()!r}"
        )


def run_demo(*, size: int = 1024 * 1024, quiet: bool = False, out: IO[str] | None = None) -> int:
    """Run the demo session, writing to ``out`` (default stdout); 0 when every step
    succeeded, else 1."""
    out = out if out is not None else sys.stdout
    from lpwa.sim import Simulator

    printer = TracePrinter(out)
    printer.enabled = not quiet
    results: list[Step] = []
    with contextlib.ExitStack() as stack:
        https = stack.enter_context(HTTPServer(tls=True))
        coap_server = stack.enter_context(CoAPServer())
        sim = stack.enter_context(Simulator(firmware=DEMO_FIRMWARE))
        out.write(
            f"lpwa demo: a simulated {DEMO_FIRMWARE} at {sim.url}\n"
            f"  HTTPS server {https.url}   CoAP server {coap_server.url}\n"
        )
        channel = stack.enter_context(ATChannel.open(sim.url))
        channel.on_trace = printer
        out.write("\n== Session setup (AT, ATE0, ATV1, AT+CMEE=1, ATI, AT+QGMR)\n")
        modem = Modem(channel)
        session = DemoSession(modem, https, coap_server, size=size, printer=printer, out=out)
        for name, action in session.steps():
            out.write(f"\n== {name}\n")
            out.flush()
            start = time.monotonic()
            try:
                detail, ok = action(), True
            except (LpwaError, OSError, AssertionError, ValueError, KeyError) as exc:
                detail, ok = f"{type(exc).__name__}: {exc}", False
            results.append(Step(name, ok, detail, time.monotonic() - start))
            out.write(f"   -> {'ok' if ok else 'FAILED'}: {detail}\n")
    _summary(results, out)
    return 0 if all(s.ok for s in results) else 1


def _summary(steps: list[Step], out: IO[str]) -> None:
    out.write("\nSummary\n")
    width = max(len(s.name) for s in steps)
    for s in steps:
        mark = "ok " if s.ok else "FAIL"
        out.write(f"  {mark} {s.name:<{width}} {s.seconds:6.2f} s\n")
    failed = sum(not s.ok for s in steps)
    out.write(f"\n{len(steps) - failed} of {len(steps)} steps succeeded\n")
