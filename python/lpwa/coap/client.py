"""``modem.coap``: CoAP through the module's own stack (AT+QCOAP*, CoAP note ``spec/004_*``).

A request is: AT+QCOAPHEADER (message ID, token), one AT+QCOAPOPTION per option
(indexes 0-7, each checked against the note's Table 2), AT+QCOAPSEND with the
bitmask of those indexes, the code value and the payload (≤ 1024 bytes), then the
module's URCs: ``+QCOAPACK`` (delivery), ``+QCOAPIND`` (retransmissions) and
``+QCOAPRECV`` (the response). Every argument is checked before anything is sent.

The logic is written once, as procedures (:class:`CoAPProcedures`,
:class:`CoAPClientProcedures`, see :mod:`lpwa.procedure`); :class:`CoAP` /
:class:`CoAPClient` drive them blocking, :class:`AsyncCoAP` /
:class:`AsyncCoAPClient` with asyncio.

An open client claims the URCs that carry its id (a ``Subscribe`` step). While a
request is in flight, it claims the URCs that answer it (same message ID, or the
same token for a separate response) with an ``Expect`` waiter and waits for them;
the subscription skips those, and gives any other incoming message (a separate
response that came too late, a notification) to the client's ``incoming`` queue
and its ``on_message`` handler.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union, overload
from urllib.parse import unquote

from lpwa.at import Urc
from lpwa.at.fields import quote
from lpwa.coap import atwire
from lpwa.coap._typed import PathLike, build_options
from lpwa.coap.codes import Code, Type
from lpwa.coap.message import Message
from lpwa.errors import (
    ATTimeout,
    CoAPBadOption,
    CoAPIncomplete,
    CoAPTimeout,
    LpwaError,
    ModuleRebooted,
    ParameterError,
    ParameterTypeError,
    ProtocolError,
    coap_result_error,
)
from lpwa.procedure import (
    Api,
    Awaiting,
    Blocking,
    EnsureSession,
    Expect,
    K,
    Proc,
    Subscribe,
    Wait,
    command,
    procedure,
    urc_after,
)

if TYPE_CHECKING:
    from lpwa.aio.modem import AsyncModem
    from lpwa.files import FilesProcedures
    from lpwa.session import Session
    from lpwa.ssl_config import SSLProcedures

log = logging.getLogger("lpwa.coap")

X = TypeVar("X")

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
# URCs a request's waiter claimed, remembered so that the subscription, which
# sees them too, skips them; far more than can be between arrival and dispatch.
CLAIMED_MEMORY = 256

_SEND_FAILED = -11  # CoAP note chapter 4: "Data sending failure"

OptionValue = Union[bytes, str, int]
ANSWER_URCS = (atwire.RECV, atwire.ACK, atwire.ACK_AS_IN_EXAMPLES, atwire.IND)


@dataclass
class _Exchange:
    mid: int
    token: bytes | None
    confirmable: bool
    ping: bool = False
    done: bool = False
    failure: BaseException | None = None
    """Recorded by the subscription (an unreadable answer, a reboot) for the wait."""


class CoAPProcedures:
    """The module's CoAP clients (ids 0-5), as procedures.

    ``files`` and ``ssl`` serve :meth:`CoAPClientProcedures.use_psk`.
    """

    def __init__(self, session: Session, files: FilesProcedures, ssl: SSLProcedures) -> None:
        self._session = session
        self._files = files
        self._ssl = ssl
        self._clients: dict[int, CoAPClientProcedures] = {}

    def client(self, client_id: int = 0) -> CoAPClientProcedures:
        """The client with id ``client_id`` (0-5); the same object each time."""
        _integer("CoAP client id", client_id, 0, 5)
        if client_id not in self._clients:
            self._clients[client_id] = CoAPClientProcedures(
                self._session, client_id, self._files, self._ssl
            )
        return self._clients[client_id]


class CoAPClientProcedures:
    """One CoAP client of the module and its state: configure, open, request, close."""

    def __init__(
        self,
        session: Session,
        client_id: int,
        files: FilesProcedures,
        ssl: SSLProcedures,
    ) -> None:
        self._session = session
        self._files = files
        self._ssl = ssl
        self.client_id = client_id
        self.ack_timeout = DEFAULT_ACK_TIMEOUT
        self.retries = DEFAULT_RETRIES
        # queue.Queue: put() never blocks the dispatching side; a sync caller
        # may wait on get(), an asyncio one polls get_nowait() or uses on_message.
        self.incoming: queue.Queue[Message] = queue.Queue()
        self.on_message: Callable[[Message], None] | None = None
        self.retransmissions: list[atwire.Retransmission] = []
        self._mid = int.from_bytes(os.urandom(2), "big")
        self._exchange: _Exchange | None = None
        self._claimed: collections.deque[Urc] = collections.deque(maxlen=CLAIMED_MEMORY)
        self._unsubscribe: Callable[[], None] | None = None
        self._rebooted = False  # the module rebooted while this client was open
        session.on_reboot(self._forget)

    @property
    def is_open(self) -> bool:
        """Whether the client was opened and not closed since (nor rebooted)."""
        return self._unsubscribe is not None

    # -- configuration (note 3.3.1) ---------------------------------------------------

    def configure(
        self,
        *,
        pdpcid: int | None = None,
        ack_timeout: int | None = None,
        retries: int | None = None,
        dtls: bool | None = None,
        dtls_context: int = 0,
    ) -> Proc[None]:
        """Set QCOAPCFG "pdpcid" (1-16), "trans" (ACK timeout 2-60 s, retries 4-8)
        and "dtls" (with an SSL context 0-5); every value is checked first."""
        if pdpcid is not None:
            _integer("pdpcid", pdpcid, 1, 16)
        timeout = self.ack_timeout if ack_timeout is None else ack_timeout
        count = self.retries if retries is None else retries
        _integer("ack_timeout (s)", timeout, ACK_TIMEOUTS.start, ACK_TIMEOUTS.stop - 1)
        _integer("retries", count, RETRIES.start, RETRIES.stop - 1)
        _integer("dtls_context", dtls_context, 0, 5)
        if dtls is not None and not isinstance(dtls, bool):
            raise ParameterTypeError(f"dtls must be True or False, not {dtls!r}")
        cid = self.client_id
        if pdpcid is not None:
            yield from command(f'AT+QCOAPCFG="pdpcid",{cid},{pdpcid}')
        if ack_timeout is not None or retries is not None:
            yield from command(f'AT+QCOAPCFG="trans",{cid},{timeout},{count}')
            self.ack_timeout, self.retries = timeout, count
        if dtls is not None:
            yield from command(f'AT+QCOAPCFG="dtls",{cid},{int(dtls)},{dtls_context}')

    def use_psk(self, identity: str, key: str | bytes, *, dtls_context: int = 0) -> Proc[None]:
        """DTLS with a pre-shared key: upload ``<ctx>_server.psk``, enable DTLS 1.2 on the
        SSL context and on this client.

        ``key`` is the secret itself, as libcoap's ``-k`` takes it (``str`` is UTF-8).
        The file holds ``<identity>&<key in uppercase hex>`` (note 3.3.1 NOTE): the
        note's example key ``313233343446473839`` is the hex of the ASCII text
        ``12344FG89``, and hex is the only form in which any secret, binary or text,
        survives an ``&``-separated text file. The key is never logged.
        """
        if not isinstance(identity, str):
            raise ParameterTypeError(f"PSK identity must be str, not {type(identity).__name__}")
        if not isinstance(key, (str, bytes)):
            raise ParameterTypeError(f"PSK key must be str or bytes, not {type(key).__name__}")
        secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if not identity or not secret or "&" in identity:
            raise ParameterError("PSK identity and key must be non-empty; no '&' in the identity")
        if not all(" " <= ch <= "~" for ch in identity):
            raise ParameterError("PSK identity must be printable ASCII")
        _integer("dtls_context", dtls_context, 0, 5)
        content = identity.encode("ascii") + b"&" + secret.hex().upper().encode("ascii")
        yield from self._files.upload(f"{dtls_context}_server.psk", content)
        yield from self._ssl.configure(dtls_context, dtls=1, dtlsversion=1)
        yield from self.configure(dtls=True, dtls_context=dtls_context)

    # -- session (note 3.3.2, 3.3.3) -------------------------------------------------

    def open(self, host: str, port: int = 5683, *, timeout: float = OPEN_TIMEOUT) -> Proc[None]:
        """Connect to a CoAP server; waits for ``+QCOAPOPEN: <id>,<result>``.

        With DTLS (``use_psk``) the module runs the handshake before it answers:
        ``CoAPDTLSHandshakeFailure`` (-9) for a wrong key or a silent peer."""
        if not isinstance(host, str):
            raise ParameterTypeError(f"CoAP server must be str, not {type(host).__name__}")
        if not host or len(host.encode()) > 255:
            raise ParameterError(f"CoAP server must be 1-255 bytes: {host!r}")
        _integer("port", port, 1, 65535)
        _timeout(timeout)
        # A reboot closes every client of the module (runs _forget): learn of it first.
        yield EnsureSession()
        # An open client keeps its routing when the module refuses a second
        # QCOAPOPEN (-10, identifier occupied): only a subscription made here is undone.
        subscribed_here = False
        if self._unsubscribe is None:
            self._unsubscribe = yield Subscribe(self._route, self._mine, claim=True)
            subscribed_here = True
        self._rebooted = False
        line = f"AT+QCOAPOPEN={self.client_id},{quote(host)},{port}"
        try:
            yield from self._session_command(line, atwire.OPEN, timeout)
        except BaseException:
            if subscribed_here:
                self._unsubscribe_all()
            raise

    def close(self, *, timeout: float = OPEN_TIMEOUT) -> Proc[None]:
        """Disconnect; waits for ``+QCOAPCLOSE: <id>,<result>``.

        After a module reboot there is nothing left to close: returns at once."""
        _timeout(timeout)
        yield EnsureSession()  # runs _forget if the module rebooted
        if self._unsubscribe is None and self._rebooted:
            return
        try:
            yield from self._session_command(
                f"AT+QCOAPCLOSE={self.client_id}", atwire.CLOSE, timeout
            )
        finally:
            self._unsubscribe_all()

    def leave(self) -> Proc[None]:
        """The end of a ``with`` block: close the client if it is open."""
        if self._unsubscribe is not None:
            yield from self.close()

    def _session_command(self, line: str, urc_name: str, timeout: float) -> Proc[None]:
        cid = str(self.client_id)

        def mine(urc: Urc) -> bool:
            return urc.name == urc_name and urc.fields[:1] == [cid]

        urc = yield from urc_after(line, mine, timeout)
        result = atwire.parse_session_result(urc_name, urc.fields).result
        if result != 0:
            raise coap_result_error(line, result)

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
        allow_partial: bool = False,
    ) -> Proc[Message]:
        """Send a request and return the response Message.

        ``path`` becomes Uri-Path options, ``query`` Uri-Query; ``options`` adds
        raw ``(number, value)`` pairs (bytes, or str/int converted by the
        option's format). At most 8 options in all, each one of the note's
        Table 2 and within its lengths; payload ≤ 1024 bytes; ``code`` one of the
        note's Table 3 (other than 0.00: see :meth:`ping`). ``token`` None
        makes a random 4-byte token here (so separate responses can be matched);
        ``b""`` sends none. ``mid`` None takes the client's next message ID
        (AT+QCOAPHEADER ``<msgID>``). Raises CoAPTimeout when no answer comes within the
        retransmission window, a CoAPResultError for a failed delivery.

        A response that is only the first block of a larger resource (Block2
        with M=1: the module cannot ask for the others, note Table 2) raises
        ``CoAPIncomplete``, or with ``allow_partial=True`` comes back with
        ``complete`` False. A response with a critical option lpwa does not
        understand raises ``CoAPBadOption`` (RFC 7252 5.4.1).
        """
        code_value = _code_value(code)
        body = _payload(payload)
        _flag("confirmable", confirmable)
        _flag("allow_partial", allow_partial)
        raw = build_options(
            uri_path=_path_like("path", path) or None,
            uri_query=None if query is None else _path_like("query", query),
            content_format=None
            if content_format is None
            else _integer("content_format", content_format, 0, 0xFFFF),
            accept=None if accept is None else _integer("accept", accept, 0, 0xFFFF),
        )
        raw += [_option_bytes(option) for option in _option_list(options)]
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
        elif not isinstance(token, bytes):
            raise ParameterTypeError(f"token must be bytes, not {type(token).__name__}")
        if len(token) > 8:
            raise ParameterError(f"token must be 0-8 bytes, not {len(token)}")
        if mid is not None:
            _integer("message ID", mid, 0, 0xFFFF)
        timeout = self._window(confirmable) if timeout is None else _timeout(timeout)
        mtype = Type.CON if confirmable else Type.NON
        send = f"AT+QCOAPSEND={self.client_id},{int(mtype)},{code_value},{(1 << len(raw)) - 1}"
        received = yield from self._exchange_once(
            mid, token, confirmable, option_lines, send, body, timeout
        )
        if received is None:  # only a ping ends without a message
            raise ProtocolError(f"CoAP client {self.client_id}: the request got an empty answer")
        return _judge(received, allow_partial)

    def ping(self, *, timeout: float | None = None) -> Proc[None]:
        """A CoAP ping (RFC 7252 4.3): an Empty CON; returns when the server answers.

        The server answers a ping with RST (or an empty ACK). The module reports a
        CON that was reset as ``+QCOAPACK: <id>,0,<msgID>,-11`` with no
        ``+QCOAPIND`` before it; an unanswered one retransmits (``+QCOAPIND``)
        before the same result, which raises ``CoAPTimeout`` here. The note does not
        say how a module reports a RST; this rests on its result table and on
        RFC 7252 4.2, and any other result raises its CoAPResultError.
        """
        timeout = self._window(True) if timeout is None else _timeout(timeout)
        send = f"AT+QCOAPSEND={self.client_id},0,0,0"
        yield from self._exchange_once(None, b"", True, [], send, b"", timeout, ping=True)

    def get(self, /, path: PathLike = "", **kw: Any) -> Proc[Message]:
        """A GET request; keywords as for :meth:`request`."""
        return (yield from self.request(Code.GET, path, **kw))

    def post(self, /, path: PathLike = "", payload: bytes | str = b"", **kw: Any) -> Proc[Message]:
        """A POST request; keywords as for :meth:`request`."""
        return (yield from self.request(Code.POST, path, payload, **kw))

    def put(self, /, path: PathLike = "", payload: bytes | str = b"", **kw: Any) -> Proc[Message]:
        """A PUT request; keywords as for :meth:`request`."""
        return (yield from self.request(Code.PUT, path, payload, **kw))

    def delete(self, /, path: PathLike = "", **kw: Any) -> Proc[Message]:
        """A DELETE request; keywords as for :meth:`request`."""
        return (yield from self.request(Code.DELETE, path, **kw))

    def _exchange_once(
        self,
        mid: int | None,
        token: bytes,
        confirmable: bool,
        option_lines: list[str],
        send: str,
        body: bytes,
        timeout: float,
        *,
        ping: bool = False,
    ) -> Proc[atwire.ReceivedMessage | None]:
        # A reboot closes every client of the module; learn of it before sending.
        yield EnsureSession()
        if self._unsubscribe is None:
            why = " (the module rebooted)" if self._rebooted else ""
            raise LpwaError(f"CoAP client {self.client_id} is not open{why}")
        if mid is None:
            mid = self._next_mid()
        exchange = _Exchange(mid, token, confirmable, ping=ping)
        self.retransmissions = []
        yield from command(
            f'AT+QCOAPHEADER={self.client_id},{mid},0,{len(token)},"{token.hex().upper()}"'
        )
        for line in option_lines:
            yield from command(line)
        # Claimed before the send, so that an answer that comes at once cannot slip past.
        waiter = yield Expect(self._claimer(exchange), invalid=True)
        try:
            self._exchange = exchange
            yield from command(f"{send},{len(body)}", data=body)
            return (yield from self._await_answer(exchange, waiter, timeout))
        finally:
            exchange.done = True
            self._exchange = None
            waiter.cancel()

    def _window(self, confirmable: bool) -> float:
        if not confirmable:
            return NON_TIMEOUT
        spans = (1 << (self.retries + 1)) - 1
        return self.ack_timeout * spans * ACK_RANDOM_FACTOR + MARGIN

    def _next_mid(self) -> int:
        self._mid = (self._mid + 1) & 0xFFFF
        return self._mid

    def _claimer(self, exchange: _Exchange) -> Callable[[Urc], bool]:
        """The waiter's match: this client's URCs that answer ``exchange``,
        while it is in flight (remembered for :meth:`_route` to skip)."""

        def claims(urc: Urc) -> bool:
            if self._exchange is not exchange or exchange.done:
                return False
            if not self._mine(urc) or not _answers(urc, exchange):
                return False
            self._claimed.append(urc)
            return True

        return claims

    def _await_answer(
        self, exchange: _Exchange, waiter: Any, timeout: float
    ) -> Proc[atwire.ReceivedMessage | None]:
        deadline = time.monotonic() + timeout
        while True:
            if exchange.failure is not None:
                raise exchange.failure
            left = deadline - time.monotonic()
            if left <= 0:
                raise CoAPTimeout(
                    f"CoAP client {self.client_id}: no answer to mid {exchange.mid} "
                    f"within {timeout:g} s"
                )
            try:
                urc: Urc = yield Wait(waiter, left)
            except ATTimeout:
                continue  # the deadline: CoAPTimeout above
            if urc.invalid:  # the answer, on a +QCOAPRECV line too long to read
                raise ProtocolError(
                    f"CoAP client {self.client_id}: the answer to mid {exchange.mid} came as "
                    f"a {atwire.RECV} line too long to read ({urc.text[:60]!r}…)"
                )
            if urc.name == atwire.RECV:
                # Only a CON can be answered on its ACK (RFC 7252 5.2.1); a NON's
                # answer is NON even when the server reuses our message ID.
                piggybacked = exchange.confirmable and _mid_of(urc) == exchange.mid
                received = atwire.parse_recv(
                    urc.text,
                    urc.payload or b"",
                    type=Type.ACK if piggybacked else Type.NON,
                )
                message = received.message
                if exchange.ping and int(message.code) == 0:
                    return None  # an Empty ACK/RST reported as a message: the pong
                return message
            if urc.name == atwire.IND:
                report = atwire.parse_ind(urc.fields)
                self.retransmissions.append(report)
                log.info("CoAP client %d: retransmission %d", self.client_id, report.retry_times)
                continue
            delivery = atwire.parse_ack(urc.fields)
            if delivery.result == 0:
                if exchange.ping:
                    return None  # acknowledged (an empty ACK is a pong too)
                continue  # sent (NON) or acknowledged (CON): the answer follows
            if exchange.confirmable and self.retransmissions:
                raise CoAPTimeout(
                    f"CoAP client {self.client_id}: mid {exchange.mid} not acknowledged after "
                    f"{len(self.retransmissions)} retransmissions (result {delivery.result})"
                )
            if exchange.ping and delivery.result == _SEND_FAILED:
                return None  # reset at once: the RST that answers a ping
            raise coap_result_error(f"CoAP delivery of mid {exchange.mid}", delivery.result)

    # -- URC routing (a Subscribe callback: it must not block) -------------------------

    def _mine(self, urc: Urc) -> bool:
        """This client's URCs (also an over-long +QCOAPRECV's readable start)."""
        cid = str(self.client_id)
        if urc.invalid:  # a +QCOAPRECV line longer than the tokenizer takes
            return urc.text.startswith(f"{atwire.RECV}: {cid},")
        return urc.name in ANSWER_URCS and urc.fields[:1] == [cid]

    def _unsubscribe_all(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _route(self, urc: Urc) -> None:
        # The shells show subscribers the URCs a waiter claimed too: those went
        # to the request in flight already.
        if any(seen is urc for seen in list(self._claimed)):
            return
        if urc.invalid:  # (one that answers the request in flight went to its waiter)
            log.warning("CoAP client %d: unreadable %s: %r", self.client_id, atwire.RECV, urc.text)
            return
        if urc.name != atwire.RECV:
            log.debug("CoAP client %d: %s for no request in flight", self.client_id, urc.text)
            return
        try:
            message = atwire.parse_recv(urc.text, urc.payload or b"").message
        except LpwaError as exc:
            log.warning("CoAP client %d: %s", self.client_id, exc)
            return
        self.incoming.put(message)
        handler = self.on_message
        if handler is not None:
            # On the sync shell's dispatcher thread, where a request is refused
            # (ModemBusy), or on the asyncio shell's loop, where it can only be
            # started as a task: a handler never waits for an answer here.
            handler(message)

    def _forget(self) -> None:
        """After a module reboot the module's clients are gone; so is ours."""
        exchange = self._exchange
        if exchange is not None and exchange.failure is None:
            # The shells' waiters learn of a reboot themselves; this covers any gap.
            exchange.failure = ModuleRebooted("the module rebooted during a CoAP request")
        if self._unsubscribe is not None:
            self._rebooted = True
        self._unsubscribe_all()


