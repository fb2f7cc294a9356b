"""The exception hierarchy of lpwa: every error the library raises lives here.

Each error that stands for a module result carries the module's own number
(``code``) and the meaning the Quectel application notes give it, so a caller can
branch on the class or on the number and log the spec's words.

    LpwaError
    ├── TransportError            the serial link or socket is gone
    ├── ATTimeout (TimeoutError)  no final result within the command's time
    ├── ModuleRebooted            RDY arrived while a command was in flight
    ├── ModemBusy                 a procedure could not have the module (stream open, callback)
    ├── ParameterError (ValueError) a caller's argument is out of range; nothing sent
    │   └── ParameterTypeError (TypeError) … or of the wrong type
    ├── UFSFullError              the module's file system has no room for a file
    ├── ProtocolError             the module said something that cannot be framed
    ├── CommandError              ERROR, or a final code that is not OK
    │   └── CMEError              +CME ERROR: <n>
    │       └── HTTPError         701-730 (HTTP(S) note, chapter 5), one class each
    ├── CMSError                  +CMS ERROR: <n>
    ├── HTTPResponseError         raise_for_status() on a 4xx/5xx response
    ├── CoAPResultError           CoAP <result> -1 … -11 (CoAP note, chapter 4)
    ├── CoAPTimeout (TimeoutError) no CoAP answer within the retransmission window
    ├── CoAPResponseRejected      a CoAP response lpwa will not return as the resource
    │   ├── CoAPIncomplete        Block2 with more blocks the module cannot request
    │   └── CoAPBadOption         an unrecognised critical option (RFC 7252 5.4.1)
    └── MessageFormatError (ValueError) a CoAP datagram that breaks RFC 7252

``ValueError`` subclasses (``ParameterError`` here, ``MessageFormatError`` in
``lpwa.coap``) are raised for arguments out of the spec's ranges and malformed
CoAP datagrams, before anything is sent.
"""

from __future__ import annotations

from typing import ClassVar


def _shown(command: str) -> str:
    """A command line as an error message may show it: its secrets redacted."""
    # Imported here: lpwa.errors is on every start-up path (lpwa trace's too),
    # and the redaction rules are only needed when an error is made.
    from lpwa import redact

    return redact.command(command)


class LpwaError(Exception):
    """Base class of every error lpwa raises."""


class ParameterError(LpwaError, ValueError):
    """An argument is outside the range the spec allows; nothing was sent."""


class ParameterTypeError(ParameterError, TypeError):
    """An argument has the wrong type (``str`` for bytes, ``bool`` for a number, …);
    nothing was sent. Also a ``TypeError``, as Python's own calls would raise."""


class UFSFullError(LpwaError):
    """The module's UFS has no room for a file (checked before writing, or the
    module's own "drive full"/"no space"/"file too large" answer).

    ``needed`` and ``free`` are byte counts when known (-1 otherwise).
    """

    def __init__(self, message: str, *, needed: int = -1, free: int = -1) -> None:
        self.needed = needed
        self.free = free
        super().__init__(message)


class TransportError(LpwaError, OSError):
    """The serial link, pty or socket to the module failed or was closed."""


class ATTimeout(LpwaError, TimeoutError):
    """The module did not finish a command within its maximum response time."""

    def __init__(self, command: str, timeout: float, detail: str = "") -> None:
        self.command = command
        self.timeout = timeout
        msg = f"{_shown(command)!r}: no result within {timeout:g} s"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class ModuleRebooted(LpwaError):
    """The module rebooted (``RDY``) while a command was in flight."""


class ModemBusy(LpwaError):
    """The module is held by another procedure: a streamed response that is still
    open, or a call from a URC callback thread (which must never wait for one)."""


class ProtocolError(LpwaError):
    """The module's answer could not be understood (bad framing, bad fields)."""


class CommandError(LpwaError):
    """A command ended with a final result other than ``OK``."""

    def __init__(self, command: str, result: str) -> None:
        self.command = command
        self.result = result
        # The message may be logged or printed: no secret fields (AT+QICSGP password).
        super().__init__(f"{_shown(command)!r} failed: {result}")


