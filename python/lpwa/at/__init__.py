"""The AT channel: transport, reader thread, one command at a time, URC dispatch.

``ATChannel.open(port)`` takes anything ``serial.serial_for_url`` opens (a device,
``socket://``, ``rfc2217://``, ``loop://``) or a pty path.
"""

from __future__ import annotations

from lpwa.at.channel import ATChannel, Reply, Urc, UrcWaiter
from lpwa.at.core import DEFAULT_TIMEOUT
from lpwa.at.fields import quote, response_fields, split_fields
from lpwa.at.transport import Transport

__all__ = [
    "DEFAULT_TIMEOUT",
    "ATChannel",
    "Reply",
    "Transport",
    "Urc",
    "UrcWaiter",
    "quote",
    "response_fields",
    "split_fields",
]
