"""The datagram links under a simulated CoAP client: plain UDP, or DTLS 1.2 with a PSK.

A link is connected to one peer; ``send`` writes one CoAP datagram, ``recv``
waits a little for the next one (None when nothing came), ``close`` ends it.
``coap_client.CoapSession`` runs over either without knowing which.

DTLS (CoAP note 3.3.1 NOTE and example 5.2) is done with python-mbedtls
(``lpwa[dtls]``), imported here lazily and only by the simulator, so lpwa itself
never needs it. It was chosen over DTLSSocket (tinydtls, which aiocoap uses)
because it is maintained, ships manylinux wheels for CPython 3.8-3.12 on x86-64
(DTLSSocket needs a C build), and offers PSK with DTLS 1.0/1.2 on a plain
buffer interface, so the handshake runs on our own socket under our own deadline.

What the module does, as we model it (the note gives only the result codes):

* The PSK comes from ``<DTLS_contextID>_server.psk`` in the UFS, ``<identity>&<key>``;
  ``<key>`` is the secret in hex (the note's example ``313233343446473839`` is
  the hex of the ASCII text ``12344FG89``), which is how lpwa's ``use_psk``
  writes it. A missing or unreadable file fails the handshake (-9).
* The SSL context's ``dtls`` must be 1 and ``dtlsversion`` picks the protocol:
  0 DTLS 1.0, 1 DTLS 1.2, 2 either (the BG95 test form gives the range 0-2).
* The handshake is bounded: by ``negotiatetime`` and at most ``HANDSHAKE_TIME``
  module seconds. A wrong key is silence with libcoap (the server drops our
  Finished), so it ends like any unanswered handshake: -9. An ICMP "port
  unreachable" on the connected socket ends it at once with -7 ("Socket
  connection failure", the nearest of the note's words for a peer that refuses).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from lpwa.sim.tls import SslConfig
    from lpwa.sim.ufs import UFS

__all__ = [
    "HANDSHAKE_TIME",
    "DatagramLink",
    "DtlsFailure",
    "DtlsLink",
    "Psk",
    "UdpLink",
    "read_psk",
]

log = logging.getLogger("lpwa.sim")

HANDSHAKE_TIME = 20.0
"""The longest DTLS handshake, in module seconds (scaled by the simulator's time_scale)."""
POLL = 0.05  # how often a waiting link looks at its socket and timers, in real seconds

R_SOCKET = -7  # CoAP note chapter 4: "Socket connection failure"
R_DTLS = -9  # "DTLS handshaking failure"

MISSING_LIBRARY = (
    "DTLS in the simulator needs python-mbedtls: pip install 'lpwa[dtls]' "
    "(wheels for CPython 3.8-3.12 on x86-64)"
)


class DatagramLink(Protocol):
    """One connected datagram path to the CoAP server."""

    def send(self, datagram: bytes) -> None:
        """Send one datagram; OSError when it could not be sent."""

    def recv(self) -> bytes | None:
        """The next datagram, or None after a short wait; OSError when the link failed."""

    def close(self) -> None:
        """Close the link; idempotent."""


def _connected_socket(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    sock.settimeout(POLL)
    return sock


class UdpLink:
    """Plain UDP."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._sock = _connected_socket(address)

    def send(self, datagram: bytes) -> None:
        self._sock.send(datagram)

    def recv(self) -> bytes | None:
        try:
            return self._sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return None
        except ConnectionRefusedError:
            return None  # an ICMP error for an earlier datagram: UDP goes on

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True)
class Psk:
    """A pre-shared key: the identity sent in the clear and the secret."""

    identity: str
    key: bytes

    def __repr__(self) -> str:  # the secret never reaches a log
        return f"Psk(identity={self.identity!r}, key=<{len(self.key)} bytes>)"


class DtlsFailure(Exception):
    """The DTLS session could not be set up; ``result`` is the note's code (-7, -9)."""

    def __init__(self, result: int, reason: str) -> None:
        self.result = result
        super().__init__(reason)


def psk_file_name(context_id: int) -> str:
    """``<DTLS_contextID>_server.psk`` (CoAP note 3.3.1 NOTE)."""
    return f"{context_id}_server.psk"


def read_psk(ufs: UFS, context_id: int) -> Psk:
    """The PSK of an SSL context from its UFS file; DtlsFailure(-9) when unusable."""
    name = psk_file_name(context_id)
    try:
        content = ufs.read(name)
    except (KeyError, ValueError):
        raise DtlsFailure(R_DTLS, f"no {name} in the UFS") from None
    identity, amp, key_hex = content.strip(b" \t\r\n").partition(b"&")
    try:
        key = bytes.fromhex(key_hex.decode("ascii"))
        text = identity.decode("utf-8")
    except (UnicodeDecodeError, ValueError):
        raise DtlsFailure(R_DTLS, f"{name} is not <identity>&<hex key>") from None
    if not amp or not text or not key:
        raise DtlsFailure(R_DTLS, f"{name} is not <identity>&<hex key>")
    return Psk(text, key)


def _mbedtls_tls() -> Any:
    try:
        import mbedtls.tls as tls  # the optional extra lpwa[dtls]
    except ImportError:
        raise DtlsFailure(R_DTLS, MISSING_LIBRARY) from None
    return tls


class DtlsLink:
    """DTLS 1.0/1.2 with a PSK over a connected UDP socket (client side)."""

    def __init__(
        self,
        address: tuple[str, int],
        psk: Psk,
        ssl: SslConfig,
        *,
        handshake_time: float,
    ) -> None:
        """Connect and run the handshake within ``handshake_time`` real seconds.

        Raises DtlsFailure with the note's result code.
        """
        tls = _mbedtls_tls()
        if ssl.dtls != 1:
            raise DtlsFailure(R_DTLS, "DTLS is not enabled on the SSL context (QSSLCFG dtls)")
        versions = {
            0: (tls.DTLSVersion.DTLSv1_0, tls.DTLSVersion.DTLSv1_0),
            1: (tls.DTLSVersion.DTLSv1_2, tls.DTLSVersion.DTLSv1_2),
        }.get(ssl.dtlsversion, (tls.DTLSVersion.DTLSv1_0, tls.DTLSVersion.DTLSv1_2))
        config = tls.DTLSConfiguration(
            pre_shared_key=(psk.identity, psk.key),
            validate_certificates=False,  # PSK: nothing to validate
            lowest_supported_version=versions[0],
            highest_supported_version=versions[1],
            # RFC 6347 4.2.4.1's initial 1 s retransmission timer, kept under the bound.
            handshake_timeout_min=max(0.1, min(1.0, handshake_time / 4)),
            handshake_timeout_max=max(0.2, handshake_time),
        )
        self._tls = tls
        self._lock = threading.Lock()  # the buffer is not thread-safe
        self._pending: list[bytes] = []
        self._sock = _connected_socket(address)
        try:
            self._buffer = tls.ClientContext(config).wrap_buffers(None)
            self._handshake(time.monotonic() + handshake_time, handshake_time)
        except BaseException:
            self._sock.close()
            raise

    def _handshake(self, deadline: float, bound: float) -> None:
        tls = self._tls
        over = tls.HandshakeStep.HANDSHAKE_OVER
        from mbedtls.exceptions import TLSError

        while True:
            with self._lock:
                try:
                    if self._buffer._handshake_state is not over:
                        self._buffer.do_handshake()
                except (tls.WantReadError, tls.WantWriteError):
                    pass
                except TLSError as exc:
                    raise DtlsFailure(R_DTLS, f"DTLS handshake failed: {exc}") from None
                try:
                    self._flush()
                except OSError as exc:
                    raise DtlsFailure(R_SOCKET, f"cannot send to the peer: {exc}") from None
                if self._buffer._handshake_state is over:
                    return
            if time.monotonic() >= deadline:
                raise DtlsFailure(R_DTLS, f"no DTLS handshake within {bound:g} s")
            try:
                data = self._sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            except ConnectionRefusedError:
                raise DtlsFailure(R_SOCKET, "the peer is unreachable (ICMP)") from None
            with self._lock:
                self._buffer.receive_from_network(data)

    def _flush(self) -> None:
        while True:
            out = self._buffer.peek_outgoing(65536)
            if not out:
                return
            self._sock.send(out)
            self._buffer.consume_outgoing(len(out))

    def send(self, datagram: bytes) -> None:
        with self._lock:
            self._buffer.write(datagram)
            self._flush()

    def recv(self) -> bytes | None:
        with self._lock:
            if self._pending:
                return self._pending.pop(0)
        try:
            data = self._sock.recv(65536)
        except (socket.timeout, TimeoutError, ConnectionRefusedError):
            return None
        from mbedtls.exceptions import TLSError

        records: list[bytes] = []
        with self._lock:
            self._buffer.receive_from_network(data)
            # One record per read; b"" when none is left (bounded: at most one per byte).
            for _ in range(len(data) + 1):
                try:
                    record = self._buffer.read(65536)
                except (self._tls.WantReadError, self._tls.WantWriteError):
                    break
                except TLSError as exc:
                    # A record that fails to authenticate is dropped (RFC 6347 4.1.2.7).
                    log.debug("simulator DTLS: record dropped: %s", exc)
                    break
                if not record:
                    break
                records.append(record)
            self._flush()
            self._pending.extend(records[1:])
        return records[0] if records else None

    def close(self) -> None:
        with self._lock:
            try:
                self._buffer.shutdown()
                self._flush()
            except Exception:
                pass
        self._sock.close()