# HTTP(S) note, chapter 5, Table 1.
HTTP_ERROR_MEANINGS: dict[int, str] = {
    701: "HTTP(S) unknown error",
    702: "HTTP(S) timeout",
    703: "HTTP(S) busy",
    704: "HTTP(S) UART busy",
    705: "HTTP(S) no GET/POST requests",
    706: "HTTP(S) network busy",
    707: "HTTP(S) network open failed",
    708: "HTTP(S) network no configuration",
    709: "HTTP(S) network deactivated",
    710: "HTTP(S) network error",
    711: "HTTP(S) URL error",
    712: "HTTP(S) empty URL",
    713: "HTTP(S) IP address error",
    714: "HTTP(S) DNS error",
    715: "HTTP(S) socket create error",
    716: "HTTP(S) socket connect error",
    717: "HTTP(S) socket read error",
    718: "HTTP(S) socket write error",
    719: "HTTP(S) socket closed",
    720: "HTTP(S) data encode error",
    721: "HTTP(S) data decode error",
    722: "HTTP(S) read timeout",
    723: "HTTP(S) response failed",
    724: "Incoming call busy",
    725: "Voice call busy",
    726: "Input timeout",
    727: "Wait data timeout",
    728: "Wait HTTP(S) response timeout",
    729: "Memory allocation failed",
    730: "Invalid parameter",
}


class CMEError(CommandError):
    """``+CME ERROR: <n>``: the module refused or failed the command."""

    def __init__(self, command: str, code: int, meaning: str = "") -> None:
        self.code = code
        self.meaning = meaning
        text = f"+CME ERROR: {code}" + (f" ({meaning})" if meaning else "")
        super().__init__(command, text)


class CMSError(LpwaError):
    """``+CMS ERROR: <n>`` (message service errors)."""

    def __init__(self, command: str, code: int) -> None:
        self.command = command
        self.code = code
        super().__init__(f"{_shown(command)!r} failed: +CMS ERROR: {code}")


class HTTPError(CMEError):
    """An HTTP(S) error 701-730 from the module (HTTP(S) note, chapter 5).

    ``code`` is the module's number and ``meaning`` the note's words for it. It
    is raised whether the number came as ``+CME ERROR: <n>`` or as the ``<err>``
    field of a ``+QHTTPGET``/``+QHTTPPOST``/``+QHTTPREAD`` URC.
    """

    code_value: ClassVar[int] = 701

    def __init__(self, command: str, code: int | None = None) -> None:
        code = self.code_value if code is None else code
        super().__init__(command, code, HTTP_ERROR_MEANINGS.get(code, "HTTP(S) error"))


def _http_error_class(name: str, code: int, doc: str) -> type[HTTPError]:
    return type(name, (HTTPError,), {"code_value": code, "__doc__": f"{code}: {doc}."})


