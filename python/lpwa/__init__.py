"""lpwa: HTTP(S) and CoAP through Quectel BG95/BG77/BG96 modules over AT commands.

``Modem.open(port)`` is the way in: ``modem.network``, ``modem.ssl``,
``modem.files``, ``modem.http`` and ``modem.coap`` hang off it. The byte-stream
tokenizer is Rust (``lpwa.tokenizer``); the AT channel (``lpwa.at``), the CoAP
codec (``lpwa.coap``) and the module simulator (``lpwa.sim``) are Python. Every
error is an ``lpwa.errors.LpwaError``.
"""

from __future__ import annotations

from lpwa import errors
from lpwa._lpwa import __version__
from lpwa.modem import Modem

__all__ = ["Modem", "__version__", "errors"]
