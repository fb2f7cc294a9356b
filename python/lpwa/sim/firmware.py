"""Firmware profiles of the simulated module: identity strings and quirks, as data.

A profile answers ``ATI``, ``AT+CGMR`` and ``AT+QGMR`` and carries the per-build
behaviour the simulator reproduces. Quirk data is read from ``lpwa.quirks`` (the
host library's table) so it lives in one place. This module does no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lpwa.quirks import Quirks, profile_for

__all__ = ["KNOWN_FIRMWARE", "FirmwareProfile", "profile"]

# Full AT+QGMR revisions the simulator is known to model. Any other revision of the
# form <model...>_<xx.yyy.xx.yyy> is accepted too, with no quirks.
KNOWN_FIRMWARE: tuple[str, ...] = (
    "BG96MAR02A07M1G_01.011.01.011",
    "BG96MAR02A07M1G_01.016.01.016",
    "BG96MAR03A06M1G_01.005.01.005",
    "BG96MAR04A02M1G_02.002.01.002",
    "BG95M3LAR02A03_01.006.01.006",
    "BG95M3LAR02A03_01.012.01.012",
    "BG95M3LAR02A03_01.204.01.204",
    "BG77LAR02A04_01.003.01.003",
)

_REVISION = re.compile(r"^(BG96|BG95|BG77)([A-Z0-9]*)_(\d{2}\.\d{3}\.\d{2}\.\d{3})$")

# BG95 variants by the revision's prefix: a real BG95-M3 answers ATI with
# "BG95-M3" and "Revision: BG95M3LAR02A03" (captures C16, lukejenkins/cwd
# reference/quectel/bg95m3/outputs/BG95M3LAR02A03_01.011.01.011.md); the
# other variants follow the same pattern (an assumption; no public log).
_BG95_VARIANT = re.compile(r"^BG95(M\d|N\d)")

# Seconds between RDY and APP RDY on a BG95/BG77 (issue 15: "a BG95 that prints
# APP RDY 2 s after RDY"); the module answers ERROR to most commands meanwhile
# (zephyrproject-rtos/zephyr PR #57110: "modem replies with RDY when it's not
# fully initialized and AT commands sent to the modem after this point would
# result in modem reply of ERROR").
APP_RDY_DELAY = 2.0

# Silence after AT+CFUN=1,1 before RDY: a BG96MAR02A07M1G printed "POWERED
# DOWN" right after OK and RDY about 6 s later, ignoring the ATs sent between
# (vshymanskyy/TinyGSM issue #157); a BG95 under Zephyr took 13 s to RDY
# (captures C3, zephyr issue #88686). The simulator's boot_delay (2 module
# seconds by default) scales this down for tests.


@dataclass(frozen=True)
class FirmwareProfile:
    """What a firmware build says about itself and how it misbehaves.

    ``revision`` is the full ``AT+QGMR`` text, ``short_revision`` what ``AT+CGMR``
    and ``ATI`` print (captures C4: ``BG95M3LAR02A03`` vs
    ``BG95M3LAR02A03_01.204.01.204``), ``model`` the ``ATI``/``AT+CGMM`` model
    line per variant (``BG95-M3``, ``BG77``, ``BG96``). ``app_rdy`` adds ``APP
    RDY`` as the last boot URC, ``app_rdy_delay`` module seconds after ``RDY``
    (BG95/BG77; the BG96MAR02A07M1G of TinyGSM issue #157 printed none, and
    FreeRTOS-Cellular-Interface-Reference-Quectel-BG96 issue #17 notes older
    BG96 builds lack it). ``coap_ack_prefix`` is the spelling
    of the CoAP delivery URC: the syntax says ``+QCOAPACK`` (CoAP note 3.4.2),
    the note's examples print ``+COAPACK`` (section 5).
    """

    revision: str
    model: str
    short_revision: str
    manufacturer: str = "Quectel"
    app_rdy: bool = False
    app_rdy_delay: float = 0.0
    coap_ack_prefix: str = "+QCOAPACK"
    quirks: Quirks = field(default_factory=lambda: Quirks(revision=""))


def _model_line(family: str, short: str) -> str:
    variant = _BG95_VARIANT.match(short) if family == "BG95" else None
    return f"BG95-{variant.group(1)}" if variant else family


def profile(
    revision: str,
    *,
    coap_ack_prefix: str | None = None,
    app_rdy: bool | None = None,
    app_rdy_delay: float | None = None,
) -> FirmwareProfile:
    """The profile of the build whose ``AT+QGMR`` text is ``revision``.

    ``app_rdy`` overrides whether the build prints ``APP RDY`` (a BG96 build
    that does); ``app_rdy_delay`` the module seconds from ``RDY`` to it.
    Raises ValueError for a string that is not a BG96/BG95/BG77 revision.
    """
    rev = revision.strip()
    match = _REVISION.match(rev)
    if match is None:
        known = ", ".join(KNOWN_FIRMWARE)
        raise ValueError(f"unknown firmware revision {revision!r}; known: {known}")
    family = match.group(1)
    short = rev.split("_", 1)[0]
    prints_app_rdy = family in ("BG95", "BG77") if app_rdy is None else app_rdy
    delay = APP_RDY_DELAY if app_rdy_delay is None else app_rdy_delay
    if delay < 0:
        raise ValueError("app_rdy_delay must be >= 0")
    return FirmwareProfile(
        revision=rev,
        model=_model_line(family, short),
        short_revision=short,
        app_rdy=prints_app_rdy,
        app_rdy_delay=delay if prints_app_rdy else 0.0,
        coap_ack_prefix=coap_ack_prefix or "+QCOAPACK",
        quirks=profile_for(rev),
    )