HTTPUnknownError = _http_error_class("HTTPUnknownError", 701, HTTP_ERROR_MEANINGS[701])
HTTPTimeoutError = _http_error_class("HTTPTimeoutError", 702, HTTP_ERROR_MEANINGS[702])
HTTPBusyError = _http_error_class("HTTPBusyError", 703, HTTP_ERROR_MEANINGS[703])
HTTPUARTBusyError = _http_error_class("HTTPUARTBusyError", 704, HTTP_ERROR_MEANINGS[704])
HTTPNoRequestError = _http_error_class("HTTPNoRequestError", 705, HTTP_ERROR_MEANINGS[705])
HTTPNetworkBusyError = _http_error_class("HTTPNetworkBusyError", 706, HTTP_ERROR_MEANINGS[706])
HTTPNetworkOpenError = _http_error_class("HTTPNetworkOpenError", 707, HTTP_ERROR_MEANINGS[707])
HTTPNetworkConfigError = _http_error_class("HTTPNetworkConfigError", 708, HTTP_ERROR_MEANINGS[708])
HTTPNetworkDeactivatedError = _http_error_class(
    "HTTPNetworkDeactivatedError", 709, HTTP_ERROR_MEANINGS[709]
)
HTTPNetworkError = _http_error_class("HTTPNetworkError", 710, HTTP_ERROR_MEANINGS[710])
HTTPURLError = _http_error_class("HTTPURLError", 711, HTTP_ERROR_MEANINGS[711])
HTTPEmptyURLError = _http_error_class("HTTPEmptyURLError", 712, HTTP_ERROR_MEANINGS[712])
HTTPIPAddressError = _http_error_class("HTTPIPAddressError", 713, HTTP_ERROR_MEANINGS[713])
HTTPDNSError = _http_error_class("HTTPDNSError", 714, HTTP_ERROR_MEANINGS[714])
HTTPSocketCreateError = _http_error_class("HTTPSocketCreateError", 715, HTTP_ERROR_MEANINGS[715])
HTTPSocketConnectError = _http_error_class("HTTPSocketConnectError", 716, HTTP_ERROR_MEANINGS[716])
HTTPSocketReadError = _http_error_class("HTTPSocketReadError", 717, HTTP_ERROR_MEANINGS[717])
HTTPSocketWriteError = _http_error_class("HTTPSocketWriteError", 718, HTTP_ERROR_MEANINGS[718])
HTTPSocketClosedError = _http_error_class("HTTPSocketClosedError", 719, HTTP_ERROR_MEANINGS[719])
HTTPDataEncodeError = _http_error_class("HTTPDataEncodeError", 720, HTTP_ERROR_MEANINGS[720])
HTTPDataDecodeError = _http_error_class("HTTPDataDecodeError", 721, HTTP_ERROR_MEANINGS[721])
HTTPReadTimeoutError = _http_error_class("HTTPReadTimeoutError", 722, HTTP_ERROR_MEANINGS[722])
HTTPResponseFailedError = _http_error_class(
    "HTTPResponseFailedError", 723, HTTP_ERROR_MEANINGS[723]
)
HTTPIncomingCallBusyError = _http_error_class(
    "HTTPIncomingCallBusyError", 724, HTTP_ERROR_MEANINGS[724]
)
HTTPVoiceCallBusyError = _http_error_class("HTTPVoiceCallBusyError", 725, HTTP_ERROR_MEANINGS[725])
HTTPInputTimeoutError = _http_error_class("HTTPInputTimeoutError", 726, HTTP_ERROR_MEANINGS[726])
HTTPWaitDataTimeoutError = _http_error_class(
    "HTTPWaitDataTimeoutError", 727, HTTP_ERROR_MEANINGS[727]
)
HTTPWaitResponseTimeoutError = _http_error_class(
    "HTTPWaitResponseTimeoutError", 728, HTTP_ERROR_MEANINGS[728]
)
HTTPMemoryError = _http_error_class("HTTPMemoryError", 729, HTTP_ERROR_MEANINGS[729])
HTTPInvalidParameterError = _http_error_class(
    "HTTPInvalidParameterError", 730, HTTP_ERROR_MEANINGS[730]
)

HTTP_ERRORS: dict[int, type[HTTPError]] = {
    cls.code_value: cls
    for cls in (
        HTTPUnknownError,
        HTTPTimeoutError,
        HTTPBusyError,
        HTTPUARTBusyError,
        HTTPNoRequestError,
        HTTPNetworkBusyError,
        HTTPNetworkOpenError,
        HTTPNetworkConfigError,
        HTTPNetworkDeactivatedError,
        HTTPNetworkError,
        HTTPURLError,
        HTTPEmptyURLError,
        HTTPIPAddressError,
        HTTPDNSError,
        HTTPSocketCreateError,
        HTTPSocketConnectError,
        HTTPSocketReadError,
        HTTPSocketWriteError,
        HTTPSocketClosedError,
        HTTPDataEncodeError,
        HTTPDataDecodeError,
        HTTPReadTimeoutError,
        HTTPResponseFailedError,
        HTTPIncomingCallBusyError,
        HTTPVoiceCallBusyError,
        HTTPInputTimeoutError,
        HTTPWaitDataTimeoutError,
        HTTPWaitResponseTimeoutError,
        HTTPMemoryError,
        HTTPInvalidParameterError,
    )
}


def cme_error(command: str, code: int) -> CMEError:
    """The most specific error for ``+CME ERROR: <code>`` (an HTTPError for 701-730)."""
    http_cls = HTTP_ERRORS.get(code)
    if http_cls is not None:
        return http_cls(command, code)
    return CMEError(command, code)


def http_error(command: str, code: int) -> HTTPError:
    """The typed HTTPError for an ``<err>`` 701-730 (``HTTPError`` for other numbers)."""
    return HTTP_ERRORS.get(code, HTTPError)(command, code)


