"""Known firmware quirks of Quectel BG96/BG95/BG77 builds, keyed by revision.

This is the one place the quirk data lives: the host library asks it "is this
build affected?" (``profile_for(modem.firmware)``) and the simulator's firmware
profiles (``lpwa.sim.firmware``) read the same table, so the simulator
reproduces exactly what the library works around. No I/O here.

The error 719 bug (``spec/002_*``, forum thread "[BG96] QHTTPPOST Error 719"):
on affected BG96 builds an HTTPS POST fails with 719 when bit 11 (value 2048)
of the total request length (request line + headers + body, as sent) is set.
Plain HTTP is never affected; BG95/BG77 builds are not affected.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "HTTPS_POST_719",
    "QHTTPPOST",
    "QHTTPPOSTFILE",
    "Quirks",
    "affected_by_719",
    "padding_for_719",
    "profile_for",
]

QHTTPPOST = "QHTTPPOST"
QHTTPPOSTFILE = "QHTTPPOSTFILE"

# Which POST commands fail with 719, per build, from the thread:
# - "I managed to find a minimal example that shows the error with firmware versions
#   BG96MAR02A07M1G_01.011.01.011 and BG96MAR03A06M1G_01.005.01.005" (the example
#   uploads a file; the author then says QHTTPPOST "practically always returns error
#   719" on R03A06): both commands on both builds.
# - BG96MAR02A07M1G_01.016.01.016: "AT+QHTTPPOST ... without a problem for months",
#   but after switching to AT+QHTTPPOSTFILE "modules with an older firmware now
#   return error 719": QHTTPPOSTFILE only.
# - BG96MAR04A02M1G_02.002.01.002: "I am also experiencing this problem" with no
#   command named: both, to be safe (padding a request that would have worked
#   costs nothing).
HTTPS_POST_719: dict[str, frozenset[str]] = {
    "BG96MAR02A07M1G_01.011.01.011": frozenset({QHTTPPOST, QHTTPPOSTFILE}),
    "BG96MAR02A07M1G_01.016.01.016": frozenset({QHTTPPOSTFILE}),
    "BG96MAR03A06M1G_01.005.01.005": frozenset({QHTTPPOST, QHTTPPOSTFILE}),
    "BG96MAR04A02M1G_02.002.01.002": frozenset({QHTTPPOST, QHTTPPOSTFILE}),
}

# The bit the thread found: "it fails with error 719, if the 12th bit of the total
# length (including all headers) is set" (2048 = 1 << 11).
_BIT_719 = 2048


@dataclass(frozen=True)
class Quirks:
    """The quirks of one firmware build.

    ``https_post_719`` names the commands (``"QHTTPPOST"``, ``"QHTTPPOSTFILE"``)
    whose HTTPS requests fail with 719 when bit 11 of the request length is set;
    empty for healthy builds.
    """

    revision: str
    https_post_719: frozenset[str] = frozenset()
    workaround_719: bool | None = None
    """The caller's choice for the 719 padding: None follows the table (and what
    ``modem.http`` learns from a 719 on a BG96 while the Modem is open), True pads
    on every build, False never pads nor retries."""

    def fails_719(self, command: str, request_length: int, *, https: bool = True) -> bool:
        """Whether ``command`` (e.g. ``"QHTTPPOST"``) would fail with 719 here."""
        return (
            https
            and command.lstrip("+").upper().removeprefix("AT+") in self.https_post_719
            and bool(request_length & _BIT_719)
        )


def profile_for(revision: str, *, workaround_719: bool | None = None) -> Quirks:
    """The quirks of the build whose full ``AT+QGMR`` revision is ``revision``.

    ``workaround_719`` forces (True: both POST commands) or disables (False) the
    719 padding whatever the table says; ``Modem`` keeps the caller's choice and
    passes it again when it re-reads the identity after a reboot.
    """
    rev = revision.strip()
    if workaround_719 is True:
        commands = frozenset({QHTTPPOST, QHTTPPOSTFILE})
    elif workaround_719 is False:
        commands = frozenset()
    else:
        commands = HTTPS_POST_719.get(rev, frozenset())
    return Quirks(revision=rev, https_post_719=commands, workaround_719=workaround_719)


def affected_by_719(request_length: int) -> bool:
    """Whether a request of ``request_length`` bytes hits the 719 bug on an affected build."""
    return bool(request_length & _BIT_719)


def padding_for_719(request_length: int) -> int:
    """Bytes to add so a request of ``request_length`` bytes has bit 11 clear.

    The thread's workaround: pad up to the next multiple of 2048 when bit 11 is
    set (``ceil_value - expected_len``), else 0.
    """
    if not request_length & _BIT_719:
        return 0
    return _BIT_719 * (request_length // _BIT_719 + 1) - request_length
