"""CoAP commands (placeholder while the codec lands)."""

from __future__ import annotations

from lpwa.sim.engine import Registry


class CoapState:
    """CoAP clients 0-5."""

    def close(self) -> None:
        """Close every client."""


REGISTRY = Registry()