class HTTPResponseError(LpwaError):
    """The server answered with a 4xx or 5xx status (``Response.raise_for_status``)."""

    def __init__(self, status_code: int, reason: str, url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.url = url
        """The URL as requested (the message shows it with its secrets redacted)."""
        from lpwa import redact

        super().__init__(f"{status_code} {reason} for {redact.url(url)}")


# CoAP note, chapter 4, Table 4.
COAP_RESULT_MEANINGS: dict[int, str] = {
    0: "Operation successful",
    -1: "Invalid parameter",
    -2: "Operation in processing",
    -3: "Operation not allowed",
    -4: "Network failure",
    -5: "DNS error",
    -6: "Data call activating",
    -7: "Socket connection failure",
    -8: "Out of memory error",
    -9: "DTLS handshaking failure",
    -10: "CoAP client identifier occupied",
    -11: "Data sending failure",
}


class CoAPResultError(LpwaError):
    """A CoAP ``<result>`` other than 0 (CoAP note, chapter 4)."""

    result_value: ClassVar[int] = -1

    def __init__(self, operation: str, result: int | None = None) -> None:
        self.result = self.result_value if result is None else result
        self.meaning = COAP_RESULT_MEANINGS.get(self.result, "unknown result")
        self.operation = operation
        super().__init__(f"{operation}: result {self.result} ({self.meaning})")


def _coap_error_class(name: str, result: int) -> type[CoAPResultError]:
    doc = f"CoAP result {result}: {COAP_RESULT_MEANINGS[result]}."
    return type(name, (CoAPResultError,), {"result_value": result, "__doc__": doc})


CoAPInvalidParameter = _coap_error_class("CoAPInvalidParameter", -1)
CoAPInProcessing = _coap_error_class("CoAPInProcessing", -2)
CoAPNotAllowed = _coap_error_class("CoAPNotAllowed", -3)
CoAPNetworkFailure = _coap_error_class("CoAPNetworkFailure", -4)
CoAPDNSError = _coap_error_class("CoAPDNSError", -5)
CoAPDataCallActivating = _coap_error_class("CoAPDataCallActivating", -6)
CoAPSocketFailure = _coap_error_class("CoAPSocketFailure", -7)
CoAPOutOfMemory = _coap_error_class("CoAPOutOfMemory", -8)
CoAPDTLSHandshakeFailure = _coap_error_class("CoAPDTLSHandshakeFailure", -9)
CoAPClientOccupied = _coap_error_class("CoAPClientOccupied", -10)
CoAPSendFailure = _coap_error_class("CoAPSendFailure", -11)

COAP_ERRORS: dict[int, type[CoAPResultError]] = {
    cls.result_value: cls
    for cls in (
        CoAPInvalidParameter,
        CoAPInProcessing,
        CoAPNotAllowed,
        CoAPNetworkFailure,
        CoAPDNSError,
        CoAPDataCallActivating,
        CoAPSocketFailure,
        CoAPOutOfMemory,
        CoAPDTLSHandshakeFailure,
        CoAPClientOccupied,
        CoAPSendFailure,
    )
}


def coap_result_error(operation: str, result: int) -> CoAPResultError:
    """The typed error for a non-zero CoAP ``<result>``."""
    return COAP_ERRORS.get(result, CoAPResultError)(operation, result)


class CoAPTimeout(LpwaError, TimeoutError):
    """A CoAP request got no answer within its retransmission window."""


class CoAPResponseRejected(LpwaError):
    """A CoAP response arrived but is not returned as the answer; ``message`` is it."""

    def __init__(self, reason: str, message: object) -> None:
        self.reason = reason
        self.message = message
        super().__init__(reason)


class CoAPIncomplete(CoAPResponseRejected):
    """Only part of the resource came: the response carries Block2 with M=1 (RFC 7959).

    The module's AT+QCOAPOPTION cannot send Block2 (CoAP note, Table 2), so the
    further blocks cannot be asked for. ``message`` is the partial response,
    ``size2`` the size the server announced (Size2) or None, ``received`` the
    number of payload bytes that came.
    """

    def __init__(self, reason: str, message: object, *, size2: int | None, received: int) -> None:
        self.size2 = size2
        self.received = received
        super().__init__(reason, message)


class CoAPBadOption(CoAPResponseRejected):
    """The response carries critical options lpwa does not understand (``numbers``);
    RFC 7252 5.4.1 requires rejecting it."""

    def __init__(self, reason: str, message: object, *, numbers: list[int]) -> None:
        self.numbers = numbers
        super().__init__(reason, message)


class MessageFormatError(LpwaError, ValueError):
    """A CoAP datagram that breaks RFC 7252 section 3 (re-exported by ``lpwa.coap``).

    ``mid`` and ``type`` are set when the header was readable, so that a receiver
    can answer a bad Confirmable message with a Reset (RFC 7252 section 4.2).
    """

    def __init__(self, reason: str, *, mid: int | None = None, type: int | None = None) -> None:
        self.reason = reason
        self.mid = mid
        self.type = type
        where = "" if mid is None else f" (mid={mid}, type={type})"
        super().__init__(f"malformed CoAP message: {reason}{where}")
