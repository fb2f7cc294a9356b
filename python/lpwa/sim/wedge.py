"""A wedged HTTP stack (a profile, off by default).

Field reports: after 20 to 300 consecutive requests the module's HTTP stack
fails every request until the module is reset and the context re-activated
(captures C13, SeeedJP/WioLTEforArduino issue #38, an EC21 on the same QHTTP*
stack: with that recovery the reporter ran 3000+ requests). HTTP note chapter 4
gives the recovery: 4.5 "deactivate the PDP context by AT+QIDEACT and
re-activate the PDP context by AT+QIACT", and where that fails (4.2) "reboot
the module".

``HttpWedge(after=N, cure=...)``: the first N requests (AT+QHTTPGET,
AT+QHTTPPOST, AT+QHTTPPOSTFILE) run normally; from then on each one fails with
the note's ``710`` (HTTP(S) network error: the URC ``+QHTTPGET: 710`` after
``OK`` for a plain GET, which answers OK at once; ``+CME ERROR: 710`` for the
commands that connect first) until the cure runs: ``"reactivate"`` (an
AT+QIACT after the wedge, note 4.5) or ``"reboot"`` (only a reboot, then the
count starts again; C13). No I/O here beyond the handlers' ctx.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lpwa.sim.atparse import Command, Form
from lpwa.sim.params import CommandFailed

if TYPE_CHECKING:
    from lpwa.sim.engine import Ctx

__all__ = ["CURES", "WEDGED_CODE", "HttpWedge"]

CURES = ("reactivate", "reboot")
WEDGED_CODE = 710
"""HTTP note table 1: "HTTP(S) network error" (the 4.5 failures re-activation cures)."""

_REQUESTS = ("+QHTTPGET", "+QHTTPPOST", "+QHTTPPOSTFILE")


@dataclass
class HttpWedge:
    """How many requests the HTTP stack serves before it wedges, and what cures it."""

    after: int | None = None
    cure: str = "reactivate"
    requests: int = 0
    wedged: bool = False
    times: int = 0
    """How many times the stack wedged (for tests and the README's figures)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, after: int | None, cure: str = "reactivate") -> None:
        """Wedge after ``after`` more requests (None: never); ``cure`` per the docstring."""
        if after is not None and after < 0:
            raise ValueError("after must be >= 0")
        if cure not in CURES:
            raise ValueError(f"cure must be one of {CURES}")
        with self.lock:
            self.after, self.cure, self.requests, self.wedged = after, cure, 0, False

    def intercept(self, ctx: Ctx, cmd: Command) -> bool:
        """Answer a request on a wedged stack (True), or count it and let it run."""
        if cmd.name not in _REQUESTS or cmd.form not in (Form.WRITE, Form.EXEC):
            return False
        with self.lock:
            if self.after is None:
                return False
            if not self.wedged and self.requests < self.after:
                self.requests += 1
                return False
            if not self.wedged:
                self.times += 1
            self.wedged = True
        plain_get = cmd.name == "+QHTTPGET" and not ctx.module.http.cfg.requestheader
        if not plain_get:
            raise CommandFailed(WEDGED_CODE)
        ctx.ok()
        ctx.module.emit_urc(f"+QHTTPGET: {WEDGED_CODE}", generation=ctx.generation)
        return True

    def reactivated(self) -> None:
        """An AT+QIACT succeeded: the 4.5 cure."""
        with self.lock:
            if self.wedged and self.cure == "reactivate":
                self.wedged, self.requests = False, 0

    def rebooted(self) -> None:
        """A reboot cures either kind; the count starts again."""
        with self.lock:
            self.wedged, self.requests = False, 0