# -- one facade for both shells -------------------------------------------------------


def _then(proc: Proc[Any], value: X) -> Proc[X]:
    """``proc``, returning ``value`` (``open`` returns its client)."""
    yield from proc
    return value


class CoAPClient(Api[CoAPClientProcedures, K]):
    """One CoAP client of the module: configure, open, request, close.

    ``modem.coap.client(i)`` (blocking) and ``AsyncModem.coap.client(i)``
    (:data:`AsyncCoAPClient`: methods are awaited, ``async with``).
    """

    configure = procedure(CoAPClientProcedures.configure)
    use_psk = procedure(CoAPClientProcedures.use_psk)
    close = procedure(CoAPClientProcedures.close)
    request = procedure(CoAPClientProcedures.request)
    ping = procedure(CoAPClientProcedures.ping)
    get = procedure(CoAPClientProcedures.get)
    post = procedure(CoAPClientProcedures.post)
    put = procedure(CoAPClientProcedures.put)
    delete = procedure(CoAPClientProcedures.delete)

    @overload
    def open(
        self: CoAPClient[Blocking], host: str, port: int = 5683, *, timeout: float = OPEN_TIMEOUT
    ) -> CoAPClient[Blocking]: ...
    @overload
    def open(
        self: CoAPClient[Awaiting], host: str, port: int = 5683, *, timeout: float = OPEN_TIMEOUT
    ) -> Coroutine[Any, Any, CoAPClient[Awaiting]]: ...
    def open(self, host: str, port: int = 5683, *, timeout: float = OPEN_TIMEOUT) -> Any:
        """Connect to a CoAP server (see :meth:`CoAPClientProcedures.open`);
        returns this client (awaited in the asyncio shell)."""
        return self._shell.call(_then(self._procs.open(host, port, timeout=timeout), self))

    @property
    def client_id(self) -> int:
        return self._procs.client_id

    @property
    def ack_timeout(self) -> int:
        """The ACK timeout (s) last configured (QCOAPCFG "trans")."""
        return self._procs.ack_timeout

    @property
    def retries(self) -> int:
        """The retransmission count last configured (QCOAPCFG "trans")."""
        return self._procs.retries

    @property
    def incoming(self) -> queue.Queue[Message]:
        """Messages that answered no request in flight (notifications, late answers)."""
        return self._procs.incoming

    @property
    def on_message(self) -> Callable[[Message], None] | None:
        """Called with each message of :attr:`incoming` where URCs are dispatched
        (the sync shell's dispatcher thread, the asyncio shell's loop), so it must
        not block; it may run AT commands (sync shell) but not CoAP requests
        (they raise LpwaError there)."""
        return self._procs.on_message

    @on_message.setter
    def on_message(self, handler: Callable[[Message], None] | None) -> None:
        self._procs.on_message = handler

    @property
    def retransmissions(self) -> list[atwire.Retransmission]:
        """The ``+QCOAPIND`` reports of the last request."""
        return self._procs.retransmissions

    @property
    def is_open(self) -> bool:
        """Whether the client was opened and not closed since (nor rebooted)."""
        return self._procs.is_open

    def __enter__(self: CoAPClient[Blocking]) -> CoAPClient[Blocking]:
        if hasattr(self._shell, "arun"):
            raise TypeError("a CoAP client of the asyncio shell is used with 'async with'")
        return self

    def __exit__(self: CoAPClient[Blocking], *exc: object) -> None:
        self._shell.call(self._procs.leave())

    async def __aenter__(self: CoAPClient[Awaiting]) -> CoAPClient[Awaiting]:
        if not hasattr(self._shell, "arun"):
            raise TypeError("a CoAP client of the sync shell is used with 'with'")
        return self

    async def __aexit__(self: CoAPClient[Awaiting], *exc: object) -> None:
        await self._shell.call(self._procs.leave())


