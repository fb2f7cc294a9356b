"""lpwa: HTTP(S) and CoAP through Quectel BG95/BG77/BG96 modules over AT commands.

``Modem.open(port)`` is the way in: ``modem.network``, ``modem.ssl``,
``modem.files``, ``modem.http`` and ``modem.coap`` hang off it. The byte-stream
tokenizer is Rust (``lpwa.tokenizer``); the AT channel (``lpwa.at``), the CoAP
codec (``lpwa.coap``) and the module simulator (``lpwa.sim``) are Python. Every
error is an ``lpwa.errors.LpwaError``.

Logging: every logger is under ``lpwa`` (``lpwa.at``, ``lpwa.http``, ...), and
``lpwa`` has a ``NullHandler``: nothing reaches stderr unless the application
configures logging.

``Modem``, ``errors`` and ``__version__`` load on first use, so that importing a
submodule (the pytest plugin, ``lpwa.coap``) does not pull in the AT stack.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

# A library must not print (logging's "last resort" handler writes WARNING and
# above to stderr when no handler is configured); the application decides.
logging.getLogger(__name__).addHandler(logging.NullHandler())

if TYPE_CHECKING:
    from lpwa import errors
    from lpwa._lpwa import __version__
    from lpwa.modem import Modem

__all__ = ["Modem", "__version__", "errors"]


def __getattr__(name: str) -> Any:
    # PEP 562: the public names, imported when first asked for.
    if name == "Modem":
        from lpwa.modem import Modem

        return Modem
    if name == "errors":
        import lpwa.errors as errors_module

        return errors_module
    if name == "__version__":
        from lpwa._lpwa import __version__ as version

        return version
    raise AttributeError(f"module 'lpwa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
