"""``modem.coap``: CoAP through the module's own stack (AT+QCOAP*, CoAP note ``spec/004_*``).

A request is: AT+QCOAPHEADER (message ID, token), one AT+QCOAPOPTION per option
(indexes 0-7, each checked against the note's Table 2), AT+QCOAPSEND with the
bitmask of those indexes, the code value and the payload (≤ 1024 bytes), then the
module's URCs: ``+QCOAPACK`` (delivery), ``+QCOAPIND`` (retransmissions) and
``+QCOAPRECV`` (the response). Every argument is checked before anything is sent.

Each client (ids 0-5) claims the URCs that carry its id, in the channel's dispatcher
thread: the answer to the request in flight goes to that request; any other
incoming message (a separate response that came too late, a notification) goes
to the client's ``incoming`` queue and its ``on_message`` handler.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from lpwa.at import Urc
from lpwa.at.fields import quote
from lpwa.coap import atwire
from lpwa.coap._typed import PathLike, build_options
from lpwa.coap.codes import Code, Type
from lpwa.coap.message import Message
from lpwa.errors import (
    CoAPTimeout,
    LpwaError,
    ModuleRebooted,
    ParameterError,
    TransportError,
    coap_result_error,
)

if TYPE_CHECKING:
    from lpwa.modem import Modem

log = logging.getLogger("lpwa.coap")

# Note 3.3.2/3.3.3: QCOAPOPEN and QCOAPCLOSE answer within 75 s.
OPEN_TIMEOUT = 75.0
# QCOAPCFG "trans" defaults and ranges (note 3.3.1).
DEFAULT_ACK_TIMEOUT, DEFAULT_RETRIES = 2, 5
ACK_TIMEOUTS, RETRIES = range(2, 61), range(4, 9)
# RFC 7252 4.8: ACK_RANDOM_FACTOR; the window a CON exchange may take is
# MAX_TRANSMIT_WAIT = ACK_TIMEOUT * (2 ** (MAX_RETRANSMIT + 1) - 1) * ACK_RANDOM_FACTOR.
ACK_RANDOM_FACTOR = 1.5
# A NON request has no retransmissions to bound it; wait this long for an answer.
NON_TIMEOUT = 30.0
MARGIN = 5.0

OptionValue = Union[bytes, str, int]
ANSWER_URCS = (atwire.RECV, atwire.ACK, atwire.ACK_AS_IN_EXAMPLES, atwire.IND)

# Set while an on_message handler runs. Answers reach requests through the same
# dispatcher thread that runs the handler, so a request made there would wait
# for URCs that cannot be delivered until it gives up: refuse it at once.
_handler = threading.local()


@dataclass
class _Exchange:
    mid: int
    token: bytes | None
    confirmable: bool
    answers: queue.SimpleQueue[Urc | BaseException] = field(default_factory=queue.SimpleQueue)


class CoAP:
    """``modem.coap``: the module's CoAP clients."""

    def __init__(self, modem: Modem) -> None:
        self._modem = modem
        self._clients: dict[int, CoAPClient] = {}

    def client(self, client_id: int = 0) -> CoAPClient:
        """The client with id ``client_id`` (0-5); the same object each time."""
        if client_id not in atwire.CLIENT_IDS:
            raise ParameterError(f"CoAP client id must be 0-5: {client_id}")
        if client_id not in self._clients:
            self._clients[client_id] = CoAPClient(self._modem, client_id)
        return self._clients[client_id]