class CoAP(Api[CoAPProcedures, K]):
    """The module's CoAP clients: ``modem.coap``, ``AsyncModem.coap``."""

    def __init__(self, shell: Any, procs: CoAPProcedures) -> None:
        super().__init__(shell, procs)
        self._clients: dict[int, CoAPClient[K]] = {}

    def client(self, client_id: int = 0) -> CoAPClient[K]:
        """The client with id ``client_id`` (0-5); the same object each time."""
        procs = self._procs.client(client_id)
        if client_id not in self._clients:
            self._clients[client_id] = CoAPClient(self._shell, procs)
        return self._clients[client_id]


AsyncCoAP = CoAP[Awaiting]
"""``AsyncModem.coap``'s type."""
AsyncCoAPClient = CoAPClient[Awaiting]
"""``AsyncModem.coap.client(i)``'s type."""


def async_coap(modem: AsyncModem) -> CoAP[Awaiting]:
    """``AsyncModem.coap``: the facade over this modem's CoAP procedures."""
    from lpwa.ssl_config import SSLProcedures

    return CoAP(modem, CoAPProcedures(modem, modem.files_procedures, SSLProcedures(modem)))


def split_uri(path: str, query: str = "") -> tuple[list[str], list[str]]:
    """The Uri-Path and Uri-Query values of a URI's path and query (RFC 7252 6.4
    steps 8-9): split on "/" and "&", each part percent-decoded (UTF-8).

    ``split_uri("/a%20b/c", "x=1&y=%26")`` is ``(["a b", "c"], ["x=1", "y=&"])``.
    """
    path = path[1:] if path.startswith("/") else path
    try:
        segments = [unquote(s, errors="strict") for s in path.split("/")] if path else []
        queries = [unquote(q, errors="strict") for q in query.split("&")] if query else []
    except UnicodeDecodeError:
        raise ParameterError(f"percent-encoded bytes that are not UTF-8 in {path!r}") from None
    return segments, queries


