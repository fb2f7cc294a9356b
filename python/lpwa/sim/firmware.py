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
    "BG77LAR02A04_01.003.01.003",
)

_REVISION = re.compile(r"^(BG96|BG95|BG77)([A-Z0-9]*)_(\d{2}\.\d{3}\.\d{2}\.\d{3})$")


@dataclass(frozen=True)
class FirmwareProfile:
    """What a firmware build says about itself and how it misbehaves.

    ``revision`` is the full ``AT+QGMR`` text, ``short_revision`` what ``AT+CGMR``
    and ``ATI`` print, ``model`` the ``ATI`` model line. ``app_rdy`` adds
    ``APP RDY`` to the boot URCs (BG95/BG77). ``coap_ack_prefix`` is the spelling
    of the CoAP delivery URC: the syntax says ``+QCOAPACK`` (CoAP note 3.4.2),
    the note's examples print ``+COAPACK`` (section 5).
    """

    revision: str
    model: str
    short_revision: str
    manufacturer: str = "Quectel"
    app_rdy: bool = False
    coap_ack_prefix: str = "+QCOAPACK"
    quirks: Quirks = field(default_factory=lambda: Quirks(revision=""))


def profile(revision: str, *, coap_ack_prefix: str | None = None) -> FirmwareProfile:
    """The profile of the build whose ``AT+QGMR`` text is ``revision``.

    Raises ValueError for a string that is not a BG96/BG95/BG77 revision.
    """
    rev = revision.strip()
    match = _REVISION.match(rev)
    if match is None:
        known = ", ".join(KNOWN_FIRMWARE)
        raise ValueError(f"unknown firmware revision {revision!r}; known: {known}")
    model = match.group(1)
    short = rev.split("_", 1)[0]
    return FirmwareProfile(
        revision=rev,
        model=model,
        short_revision=short,
        app_rdy=model in ("BG95", "BG77"),
        coap_ack_prefix=coap_ack_prefix or "+QCOAPACK",
        quirks=profile_for(rev),
    )
