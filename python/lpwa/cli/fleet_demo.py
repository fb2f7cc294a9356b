"""``lpwa demo --fleet N``: several modules at once from one event loop.

N simulated modules served from this process (:class:`lpwa.sim.SimulatorFleet`),
local HTTP and CoAP servers on 127.0.0.1, and one :class:`lpwa.aio.Fleet`:
every module activates its PDP context, GETs a body over HTTP (its SHA-256
checked) and asks a CoAP server for a reading, all concurrently. One module is
set to reboot in the middle of its body: it alone fails with ``ModuleRebooted``,
its session comes back, and its second try succeeds, while the others carry on.
The merged URC stream and each module's health close the story. Exits 0 only if
every module did what it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
from typing import IO

from lpwa.aio import AsyncModem, Fleet
from lpwa.cli.servers import CoAPServer, HTTPServer, firmware_image
from lpwa.errors import LpwaError, ModuleRebooted

BODY = 64 * 1024
# The module told to reboot in the middle of its body (when there are 2 or more).
VICTIM = 1


async def _visit(modem: AsyncModem, http: str, coap_port: int) -> str:
    await modem.network.activate(1, apn="internet")
    response = await modem.http.get(f"{http}/firmware/{BODY}")
    response.raise_for_status()
    if hashlib.sha256(response.content).digest() != hashlib.sha256(firmware_image(BODY)).digest():
        raise AssertionError("the body differs from what the server sent")
    async with modem.coap.client(0) as client:
        await client.open("127.0.0.1", coap_port)
        reading = await client.get("sensors/temperature")
    return f"GET {response.status_code} {len(response.content)} B sha256 ok; CoAP {reading.code}"


def run_fleet_demo(count: int, *, out: IO[str] | None = None) -> int:
    """Run the fleet demo with ``count`` modules; 0 when every module behaved."""
    out = out if out is not None else sys.stdout
    return asyncio.run(_demo(count, out))


async def _demo(count: int, out: IO[str]) -> int:
    from lpwa.sim import SimulatorFleet

    with contextlib.ExitStack() as stack:
        http = stack.enter_context(HTTPServer())
        coap_server = stack.enter_context(CoAPServer())
        sims = stack.enter_context(SimulatorFleet(count, time_scale=0.2))
        out.write(
            f"lpwa demo --fleet: {count} simulated modules in this process "
            f"({sims.urls[0]} ...)\n  HTTP server {http.url}   CoAP server {coap_server.url}\n"
        )
        victim = sims.urls[VICTIM] if count > 1 else None
        if victim is not None:
            sims.simulators[VICTIM].faults.reboot_during_read(BODY // 2)
        start = time.monotonic()
        async with Fleet.open(sims.urls, concurrency=min(count, 64)) as fleet:
            out.write(
                f"\n== Opened {len(fleet.modems)} of {count} modules in "
                f"{time.monotonic() - start:.2f} s (one event loop, no thread per module)\n"
            )
            for sim in sims.simulators:
                sim.module.emit_urc('+QIND: "csq",20,99')
            start = time.monotonic()
            results = await fleet.run(lambda m: _visit(m, http.url, coap_server.port))
            out.write(
                f"\n== Every module: PDP up, HTTP GET of {BODY} bytes, CoAP GET "
                f"(concurrently, {time.monotonic() - start:.2f} s)\n"
            )
            ok = True
            for url, result in results.items():
                expected_reboot = url == victim
                if isinstance(result, BaseException):
                    good = expected_reboot and isinstance(result, ModuleRebooted)
                    text = f"{type(result).__name__}: {result}"
                else:
                    good = not expected_reboot
                    text = result
                ok = ok and good
                out.write(f"  {'ok ' if good else 'FAIL'} {url}  {text}\n")
            if victim is not None:
                out.write(f"\n== {victim} rebooted mid-body; the others carried on. Again:\n")
                try:
                    again = await _visit(fleet.modems[victim], http.url, coap_server.port)
                    out.write(f"  ok   {victim}  {again}\n")
                except (LpwaError, AssertionError) as exc:
                    ok = False
                    out.write(f"  FAIL {victim}  {type(exc).__name__}: {exc}\n")
            tagged: dict[str, int] = {}
            stream = fleet.urcs()
            with contextlib.suppress(asyncio.TimeoutError):
                while len(tagged) < len(fleet.modems):
                    url, _ = await asyncio.wait_for(stream.__anext__(), 5)
                    tagged[url] = tagged.get(url, 0) + 1
            out.write(f"\n== Merged URC stream: URCs from {len(tagged)} modules, each tagged\n")
            ok = ok and len(tagged) == len(fleet.modems)
            health = fleet.health()
            reboots = {url: h.reboots for url, h in health.items() if h.reboots}
            out.write(f"== Health: reboots {reboots or 'none'}; all open: ")
            out.write(f"{all(h.open for h in health.values())}\n")
            ok = ok and set(reboots) == ({victim} if victim else set())
    out.write(f"\n{'every module did what it should' if ok else 'FAILED'}\n")
    return 0 if ok else 1


__all__ = ["run_fleet_demo"]
