"""HTTP(S) through the module's own stack: ``modem.http`` (AT+QHTTP*).

``HTTP`` is the client, ``Response`` its requests-like answer; ``request`` holds the
request heads as the module sends them and the 719 padding.
"""

from __future__ import annotations

from lpwa.http.client import HTTP, HTTP_KEYS
from lpwa.http.request import CONTENT_TYPES, MAX_CUSTOM_GET, MAX_POST, MAX_URL, URL, parse_url
from lpwa.http.response import Headers, Response

__all__ = [
    "CONTENT_TYPES",
    "HTTP",
    "HTTP_KEYS",
    "MAX_CUSTOM_GET",
    "MAX_POST",
    "MAX_URL",
    "URL",
    "Headers",
    "Response",
    "parse_url",
]