class CoAPClient:
    """One CoAP client of the module: configure, open, request, close."""

    def __init__(self, modem: Modem, client_id: int) -> None:
        self._modem = modem
        self.client_id = client_id
        self.ack_timeout = DEFAULT_ACK_TIMEOUT
        self.retries = DEFAULT_RETRIES
        self.incoming: queue.Queue[Message] = queue.Queue()
        """Messages that answered no request in flight (notifications, late answers)."""
        self.on_message: Callable[[Message], None] | None = None
        """Called (in the channel's dispatcher thread) for each such message; it
        may run AT commands but not CoAP requests (they raise LpwaError there)."""
        self.retransmissions: list[atwire.Retransmission] = []
        """The ``+QCOAPIND`` reports of the last request."""
        self._mid = int.from_bytes(os.urandom(2), "big")
        self._exchange: _Exchange | None = None
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._rebooted = False  # the module rebooted while this client was open
        modem.on_reboot(self._forget)

    # -- configuration (note 3.3.1) ---------------------------------------------------

    def configure(
        self,
        *,
        pdpcid: int | None = None,
        ack_timeout: int | None = None,
        retries: int | None = None,
        dtls: bool | None = None,
        dtls_context: int = 0,
    ) -> None:
        """Set QCOAPCFG "pdpcid" (1-16), "trans" (ACK timeout 2-60 s, retries 4-8)
        and "dtls" (with an SSL context 0-5); every value is checked first."""
        if pdpcid is not None and not 1 <= pdpcid <= 16:
            raise ParameterError(f"pdpcid must be 1-16: {pdpcid}")
        timeout = self.ack_timeout if ack_timeout is None else ack_timeout
        count = self.retries if retries is None else retries
        if timeout not in ACK_TIMEOUTS:
            raise ParameterError(f"ack_timeout must be 2-60 s: {timeout}")
        if count not in RETRIES:
            raise ParameterError(f"retries must be 4-8: {count}")
        if not 0 <= dtls_context <= 5:
            raise ParameterError(f"dtls_context must be 0-5: {dtls_context}")
        cid = self.client_id
        if pdpcid is not None:
            self._modem.command(f'AT+QCOAPCFG="pdpcid",{cid},{pdpcid}')
        if ack_timeout is not None or retries is not None:
            self._modem.command(f'AT+QCOAPCFG="trans",{cid},{timeout},{count}')
            self.ack_timeout, self.retries = timeout, count
        if dtls is not None:
            self._modem.command(f'AT+QCOAPCFG="dtls",{cid},{int(dtls)},{dtls_context}')

    def use_psk(self, identity: str, key: str, *, dtls_context: int = 0) -> None:
        """DTLS with a pre-shared key: upload ``<ctx>_server.psk`` as ``identity&key``
        (note 3.3.1 NOTE), enable DTLS 1.2 on the SSL context and on this client."""
        if not identity or not key or "&" in identity:
            raise ParameterError("PSK identity and key must be non-empty; no '&' in the identity")
        self._modem.files.upload(f"{dtls_context}_server.psk", f"{identity}&{key}".encode())
        self._modem.ssl.configure(dtls_context, dtls=1, dtlsversion=1)
        self.configure(dtls=True, dtls_context=dtls_context)

    # -- session (note 3.3.2, 3.3.3) -------------------------------------------------

    def open(self, host: str, port: int = 5683, *, timeout: float = OPEN_TIMEOUT) -> CoAPClient:
        """Connect to a CoAP server; waits for ``+QCOAPOPEN: <id>,<result>``."""
        if not host or len(host.encode()) > 255:
            raise ParameterError(f"CoAP server must be 1-255 bytes: {host!r}")
        if not 1 <= port <= 65535:
            raise ParameterError(f"port must be 1-65535: {port}")
        # An open client keeps its routing when the module refuses a second
        # QCOAPOPEN (-10, identifier occupied): only a subscription made here is undone.
        self._modem.ensure_session()
        subscribed_here = self._subscribe()
        self._rebooted = False
        line = f"AT+QCOAPOPEN={self.client_id},{quote(host)},{port}"
        try:
            self._session_command(line, atwire.OPEN, timeout)
        except BaseException:
            if subscribed_here:
                self._unsubscribe_all()
            raise
        return self

    def close(self, *, timeout: float = OPEN_TIMEOUT) -> None:
        """Disconnect; waits for ``+QCOAPCLOSE: <id>,<result>``.

        After a module reboot there is nothing left to close: returns at once."""
        self._modem.ensure_session()  # runs _forget if the module rebooted
        if self._unsubscribe is None and self._rebooted:
            return
        try:
            self._session_command(f"AT+QCOAPCLOSE={self.client_id}", atwire.CLOSE, timeout)
        finally:
            self._unsubscribe_all()

    def _session_command(self, line: str, urc_name: str, timeout: float) -> None:
        cid = str(self.client_id)

        def mine(urc: Urc) -> bool:
            return urc.name == urc_name and urc.fields[:1] == [cid]

        with self._modem.channel.expect_urc(mine) as waiter:
            self._modem.command(line)
            urc = waiter.wait(timeout)
        result = int(urc.fields[1])
        if result != 0:
            raise coap_result_error(line, result)

    def __enter__(self) -> CoAPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._unsubscribe is not None:
            self.close()

    # -- requests (note 3.3.4-3.3.6) -------------------------------------------------

    def request(
        self,
        code: Code | int,
        path: PathLike = "",
        payload: bytes | str = b"",
        *,
        confirmable: bool = True,
        options: Iterable[tuple[int, OptionValue]] = (),
        token: bytes | None = None,
        mid: int | None = None,
        content_format: int | None = None,
        accept: int | None = None,
        query: PathLike | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Send a request and return the response Message.

        ``path`` becomes Uri-Path options, ``query`` Uri-Query; ``options`` adds
        raw ``(number, value)`` pairs (bytes, or str/int converted by the
        option's format). At most 8 options in all, each one of the note's
        Table 2 and within its lengths; payload ≤ 1024 bytes. ``token`` None
        makes a random 4-byte token here (so separate responses can be matched);
        ``b""`` sends none. ``mid`` None takes the client's next message ID
        (AT+QCOAPHEADER ``<msgID>``). Raises CoAPTimeout when no answer comes within the
        retransmission window, a CoAPResultError for a failed delivery.
        """
        body = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        if len(body) > atwire.MAX_PAYLOAD:
            raise ParameterError(
                f"CoAP payload must be at most {atwire.MAX_PAYLOAD} bytes, not {len(body)}"
            )
        raw = build_options(
            uri_path=path or None,
            uri_query=query,
            content_format=content_format,
            accept=accept,
        )
        raw += [(number, _option_bytes(number, value)) for number, value in options]
        raw.sort(key=lambda opt: opt[0])
        if len(raw) > len(atwire.OPTION_INDEXES):
            raise ParameterError(f"the module takes at most 8 options, not {len(raw)}")
        option_lines = [
            f"AT+QCOAPOPTION={self.client_id},0,{index},{number},"
            f"{atwire.format_option_value(number, value)}"
            for index, (number, value) in enumerate(raw)
        ]
        if token is None:
            token = os.urandom(4)
        if len(token) > 8:
            raise ParameterError(f"token must be 0-8 bytes, not {len(token)}")
        if mid is not None and not 0 <= mid <= 0xFFFF:
            raise ParameterError(f"message ID must be 0-65535: {mid}")
        code_value = int(code)
        if not 0 <= code_value <= 255:
            raise ParameterError(f"code must be 0-255: {code}")
        if timeout is None:
            timeout = self._window(confirmable)

        if getattr(_handler, "active", False):
            raise LpwaError(
                "a CoAP request cannot wait for its answer inside on_message "
                "(answers arrive in that same thread); hand it to another thread"
            )
        # A reboot closes every client of the module; learn of it before sending.
        self._modem.ensure_session()
        with self._lock:
            if self._unsubscribe is None:
                why = " (the module rebooted)" if self._rebooted else ""
                raise LpwaError(f"CoAP client {self.client_id} is not open{why}")
            if mid is None:
                mid = self._next_mid()
            exchange = _Exchange(mid, token, confirmable)
            self.retransmissions = []
            self._modem.command(
                f'AT+QCOAPHEADER={self.client_id},{mid},0,{len(token)},"{token.hex().upper()}"'
            )
            for line in option_lines:
                self._modem.command(line)
            mtype = Type.CON if confirmable else Type.NON
            self._exchange = exchange
            try:
                self._modem.command(
                    f"AT+QCOAPSEND={self.client_id},{int(mtype)},{code_value},"
                    f"{(1 << len(raw)) - 1},{len(body)}",
                    data=body,
                )
                return self._await_answer(exchange, timeout)
            finally:
                self._exchange = None

    def get(self, path: PathLike = "", **kw: Any) -> Message:
        """A GET request; keywords as for :meth:`request`."""
        return self.request(Code.GET, path, **kw)

    def post(self, path: PathLike = "", payload: bytes | str = b"", **kw: Any) -> Message:
        """A POST request; keywords as for :meth:`request`."""
        return self.request(Code.POST, path, payload, **kw)

    def put(self, path: PathLike = "", payload: bytes | str = b"", **kw: Any) -> Message:
        """A PUT request; keywords as for :meth:`request`."""
        return self.request(Code.PUT, path, payload, **kw)

    def delete(self, path: PathLike = "", **kw: Any) -> Message:
        """A DELETE request; keywords as for :meth:`request`."""
        return self.request(Code.DELETE, path, **kw)

    def _window(self, confirmable: bool) -> float:
        if not confirmable:
            return NON_TIMEOUT
        spans = (1 << (self.retries + 1)) - 1
        return self.ack_timeout * spans * ACK_RANDOM_FACTOR + MARGIN

    def _next_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def _await_answer(self, exchange: _Exchange, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        channel = self._modem.channel
        reboots = channel.reboots
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CoAPTimeout(
                    f"CoAP client {self.client_id}: no answer to mid {exchange.mid} "
                    f"within {timeout:g} s"
                )
            try:
                item = exchange.answers.get(timeout=min(left, 0.5))
            except queue.Empty:
                if channel.closed:
                    raise TransportError(f"{channel.name}: link lost") from None
                if channel.reboots != reboots:
                    raise ModuleRebooted("the module rebooted during a CoAP request") from None
                continue
            if isinstance(item, BaseException):
                raise item
            if item.name == atwire.RECV:
                # Only a CON can be answered on its ACK (RFC 7252 5.2.1); a NON's
                # answer is NON even when the server reuses our message ID.
                piggybacked = exchange.confirmable and _mid_of(item) == exchange.mid
                received = atwire.parse_recv_urc(
                    item.fields,
                    item.payload or b"",
                    type=Type.ACK if piggybacked else Type.NON,
                )
                return received.message
            if item.name == atwire.IND:
                report = atwire.parse_ind(item.fields)
                self.retransmissions.append(report)
                log.info("CoAP client %d: retransmission %d", self.client_id, report.retry_times)
                continue
            delivery = atwire.parse_ack(item.fields)
            if delivery.result == 0:
                continue  # sent (NON) or acknowledged (CON): the answer follows
            if exchange.confirmable and self.retransmissions:
                raise CoAPTimeout(
                    f"CoAP client {self.client_id}: mid {exchange.mid} not acknowledged after "
                    f"{len(self.retransmissions)} retransmissions (result {delivery.result})"
                )
            raise coap_result_error(f"CoAP delivery of mid {exchange.mid}", delivery.result)

    # -- URC routing (dispatcher thread) ------------------------------------------------

    def _subscribe(self) -> bool:
        """Claim this client's URCs; False when they were claimed already."""
        if self._unsubscribe is not None:
            return False
        cid = str(self.client_id)

        def mine(urc: Urc) -> bool:
            return urc.name in ANSWER_URCS and urc.fields[:1] == [cid]

        self._unsubscribe = self._modem.channel.subscribe(self._route, mine, claim=True)
        return True

    def _unsubscribe_all(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _route(self, urc: Urc) -> None:
        exchange = self._exchange
        if exchange is not None and _answers(urc, exchange):
            exchange.answers.put(urc)
            return
        if urc.name != atwire.RECV:
            log.debug("CoAP client %d: %s for no request in flight", self.client_id, urc.text)
            return
        try:
            message = atwire.parse_recv_urc(urc.fields, urc.payload or b"").message
        except LpwaError as exc:
            log.warning("CoAP client %d: %s", self.client_id, exc)
            return
        self.incoming.put(message)
        handler = self.on_message
        if handler is not None:
            _handler.active = True
            try:
                handler(message)
            finally:
                _handler.active = False

    def _forget(self) -> None:
        """After a module reboot the module's clients are gone; so is ours."""
        exchange = self._exchange
        if exchange is not None:
            exchange.answers.put(ModuleRebooted("the module rebooted during a CoAP request"))
        if self._unsubscribe is not None:
            self._rebooted = True
        self._unsubscribe_all()


def _mid_of(urc: Urc) -> int | None:
    fields = urc.fields
    index = 1 if urc.name == atwire.RECV else 2
    try:
        return int(fields[index])
    except (IndexError, ValueError):
        return None


def _answers(urc: Urc, exchange: _Exchange) -> bool:
    """Whether ``urc`` belongs to the request in flight: same message ID (the
    delivery result, retransmissions, a piggybacked response), or for a
    response, the same token (a separate response, RFC 7252 5.2.2)."""
    if _mid_of(urc) == exchange.mid:
        return True
    if urc.name == atwire.RECV and exchange.token:
        fields = urc.fields
        return len(fields) > 4 and fields[4].upper() == exchange.token.hex().upper()
    return False


def _option_bytes(number: int, value: OptionValue) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool):
        return value.to_bytes((value.bit_length() + 7) // 8, "big")
    raise ParameterError(f"option {number}: value must be bytes, str or int, not {value!r}")
