"""HTTP(S) through the module's own stack: ``modem.http`` (AT+QHTTP*).

``HTTPProcedures`` is the client written once as procedures, ``HTTP`` its sync
facade and ``AsyncHTTP`` its asyncio one; ``Response`` their requests-like answer
(its body read by ``reader.BodyReader``); ``request`` holds the
request heads as the module sends them and the 719 padding; ``body`` reads bodies
so that no server can forge their end; ``results`` parses what the module answers.
``timeout_seconds`` turns a requests-style ``timeout=`` into the module's seconds
(the CLI's ``--timeout`` means the same).
"""

from __future__ import annotations

from lpwa.http.client import (
    HTTP,
    HTTP_KEYS,
    AsyncHTTP,
    HTTPProcedures,
    async_http,
    timeout_seconds,
)
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
    "AsyncHTTP",
    "HTTPProcedures",
    "Headers",
    "Response",
    "async_http",
    "parse_url",
    "timeout_seconds",
]
