"""Fault injection: one-shot misbehaviours a test or a user switches on.

``sim.faults`` is a ``Faults``. Each method arms one fault that fires once:

- ``reboot_on(prefix)``: the next command line starting with ``prefix`` (case
  insensitive, e.g. ``"AT+QHTTPGET"``) is echoed, then the module reboots
  without answering (boot URCs follow after the boot delay).
- ``reboot_during_read(after)``: the next QHTTPREAD reboots the module after
  ``after`` body bytes.
- ``truncate_read(after, err=717)``: the next QHTTPREAD stops after ``after``
  body bytes and ends ``\\r\\nOK\\r\\n\\r\\n+QHTTPREAD: 717\\r\\n`` (HTTP note 4.6).
- ``stall_read(after, seconds)``: the next QHTTPREAD pauses ``seconds`` (real
  seconds, not scaled) after ``after`` body bytes, then goes on.
- ``drop_during_read(after)``: the next QHTTPREAD closes the host connection
  after ``after`` body bytes.
- ``garbage(data=...)``: ``data`` is written after the next echo, before the
  response (noise on the line between two lines).
- ``urc_before_echo(text)``: the URC ``text`` comes right before the echo of the
  next command, as captured on a real BG95:
  ``\\r\\n+QHTTPPOST: 0,200\\r\\nAT+QHTTPREAD=60\\r\\r\\nCONNECT\\r\\n...``.
- ``drop_on(prefix)``: the next command starting with ``prefix`` is echoed, then
  the connection of its port is closed.
- ``drop(port=None)``: close the host connection now (``"socket"``, ``"pty"`` or
  both when None). A pty is replaced by a new one (``sim.pty`` changes).
- ``inject(data, port=None)``: write raw bytes to the host now.
- ``wedge_http(after, cure="reactivate")``: the HTTP stack serves ``after``
  more requests, then fails each with 710 until the cure (``"reactivate"``:
  AT+QIACT, HTTP note 4.5; ``"reboot"``: a reboot) runs; it stays armed (see
  ``lpwa.sim.wedge``). ``wedge_http(None)`` turns it off.
- ``clear()``: disarm everything; ``armed`` lists what is armed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lpwa.sim.module import Module

__all__ = ["DEFAULT_GARBAGE", "Faults", "ReadFault"]

DEFAULT_GARBAGE = b"\x00\xff#~garbage~\x1b\xfe"


@dataclass(frozen=True)
class ReadFault:
    """A fault in the next QHTTPREAD body: ``kind`` after ``after`` body bytes."""

    kind: str  # "reboot", "truncate", "stall", "drop"
    after: int
    seconds: float = 0.0
    err: int = 717


class Faults:
    """The armed faults of one simulated module (see the module docstring)."""

    def __init__(self, module: Module) -> None:
        self._module = module
        self._lock = threading.Lock()
        self._reboot_on: list[str] = []
        self._drop_on: list[str] = []
        self._read: list[ReadFault] = []
        self._garbage: list[bytes] = []
        self._urc: list[str] = []

    # -- arming ----------------------------------------------------------------
    def reboot_on(self, prefix: str) -> None:
        """Reboot on the next command line starting with ``prefix``."""
        with self._lock:
            self._reboot_on.append(prefix.upper())

    def reboot_during_read(self, after: int) -> None:
        """Reboot after ``after`` bytes of the next QHTTPREAD body."""
        self._arm_read(ReadFault("reboot", after))

    def truncate_read(self, after: int, err: int = 717) -> None:
        """End the next QHTTPREAD after ``after`` bytes with ``+QHTTPREAD: <err>``."""
        self._arm_read(ReadFault("truncate", after, err=err))

    def stall_read(self, after: int, seconds: float) -> None:
        """Pause the next QHTTPREAD ``seconds`` (real time) after ``after`` bytes."""
        self._arm_read(ReadFault("stall", after, seconds=seconds))

    def drop_during_read(self, after: int) -> None:
        """Close the connection after ``after`` bytes of the next QHTTPREAD body."""
        self._arm_read(ReadFault("drop", after))

    def garbage(self, data: bytes = DEFAULT_GARBAGE) -> None:
        """Write ``data`` between the next echo and its response."""
        with self._lock:
            self._garbage.append(bytes(data))

    def urc_before_echo(self, text: str) -> None:
        """Send the URC ``text`` right before the echo of the next command."""
        with self._lock:
            self._urc.append(text)

    def drop_on(self, prefix: str) -> None:
        """Close the port's connection on the next command starting with ``prefix``."""
        with self._lock:
            self._drop_on.append(prefix.upper())

    def drop(self, port: str | None = None) -> None:
        """Close the host connection of ``port`` (``"socket"``/``"pty"``) or of both now."""
        for channel in self._module.channels_named(port):
            channel.port.drop()

    def inject(self, data: bytes, port: str | None = None) -> None:
        """Write raw ``data`` to the host now, bypassing the URC hold."""
        for channel in self._module.channels_named(port):
            channel.port.write(bytes(data))

    def wedge_http(self, after: int | None, cure: str = "reactivate") -> None:
        """Wedge the HTTP stack after ``after`` requests until ``cure`` runs (None: off)."""
        self._module.http_wedge.arm(after, cure)

    def clear(self) -> None:
        """Disarm every fault (the wedged-stack profile too)."""
        self._module.http_wedge.arm(None)
        with self._lock:
            for armed in (self._reboot_on, self._drop_on, self._read, self._garbage, self._urc):
                armed.clear()

    @property
    def armed(self) -> list[str]:
        """A description of every armed fault."""
        with self._lock:
            return (
                [f"reboot_on {p!r}" for p in self._reboot_on]
                + [f"drop_on {p!r}" for p in self._drop_on]
                + [f"{f.kind}_read after {f.after}" for f in self._read]
                + [f"garbage {g!r}" for g in self._garbage]
                + [f"urc_before_echo {u!r}" for u in self._urc]
            )

    # -- firing (engine side) --------------------------------------------------
    def _arm_read(self, fault: ReadFault) -> None:
        if fault.after < 0:
            raise ValueError("after must be >= 0")
        with self._lock:
            self._read.append(fault)

    def take_reboot_on(self, line: str) -> bool:
        """Whether ``line`` fires an armed reboot (consumes it)."""
        return self._take_prefix(self._reboot_on, line)

    def take_drop_on(self, line: str) -> bool:
        """Whether ``line`` fires an armed drop (consumes it)."""
        return self._take_prefix(self._drop_on, line)

    def _take_prefix(self, armed: list[str], line: str) -> bool:
        upper = line.upper()
        with self._lock:
            for i, prefix in enumerate(armed):
                if upper.startswith(prefix):
                    del armed[i]
                    return True
        return False

    def take_read_fault(self) -> ReadFault | None:
        """The fault for the QHTTPREAD starting now, if one is armed."""
        with self._lock:
            return self._read.pop(0) if self._read else None

    def take_garbage(self) -> bytes:
        """Garbage to write after the echo (empty when none is armed)."""
        with self._lock:
            return self._garbage.pop(0) if self._garbage else b""

    def take_urc_before_echo(self) -> str | None:
        """A URC to write before the next echo, if armed."""
        with self._lock:
            return self._urc.pop(0) if self._urc else None
