"""lpwa: HTTP(S) and CoAP through Quectel BG95/BG77/BG96 modules over AT commands.

The byte-stream tokenizer is Rust (``lpwa.tokenizer``); the AT channel, the Modem
facade, the HTTP and CoAP APIs, the CoAP codec and the module simulator are Python.
"""

from __future__ import annotations

from lpwa._lpwa import __version__

__all__ = ["__version__"]