def _mid_of(urc: Urc) -> int | None:
    """The msgID of a CoAP URC (also of an over-long +QCOAPRECV's readable start)."""
    if urc.invalid:
        fields = urc.text.partition(":")[2].split(",")
        index = 1
    else:
        fields = urc.fields
        index = 1 if urc.name == atwire.RECV else 2
    try:
        return atwire.uint(fields[index].strip(), 0, 0xFFFF, "msgID")
    except (IndexError, ProtocolError):
        return None


def _answers(urc: Urc, exchange: _Exchange) -> bool:
    """Whether ``urc`` belongs to the request in flight: same message ID (the
    delivery result, retransmissions, a piggybacked response), or for a
    response, the same token (a separate response, RFC 7252 5.2.2)."""
    if _mid_of(urc) == exchange.mid:
        return True
    if exchange.token and (urc.name == atwire.RECV or urc.invalid):
        fields = urc.text.partition(":")[2].split(",")
        token = fields[4].strip().strip('"') if len(fields) > 4 else ""
        return token.upper() == exchange.token.hex().upper()
    return False


def _judge(message: atwire.ReceivedMessage, allow_partial: bool) -> atwire.ReceivedMessage:
    """Refuse what must not be returned as the answer (RFC 7252 5.4.1, RFC 7959 2.4)."""
    critical = message.unrecognized_critical()
    if critical:
        names = ", ".join(str(n) for n in critical)
        raise CoAPBadOption(
            f"{message.code} response with critical option(s) {names} that lpwa does not "
            "understand: rejected (RFC 7252 5.4.1)",
            message,
            numbers=critical,
        )
    block2 = message.block2
    unreadable = [t for t in message.unparsed_options if t.lstrip('"').startswith(("23:", "23,"))]
    if (block2 is not None and (block2.more or block2.num != 0)) or unreadable:
        if allow_partial:
            return message.with_complete(False)
        size2 = message.size2
        total = f" of {size2}" if size2 is not None else ""
        what = (
            f"block {block2.num} ({len(message.payload)} bytes{total}, more to come)"
            if block2 is not None and not unreadable
            else "a Block2 option it could not read"
        )
        raise CoAPIncomplete(
            f"incomplete CoAP response: the server sent {what}; the module cannot request "
            "further blocks (AT+QCOAPOPTION takes no Block2, CoAP note Table 2)",
            message,
            size2=size2,
            received=len(message.payload),
        )
    return message


