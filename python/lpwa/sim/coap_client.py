"""One CoAP client of the module over UDP: send, retransmit, receive, report URCs.

Messages are ``lpwa.coap.Message`` values; URC text comes from
``lpwa.coap.atwire``. Datagrams go over a ``datagram`` link: plain UDP or DTLS.

Behaviour (CoAP note 3.4 and RFC 7252 4.2/4.3), with our decisions:

- NON, ACK and RST are reported once sent: ``+QCOAPACK: <id>,<type>,<msgid>,0``
  (``-11`` when the datagram could not be sent).
- CON is retransmitted after ``timeout`` (QCOAPCFG "trans", scaled), doubling
  each time (RFC 7252 4.2 with ACK_RANDOM_FACTOR 1: deterministic), at most
  ``retry_count`` times; each retransmission is reported
  ``+QCOAPIND: <id>,0,<msgid>,<retry_times>,0``. An ACK ends it with
  ``+QCOAPACK: <id>,0,<msgid>,0``; a RST, or no ACK after the last retry's
  timeout, with ``+QCOAPACK: <id>,0,<msgid>,-11`` (data sending failure).
- Incoming messages are reported ``+QCOAPRECV`` (``atwire.format_recv_urc``):
  a piggybacked response right after the ``+QCOAPACK`` of its request; an
  incoming CON (separate response, notification) is acknowledged with an empty
  ACK first, and a repeated CON is re-acknowledged but not reported again.
  An empty ACK/RST that matches nothing is ignored; a malformed CON datagram is
  answered with RST (RFC 7252 4.2) and not reported.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from typing import Callable

from lpwa.coap import Message, MessageFormatError, Type
from lpwa.coap.atwire import IND, format_recv_urc
from lpwa.sim.datagram import DatagramLink

__all__ = ["SEND_FAILED", "CoapSession"]

log = logging.getLogger("lpwa.sim")

SEND_FAILED = -11  # CoAP note chapter 4: "Data sending failure"

Emit = Callable[[str, bytes], None]
"""``emit(urc_text, payload)``: hand a URC to the module."""


class CoapSession:
    """The UDP side of one open CoAP client."""

    def __init__(
        self,
        client_id: int,
        link: DatagramLink,
        *,
        ack_timeout: float,
        retry_count: int,
        ack_prefix: str,
        emit: Emit,
    ) -> None:
        self.client_id = client_id
        self.link = link
        self.ack_timeout = ack_timeout
        self.retry_count = retry_count
        self.ack_prefix = ack_prefix
        self._emit = emit
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._urc_lock = threading.Lock()
        self._pending: dict[int, threading.Event] = {}
        self._outcome: dict[int, Message | None] = {}
        self._seen_con: deque[int] = deque(maxlen=32)
        self._thread = threading.Thread(
            target=self._receive_loop, name=f"sim-coap-{client_id}", daemon=True
        )
        self._thread.start()

    # -- sending -----------------------------------------------------------------
    def send(self, message: Message) -> None:
        """Send ``message``; CON messages are retransmitted in a worker thread."""
        datagram = message.encode()
        if message.type != Type.CON:
            with self._urc_lock:  # the answer's +QCOAPRECV must come after this ACK URC
                result = 0 if self._sendto(datagram) else SEND_FAILED
                self._ack(message.type, message.mid, result)
            return
        done = threading.Event()
        with self._lock:
            self._pending[message.mid] = done
            self._outcome.pop(message.mid, None)
        self._sendto(datagram)
        threading.Thread(
            target=self._retransmit,
            args=(message, datagram, done),
            name=f"sim-coap-{self.client_id}-con",
            daemon=True,
        ).start()

    def _sendto(self, datagram: bytes) -> bool:
        try:
            self.link.send(datagram)
        except OSError:
            return False
        return True

    def _ack(self, mtype: int, mid: int, result: int) -> None:
        self._emit(f"{self.ack_prefix}: {self.client_id},{int(mtype)},{mid},{result}", b"")

    def _retransmit(self, message: Message, datagram: bytes, done: threading.Event) -> None:
        timeout = self.ack_timeout
        retries = 0
        while True:
            if done.wait(timeout) or self._closed.is_set():
                break
            if retries >= self.retry_count:
                break
            retries += 1
            self._sendto(datagram)
            self._emit(f"{IND}: {self.client_id},0,{message.mid},{retries},0", b"")
            timeout *= 2
        with self._lock:
            self._pending.pop(message.mid, None)
            reply = self._outcome.pop(message.mid, None)
        if self._closed.is_set():
            return
        with self._urc_lock:
            if reply is not None and reply.type == Type.ACK:
                self._ack(Type.CON, message.mid, 0)
                if int(reply.code) != 0:
                    self._report(reply)
            else:
                self._ack(Type.CON, message.mid, SEND_FAILED)

    # -- receiving -----------------------------------------------------------------
    def _receive_loop(self) -> None:
        while not self._closed.is_set():
            try:
                datagram = self.link.recv()
            except OSError:
                if self._closed.is_set():
                    return
                continue
            except Exception:
                log.exception("simulator CoAP client %d: receive failed", self.client_id)
                continue
            if datagram is not None:
                self._handle(datagram)

    def _handle(self, datagram: bytes) -> None:
        try:
            message = Message.decode(datagram)
        except MessageFormatError as exc:
            if exc.mid is not None and exc.type == Type.CON:
                self._sendto(Message(Type.RST, 0, exc.mid).encode())
            return
        if message.type in (Type.ACK, Type.RST):
            with self._lock:
                done = self._pending.get(message.mid)
                if done is not None and not done.is_set():
                    self._outcome[message.mid] = message
                    done.set()
                    return
            if message.type == Type.ACK and int(message.code) != 0:
                with self._urc_lock:
                    self._report(message)  # a late piggybacked response
            return
        if message.type == Type.CON:
            self._sendto(Message(Type.ACK, 0, message.mid).encode())
            if message.mid in self._seen_con:
                return
            self._seen_con.append(message.mid)
        with self._urc_lock:
            self._report(message)

    def _report(self, message: Message) -> None:
        line, payload = format_recv_urc(self.client_id, message)
        self._emit(line.decode("ascii"), payload)

    def close(self) -> None:
        """Stop receiving and retransmitting; idempotent."""
        self._closed.set()
        with self._lock:
            for done in self._pending.values():
                done.set()
        with contextlib.suppress(OSError):
            self.link.close()