def _integer(name: str, value: object, lo: int, hi: int) -> int:
    """An int within ``lo..hi`` (not a bool, not a str): ParameterError before sending."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterTypeError(f"{name} must be an int, not {value!r}")
    if not lo <= value <= hi:
        raise ParameterError(f"{name} must be {lo}-{hi}: {value}")
    return value


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterTypeError(f"timeout must be a number of seconds, not {value!r}")
    if not 0 < value < 1e9:  # also refuses NaN
        raise ParameterError(f"timeout must be positive: {value}")
    return float(value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ParameterTypeError(f"{name} must be True or False, not {value!r}")


def _code_value(code: object) -> int:
    if isinstance(code, bool) or not isinstance(code, int):
        raise ParameterTypeError(f"code must be a Code or an int, not {code!r}")
    if int(code) not in atwire.TABLE_3 or int(code) == 0:
        raise ParameterError(
            f"code {code} is not a request or response code of the note's Table 3 "
            "(for a CoAP ping, use ping())"
        )
    return int(code)


def _payload(payload: object) -> bytes:
    # Never bytes(<int>): that would be a run of zero bytes.
    if isinstance(payload, str):
        body = payload.encode("utf-8")
    elif isinstance(payload, (bytes, bytearray, memoryview)):
        body = bytes(payload)
    else:
        raise ParameterTypeError(f"payload must be bytes or str, not {type(payload).__name__}")
    if len(body) > atwire.MAX_PAYLOAD:
        raise ParameterError(
            f"CoAP payload must be at most {atwire.MAX_PAYLOAD} bytes, not {len(body)}"
        )
    return body


def _path_like(name: str, value: object) -> PathLike:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ParameterTypeError(f"{name} must be str or a list of str, not {value!r}")


def _option_list(options: object) -> list[tuple[int, OptionValue]]:
    if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
        raise ParameterTypeError(f"options must be (number, value) pairs, not {options!r}")
    out = []
    for option in options:
        if not isinstance(option, tuple) or len(option) != 2:
            raise ParameterTypeError(f"an option is a (number, value) pair, not {option!r}")
        out.append((_integer("option number", option[0], 0, 0xFFFF), option[1]))
    return out


def _option_bytes(option: tuple[int, OptionValue]) -> tuple[int, bytes]:
    number, value = option
    if isinstance(value, bytes):
        return number, value
    if isinstance(value, str):
        return number, value.encode("utf-8")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return number, value.to_bytes((value.bit_length() + 7) // 8, "big")
    raise ParameterTypeError(
        f"option {number}: value must be bytes, str or a non-negative int, not {value!r}"
    )
