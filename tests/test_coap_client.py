"""The QCOAP* client (``modem.coap``, CoAP note ``spec/004_*``) through the simulator.

Every test drives a real ``Modem`` over the simulator's TCP port; the simulator's
CoAP clients talk UDP to a real aiocoap server (``coap_server``) or to a peer
whose datagrams the test writes byte by byte (``ScriptedPeer``), all on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lpwa.coap import Code, ContentFormat, Message, Type
from lpwa.coap.client import CoAPClient
from lpwa.errors import (
    CoAPClientOccupied,
    CoAPDNSError,
    CoAPDTLSHandshakeFailure,
    CoAPNetworkFailure,
    CoAPTimeout,
    CommandError,
    LpwaError,
    ModemBusy,
    ModuleRebooted,
    ParameterError,
    TransportError,
)
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import CoAPTestServer, SilentUdpPort, coap_bytes

# The client runs through both shells (conftest.py): the procedures are one.
SHELLS = ("sync", "aio")

FAST = 0.05  # the time_scale of conftest's simulators

# CR, LF, NUL, Ctrl-Z (ends QCOAPSEND input), Esc (cancels it) and AT-looking text.
NASTY = b"\r\nOK\r\n\x00\x1a\x1b\r\n+QCOAPRECV: 0,1,2.05,0,,0,3\r\nERROR\r\n\x00"


# -- helpers -------------------------------------------------------------------------


class ScriptedPeer:
    """A UDP "server" on 127.0.0.1: ``respond(datagram)`` gives the datagrams to
    send back; ``send()`` sends one unprompted to whoever spoke last."""

    def __init__(self, respond: Callable[[bytes], list[bytes]]) -> None:
        self._respond = respond
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.received: list[bytes] = []
        self._client: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._got = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self._sock.recvfrom(65536)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._got:
                self._client = address
                self.received.append(data)
                self._got.notify_all()
            for reply in self._respond(data):
                self._sock.sendto(reply, address)

    def wait_received(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """The first ``count`` datagrams; AssertionError if they do not come in time."""
        with self._got:
            if not self._got.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"wanted {count} datagrams, got {self.received!r}")
            return list(self.received[:count])

    def send(self, datagram: bytes) -> None:
        """Send a datagram to the module's client (it must have spoken first)."""
        assert self._client is not None, "the module has not sent anything yet"
        self._sock.sendto(datagram, self._client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


def headers_sent(sim: Simulator) -> list[tuple[int, int, bytes]]:
    """(client id, msgID, token) of every AT+QCOAPHEADER the host wrote."""
    found = re.findall(
        rb'AT\+QCOAPHEADER=(\d),(\d+),0,\d,"([0-9A-F]*)"\r', sim.transcript_bytes("in")
    )
    return [(int(cid), int(mid), bytes.fromhex(tok.decode())) for cid, mid, tok in found]


def coap_lines_sent(sim: Simulator) -> list[bytes]:
    """Every AT+QCOAP… command line the host wrote, in order."""
    return re.findall(rb"AT\+QCOAP[^\r]*", sim.transcript_bytes("in"))


def piggybacked(request: bytes, code: int, options: bytes = b"", payload: bytes = b"") -> bytes:
    """The ACK carrying a response to ``request`` (raw bytes: header, token, options)."""
    tkl = request[0] & 0x0F
    head = bytes([0x60 | tkl, code]) + request[2:4] + request[4 : 4 + tkl]
    return head + options + (b"\xff" + payload if payload else b"")


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def modem(sim: Simulator, open_shell: Callable[..., Modem]) -> Iterator[Modem]:
    with open_shell(sim.url) as m:
        yield m


@pytest.fixture
def client(modem: Modem, coap_server: CoAPTestServer) -> Iterator[CoAPClient]:
    """Client 0, open to the aiocoap server."""
    c = modem.coap.client(0)
    with c.open("127.0.0.1", coap_server.port):
        yield c


@pytest.fixture
def peers() -> Iterator[Callable[[Callable[[bytes], list[bytes]]], ScriptedPeer]]:
    made: list[ScriptedPeer] = []

    def factory(respond: Callable[[bytes], list[bytes]]) -> ScriptedPeer:
        peer = ScriptedPeer(respond)
        made.append(peer)
        return peer

    yield factory
    for peer in made:
        peer.close()


@pytest.fixture(scope="module")
def idle() -> Iterator[tuple[Simulator, Modem]]:
    """One simulator and modem shared by the tests that must send nothing (a
    refused argument leaves no state behind); client 0 is open to a silent port."""
    with contextlib.ExitStack() as stack:
        silent = SilentUdpPort()
        stack.callback(silent.close)
        sim = stack.enter_context(Simulator(time_scale=FAST))
        modem = stack.enter_context(Modem.open(sim.url))
        stack.enter_context(modem.coap.client(0).open("127.0.0.1", silent.port))
        yield sim, modem


@pytest.fixture
def unsent(idle: tuple[Simulator, Modem]) -> Iterator[Modem]:
    """The shared modem; the test fails if anything was written to the module:
    the channel's trace sees every write as it happens, the simulator's
    transcript every byte that arrived."""
    sim, modem = idle
    written: list[bytes] = []
    modem.channel.on_trace = lambda way, kind, data: written.append(data) if way == ">" else None
    before = sim.transcript_bytes("in")
    try:
        yield modem
    finally:
        modem.channel.on_trace = None
    assert written == [], "bytes were written to the module"
    assert sim.transcript_bytes("in") == before, "bytes reached the module"


CON_NON = pytest.mark.parametrize("confirmable", [True, False], ids=["CON", "NON"])


def expected_type(confirmable: bool) -> Type:
    # A CON request is answered piggybacked on the ACK; aiocoap answers a NON with a NON.
    return Type.ACK if confirmable else Type.NON


# -- the four methods, CON and NON --------------------------------------------------------


@CON_NON
def test_get_returns_the_content_with_our_token(
    client: CoAPClient, sim: Simulator, confirmable: bool
) -> None:
    response = client.get("hello", confirmable=confirmable, token=b"\x01\x02\xfe\xff")

    assert response.code == Code.CONTENT
    assert response.type == expected_type(confirmable)
    assert response.token == b"\x01\x02\xfe\xff"
    assert response.payload == b"Hello, CoAP!"
    assert response.options == ()
    assert headers_sent(sim)[-1][2] == b"\x01\x02\xfe\xff"


@CON_NON
def test_post_returns_changed_with_the_echoed_payload(
    client: CoAPClient, sim: Simulator, confirmable: bool
) -> None:
    response = client.post(
        "echo", "posted text", confirmable=confirmable, content_format=ContentFormat.TEXT_PLAIN
    )

    _, mid, token = headers_sent(sim)[-1]
    assert response.code == Code.CHANGED
    assert response.type == expected_type(confirmable)
    assert response.token == token and len(token) == 4  # the random token we chose
    if confirmable:
        assert response.mid == mid  # piggybacked on the ACK of our message ID
    assert response.payload == b"posted text"


@CON_NON
def test_put_returns_created_with_the_echoed_payload(
    client: CoAPClient, sim: Simulator, confirmable: bool
) -> None:
    response = client.put("echo", b"\x00put\xff", confirmable=confirmable)

    assert response.code == Code.CREATED
    assert response.type == expected_type(confirmable)
    assert response.token == headers_sent(sim)[-1][2]
    assert response.payload == b"\x00put\xff"


@CON_NON
def test_delete_returns_deleted_without_payload(
    client: CoAPClient, sim: Simulator, confirmable: bool
) -> None:
    response = client.delete("item", confirmable=confirmable)

    assert response.code == Code.DELETED
    assert response.type == expected_type(confirmable)
    assert response.token == headers_sent(sim)[-1][2]
    assert response.payload == b""


def test_request_sends_header_options_and_send_lines_per_the_note(
    client: CoAPClient, sim: Simulator
) -> None:
    client.request(
        Code.PUT,
        ["echo"],
        b"abc",
        query=["a=1", "b=2"],
        content_format=0,
        accept=50,
        token=b"\xab\xcd",
        mid=4660,
    )

    # Options in number order at indexes 0-4, bitmask 0b11111; CON (0), PUT (3), 3 bytes.
    assert coap_lines_sent(sim)[-7:] == [
        b'AT+QCOAPHEADER=0,4660,0,2,"ABCD"',
        b'AT+QCOAPOPTION=0,0,0,11,"echo"',
        b"AT+QCOAPOPTION=0,0,1,12,0",
        b'AT+QCOAPOPTION=0,0,2,15,"a=1"',
        b'AT+QCOAPOPTION=0,0,3,15,"b=2"',
        b"AT+QCOAPOPTION=0,0,4,17,50",
        b"AT+QCOAPSEND=0,0,3,31,3",
    ]


def test_response_options_arrive_as_the_server_sent_them(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    # ETag 0xC0FFEE, Location-Path "new", Content-Format 50 (JSON), Max-Age 60.
    options = b"\x43\xc0\xff\xee" + b"\x43new" + b"\x41\x32" + b"\x21\x3c"
    peer = peers(lambda req: [piggybacked(req, 0x41, options, b"{}")])
    client = modem.coap.client(0)
    with client.open("127.0.0.1", peer.port):
        response = client.post("things", b"{}", content_format=ContentFormat.JSON)

    assert response.code == Code.CREATED
    assert response.options == ((4, b"\xc0\xff\xee"), (8, b"new"), (12, b"\x32"), (14, b"\x3c"))
    assert response.content_format == 50
    assert response.payload == b"{}"


def test_opaque_empty_uint_and_string_options_reach_the_server_as_raw_bytes(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [piggybacked(req, 0x45)])
    client = modem.coap.client(0)
    with client.open("127.0.0.1", peer.port):
        client.get(
            ["a,b", "", "x"],
            token=b"\x01",
            mid=1,
            options=[(1, b"\x00\x01"), (4, b"\xab"), (5, b""), (7, 5683), (14, 0)],
        )

    assert peer.wait_received(1) == [
        b"\x41\x01\x00\x01\x01"  # CON GET mid 1, token 01
        b"\x12\x00\x01"  # If-Match 0001
        b"\x31\xab"  # ETag AB
        b"\x10"  # If-None-Match
        b"\x22\x16\x33"  # Uri-Port 5683
        b"\x43a,b\x00\x01x"  # Uri-Path "a,b", "", "x"
        b"\x30"  # Max-Age 0
    ]


def test_first_block_of_a_large_response_is_returned_only_when_asked(
    client: CoAPClient,
) -> None:
    response = client.get("bytes", query="n=1500", allow_partial=True)

    assert response.code == Code.CONTENT
    assert response.complete is False
    assert response.block2 is not None
    assert (response.block2.num, response.block2.more, response.block2.size) == (0, True, 1024)
    assert response.payload == coap_bytes(1500)[:1024]


# -- error answers are Messages ------------------------------------------------------------


def test_not_found_comes_back_as_a_message(client: CoAPClient) -> None:
    response = client.get("no/such/thing")

    assert response.code == Code.NOT_FOUND
    assert str(response.code) == "4.04"


def test_internal_server_error_comes_back_as_a_message(client: CoAPClient) -> None:
    response = client.post("fail", b"x")

    assert response.code == Code.INTERNAL_SERVER_ERROR
    assert response.payload == b"boom"


# -- binary payloads -----------------------------------------------------------------------


@CON_NON
def test_payload_with_line_ends_nul_ctrl_z_and_esc_round_trips(
    client: CoAPClient, confirmable: bool
) -> None:
    response = client.post("echo", NASTY, confirmable=confirmable)

    assert response.payload == NASTY


def test_downlink_payload_with_cr_lf_nul_arrives_intact(client: CoAPClient) -> None:
    response = client.get("bytes", query="n=1000")

    assert response.payload == coap_bytes(1000)
    assert all(byte in response.payload for byte in b"\r\n\x00")


def test_empty_payload_response_is_framed(client: CoAPClient) -> None:
    assert client.delete("item").payload == b""
    assert client.get("hello").payload == b"Hello, CoAP!"  # the stream is still in step


# -- the 1024-byte payload limit -----------------------------------------------------------


def test_payload_of_1024_bytes_is_sent_whole(client: CoAPClient, sim: Simulator) -> None:
    payload = bytes(range(256)) * 4

    response = client.put("echo", payload)

    assert coap_lines_sent(sim)[-1].endswith(b",1024")
    assert response.payload == payload


def test_payload_of_1025_bytes_is_refused_before_anything_is_sent(unsent: Modem) -> None:
    with pytest.raises(ParameterError, match="1024"):
        unsent.coap.client(0).post("echo", b"x" * 1025)


# -- argument checks before sending ----------------------------------------------------------


def test_more_than_8_options_are_refused_before_sending(unsent: Modem) -> None:
    with pytest.raises(ParameterError, match="at most 8"):
        unsent.coap.client(0).get("a/b/c/d/e/f/g", query="x=1&y=2")


@pytest.mark.parametrize(
    ("number", "value"),
    [(6, 0), (23, b"\x06"), (2, b"x"), (258, 2)],
    ids=["Observe", "Block2", "2", "No-Response"],
)
def test_option_not_in_table_2_is_refused_before_sending(
    unsent: Modem, number: int, value: bytes | int
) -> None:
    with pytest.raises(ParameterError, match="not one the module takes"):
        unsent.coap.client(0).get("hello", options=[(number, value)])


@pytest.mark.parametrize(
    "kw",
    [
        {"path": ["x" * 256]},
        {"query": "q=" + "x" * 254},
        {"options": [(4, b"123456789")]},  # ETag: 1-8 bytes
        {"options": [(4, b"")]},
        {"options": [(14, 1 << 32)]},  # Max-Age: 0-4 bytes
        {"options": [(3, "")]},  # Uri-Host: 1-255 bytes
        {"options": [(11, 'say "hi"')]},  # no quotes inside an AT string
        {"options": [(11, b"\xff")]},  # a string option must be UTF-8
        {"path": ["caf\u00e9"]},  # an AT command line is ASCII
        {"path": ["a\x1ab"]},  # no control characters in a command line
        {"options": [(11, 1.5)]},
        {"token": b"123456789"},
        {"mid": 65536},
        {"code": 256},
    ],
    ids=[
        "uri-path-256",
        "uri-query-256",
        "etag-9",
        "etag-0",
        "max-age-5",
        "uri-host-0",
        "quote",
        "not-utf8",
        "not-ascii",
        "ctrl-z",
        "float",
        "token-9",
        "mid",
        "code",
    ],
)
def test_value_out_of_range_is_refused_before_sending(unsent: Modem, kw: dict[str, Any]) -> None:
    path = kw.pop("path", "hello")
    code = kw.pop("code", Code.GET)

    with pytest.raises(ParameterError):
        unsent.coap.client(0).request(code, path, **kw)


@pytest.mark.parametrize(
    "kw",
    [
        {"ack_timeout": 1},
        {"ack_timeout": 61},
        {"retries": 3},
        {"retries": 9},
        {"pdpcid": 0},
        {"pdpcid": 17},
        {"dtls": True, "dtls_context": 6},
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_configure_out_of_range_is_refused_before_sending(
    unsent: Modem, kw: dict[str, Any]
) -> None:
    with pytest.raises(ParameterError):
        unsent.coap.client(0).configure(**kw)


def test_configure_sets_pdpcid_trans_and_dtls_in_the_module(modem: Modem, sim: Simulator) -> None:
    modem.coap.client(2).configure(pdpcid=3, ack_timeout=60, retries=8, dtls=False, dtls_context=4)

    slot = sim.module.coap.slots[2]
    assert (slot.pdp_cid, slot.timeout, slot.retry_count) == (3, 60, 8)
    assert (slot.dtls_enable, slot.dtls_ctx) == (0, 4)
    assert coap_lines_sent(sim)[-3:] == [
        b'AT+QCOAPCFG="pdpcid",2,3',
        b'AT+QCOAPCFG="trans",2,60,8',
        b'AT+QCOAPCFG="dtls",2,0,4',
    ]


@pytest.mark.parametrize("client_id", [-1, 6])
def test_client_id_outside_0_to_5_is_refused(unsent: Modem, client_id: int) -> None:
    with pytest.raises(ParameterError, match="0-5"):
        unsent.coap.client(client_id)


def test_request_on_a_client_that_is_not_open_is_refused(unsent: Modem) -> None:
    with pytest.raises(LpwaError, match="not open"):
        unsent.coap.client(1).get("hello")


# -- a lost server ---------------------------------------------------------------------------


def test_con_to_a_silent_server_reports_retransmissions_then_times_out(
    modem: Modem, silent_udp_port: int
) -> None:
    client = modem.coap.client(0)
    client.configure(ack_timeout=2, retries=4)  # 2 s * (1+2+4+8+16), scaled by 0.05: 3.1 s
    unanswered = pytest.raises(CoAPTimeout, match="4 retransmissions")
    with client.open("127.0.0.1", silent_udp_port), unanswered:
        client.post("lost", b"anyone?", token=b"\x42")

    assert [r.retry_times for r in client.retransmissions] == [1, 2, 3, 4]
    mid = client.retransmissions[0].mid
    assert all(
        (r.client_id, r.type, r.mid, r.result) == (0, Type.CON, mid, 0)
        for r in client.retransmissions
    )


def test_con_to_a_silent_server_resends_the_same_datagram(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [])
    client = modem.coap.client(0)
    client.configure(ack_timeout=2, retries=4)
    with client.open("127.0.0.1", peer.port), pytest.raises(CoAPTimeout):
        client.get("lost", token=b"\x42", mid=0x1234)

    datagrams = peer.wait_received(5)
    assert datagrams == [b"\x41\x01\x12\x34\x42\xb4lost"] * 5


def test_non_to_a_silent_server_times_out_after_the_given_time(
    modem: Modem, silent_udp_port: int
) -> None:
    client = modem.coap.client(0)
    with client.open("127.0.0.1", silent_udp_port):
        started = time.monotonic()
        with pytest.raises(CoAPTimeout, match=r"0\.5 s"):
            client.get("lost", confirmable=False, timeout=0.5)
        assert time.monotonic() - started < 3

    assert client.retransmissions == []


def test_con_answered_with_reset_raises_send_failure(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    from lpwa.errors import CoAPSendFailure

    peer = peers(lambda req: [b"\x70\x00" + req[2:4]])  # RST, same message ID
    client = modem.coap.client(0)
    with client.open("127.0.0.1", peer.port), pytest.raises(CoAPSendFailure) as info:
        client.get("reset-me")

    assert info.value.result == -11


def test_reboot_during_a_request_raises_module_rebooted(
    modem: Modem, sim: Simulator, silent_udp_port: int
) -> None:
    client = modem.coap.client(0).open("127.0.0.1", silent_udp_port)
    threading.Timer(0.2, sim.reboot).start()

    with pytest.raises(ModuleRebooted):
        client.get("x", confirmable=False, timeout=10)


def test_client_closed_by_a_reboot_says_so_and_opens_again(
    modem: Modem, sim: Simulator, coap_server: CoAPTestServer
) -> None:
    client = modem.coap.client(0).open("127.0.0.1", coap_server.port)
    sim.reboot()
    assert sim.wait_booted(5)

    with pytest.raises(LpwaError, match="not open \\(the module rebooted\\)"):
        client.get("hello")
    client.close()  # nothing left to close: no AT+QCOAPCLOSE, no error
    assert b"AT+QCOAPCLOSE" not in sim.transcript_bytes("in")
    with client.open("127.0.0.1", coap_server.port):
        assert client.get("hello").payload == b"Hello, CoAP!"


def test_link_lost_during_a_request_raises_transport_error(
    make_sim: Callable[..., Simulator], silent_udp_port: int
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        client = modem.coap.client(0).open("127.0.0.1", silent_udp_port)
        threading.Timer(0.2, sim.close).start()

        with pytest.raises(TransportError):
            client.get("x", confirmable=False, timeout=10)


# -- several clients --------------------------------------------------------------------------


def test_two_clients_each_get_only_their_own_answers(
    modem: Modem, coap_server: CoAPTestServer, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [piggybacked(req, 0x45, b"", b"from the peer")])
    first, second = modem.coap.client(0), modem.coap.client(1)
    strays: list[Message] = []
    first.on_message = second.on_message = strays.append
    with first.open("127.0.0.1", coap_server.port), second.open("127.0.0.1", peer.port):
        assert first.get("hello").payload == b"Hello, CoAP!"
        assert second.get("anything").payload == b"from the peer"
        assert first.post("echo", b"one").payload == b"one"
        assert second.get("anything").payload == b"from the peer"

    assert strays == []
    assert first.incoming.empty() and second.incoming.empty()


def test_requests_from_two_threads_on_two_clients_interleave(
    modem: Modem, coap_server: CoAPTestServer
) -> None:
    clients = [modem.coap.client(0), modem.coap.client(1)]
    results: dict[int, list[tuple[bytes, bytes, bytes]]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def run(c: CoAPClient) -> None:
        try:
            for i in range(10):
                token = bytes([c.client_id, i])
                body = f"client {c.client_id} request {i}".encode()
                response = c.post("echo", body, token=token, confirmable=i % 2 == 0)
                results[c.client_id].append((token, response.token, response.payload))
        except BaseException as exc:
            errors.append(exc)

    for c in clients:
        c.open("127.0.0.1", coap_server.port)
    try:
        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        for c in clients:
            c.close()

    assert errors == []
    for cid in (0, 1):
        assert len(results[cid]) == 10
        for i, (sent, got, payload) in enumerate(results[cid]):
            assert got == sent
            assert payload == f"client {cid} request {i}".encode()


def test_requests_from_two_threads_on_one_client_are_serialised(client: CoAPClient) -> None:
    answers: list[bytes] = []
    errors: list[BaseException] = []

    def run(tag: str) -> None:
        try:
            for i in range(5):
                answers.append(client.post("echo", f"{tag}{i}").payload)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(tag,)) for tag in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sorted(answers) == sorted(f"{t}{i}".encode() for t in "ab" for i in range(5))


# -- separate responses and notifications ---------------------------------------------------


def test_separate_response_answers_the_request(client: CoAPClient, sim: Simulator) -> None:
    response = client.get("separate", token=b"\x5e\xba")

    assert response.code == Code.CONTENT
    assert response.token == b"\x5e\xba"
    assert response.payload == b"late"
    assert response.mid != headers_sent(sim)[-1][1]  # not on the ACK: the server's own CON
    assert client.incoming.empty()


def test_separate_response_after_the_request_gave_up_goes_to_incoming(
    client: CoAPClient,
) -> None:
    handled: list[Message] = []
    client.on_message = handled.append

    with pytest.raises(CoAPTimeout):
        client.get("separate", token=b"\x1a\x7e", timeout=0.2)
    late = client.incoming.get(timeout=5)

    assert (late.code, late.token, late.payload) == (Code.CONTENT, b"\x1a\x7e", b"late")
    assert handled == [late]


def test_notification_with_no_request_in_flight_goes_to_incoming_and_on_message(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [piggybacked(req, 0x45, b"\x61\x05", b"22.5")])  # Observe 5
    client = modem.coap.client(0)
    handled: list[Message] = []
    seen = threading.Event()
    client.on_message = lambda m: (handled.append(m), seen.set())
    with client.open("127.0.0.1", peer.port):
        first = client.get("temp", token=b"\x0b\x5e")
        # NON 2.05, mid 0x0777, token 0B5E, Observe 6, Content-Format 0, "23.0".
        peer.send(b"\x52\x45\x07\x77\x0b\x5e\x61\x06\x60\xff23.0")
        notification = client.incoming.get(timeout=5)
        assert seen.wait(5)

    assert first.observe == 5 and first.payload == b"22.5"
    assert notification.mid == 0x0777
    assert notification.token == b"\x0b\x5e"
    assert notification.options == ((6, b"\x06"), (12, b""))
    assert notification.observe == 6 and notification.content_format == 0
    assert notification.payload == b"23.0"
    assert handled == [notification]


@pytest.mark.sync_only  # a callback on the loop cannot block at all
def test_request_from_inside_on_message_is_refused_not_hung(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [piggybacked(req, 0x45)])
    client = modem.coap.client(0)
    outcome: list[BaseException | Message] = []
    done = threading.Event()

    def handler(message: Message) -> None:
        try:
            outcome.append(client.get("again", timeout=30))
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    client.on_message = handler
    with client.open("127.0.0.1", peer.port):
        client.get("temp", token=b"\x0b")
        peer.send(b"\x51\x45\x07\x77\x0b\xff1")  # NON 2.05, token 0B: a notification
        assert done.wait(5)

    # The sync shell refuses any procedure on its URC callback thread.
    assert len(outcome) == 1 and isinstance(outcome[0], ModemBusy)
    assert "callback thread" in str(outcome[0])


def test_confirmable_notification_is_acknowledged_and_delivered_once(
    modem: Modem, peers: Callable[..., ScriptedPeer]
) -> None:
    peer = peers(lambda req: [piggybacked(req, 0x45, b"", b"0")] if req[0] & 0x30 == 0 else [])
    client = modem.coap.client(0)
    with client.open("127.0.0.1", peer.port):
        client.get("temp", token=b"\x0b")
        notification = b"\x41\x45\x08\x88\x0b\xff1"  # CON 2.05 mid 0x0888 token 0B "1"
        peer.send(notification)
        peer.send(notification)  # a retransmission: acknowledged again, not reported again
        acks = peer.wait_received(3)[1:]
        received = client.incoming.get(timeout=5)
        time.sleep(0.2)

    assert acks == [b"\x60\x00\x08\x88"] * 2
    assert (received.mid, received.payload) == (0x0888, b"1")
    assert client.incoming.empty()


# -- open / close -----------------------------------------------------------------------------


def test_open_of_an_unknown_name_raises_dns_error(modem: Modem) -> None:
    client = modem.coap.client(0)

    with pytest.raises(CoAPDNSError) as info:
        client.open("coap.invalid.example", 5683)

    assert info.value.result == -5


def test_open_resolves_names_from_the_module_hosts(
    make_sim: Callable[..., Simulator], coap_server: CoAPTestServer
) -> None:
    sim = make_sim(hosts={"coap.example.test": "127.0.0.1"})
    with Modem.open(sim.url) as modem:
        client = modem.coap.client(0).open("coap.example.test", coap_server.port)
        assert client.get("hello").payload == b"Hello, CoAP!"
        client.close()


def test_open_without_network_registration_raises_network_failure(
    modem: Modem, sim: Simulator, coap_server: CoAPTestServer
) -> None:
    sim.registered = False

    with pytest.raises(CoAPNetworkFailure) as info:
        modem.coap.client(0).open("127.0.0.1", coap_server.port)

    assert info.value.result == -4


@pytest.mark.parametrize(("host", "port"), [("", 5683), ("x" * 256, 5683), ("h", 0), ("h", 65536)])
def test_open_arguments_are_checked_before_sending(unsent: Modem, host: str, port: int) -> None:
    with pytest.raises(ParameterError):
        unsent.coap.client(1).open(host, port)


def test_second_open_raises_occupied_and_keeps_the_session(
    client: CoAPClient, coap_server: CoAPTestServer
) -> None:
    with pytest.raises(CoAPClientOccupied) as info:
        client.open("127.0.0.1", coap_server.port)

    assert info.value.result == -10
    assert client.get("hello").payload == b"Hello, CoAP!"


def test_context_manager_closes_the_session(
    modem: Modem, sim: Simulator, coap_server: CoAPTestServer
) -> None:
    with modem.coap.client(3).open("127.0.0.1", coap_server.port) as client:
        assert sim.module.coap.slots[3].session is not None

    assert sim.module.coap.slots[3].session is None
    assert coap_lines_sent(sim)[-1] == b"AT+QCOAPCLOSE=3"
    with pytest.raises(LpwaError, match="not open"):
        client.get("hello")


def test_client_can_be_opened_again_after_close(modem: Modem, coap_server: CoAPTestServer) -> None:
    client = modem.coap.client(0)
    for _ in range(2):
        client.open("127.0.0.1", coap_server.port)
        assert client.get("hello").code == Code.CONTENT
        client.close()


def test_close_of_a_client_that_is_not_open_is_an_error(modem: Modem) -> None:
    with pytest.raises(CommandError):
        modem.coap.client(4).close()


# -- DTLS ---------------------------------------------------------------------------------------


def test_use_psk_uploads_the_psk_file_and_enables_dtls(modem: Modem, sim: Simulator) -> None:
    # The secret "12344FG89" goes into the file as hex: the note's example content.
    modem.coap.client(0).use_psk("864508030012428", "12344FG89", dtls_context=2)

    assert sim.ufs.read("2_server.psk") == b"864508030012428&313233343446473839"
    ssl = sim.module.ssl.contexts[2]
    assert (ssl.dtls, ssl.dtlsversion) == (1, 1)
    slot = sim.module.coap.slots[0]
    assert (slot.dtls_enable, slot.dtls_ctx) == (1, 2)
    assert coap_lines_sent(sim)[-1] == b'AT+QCOAPCFG="dtls",0,1,2'


@pytest.mark.parametrize(("identity", "key"), [("", "k"), ("id", ""), ("a&b", "k")])
def test_use_psk_refuses_an_unusable_identity_or_key(
    unsent: Modem, identity: str, key: str
) -> None:
    with pytest.raises(ParameterError):
        unsent.coap.client(1).use_psk(identity, key)


def test_open_with_dtls_to_a_plain_coap_server_raises_dtls_handshake_failure(
    modem: Modem, coap_server: CoAPTestServer
) -> None:
    client = modem.coap.client(0)
    client.use_psk("id", "key")

    with pytest.raises(CoAPDTLSHandshakeFailure) as info:
        client.open("127.0.0.1", coap_server.port)

    assert info.value.result == -9


# -- the note's example 5.1 -----------------------------------------------------------------------


def test_note_example_5_1_session(
    make_sim: Callable[..., Simulator], peers: Callable[..., ScriptedPeer]
) -> None:
    # The server of the example answers the NON POST with a NON 4.04 "Not Found".
    def not_found(req: bytes) -> list[bytes]:
        return [b"\x56\x84" + req[2:4] + req[4:10] + b"\xffNot Found"]

    peer = peers(not_found)
    sim = make_sim(coap_ack_prefix="+COAPACK")  # as the note's examples print it
    with Modem.open(sim.url) as modem:
        client = modem.coap.client(0)
        client.configure(pdpcid=1, ack_timeout=4, retries=5)
        with client.open("127.0.0.1", peer.port):
            response = client.post(
                "19",
                "Hello, CoAP Message!",
                confirmable=False,
                content_format=ContentFormat.LINK_FORMAT,
                mid=1234,
                token=bytes.fromhex("D204D52E814B"),
            )

    assert coap_lines_sent(sim) == [
        b'AT+QCOAPCFG="pdpcid",0,1',
        b'AT+QCOAPCFG="trans",0,4,5',
        b'AT+QCOAPOPEN=0,"127.0.0.1",' + str(peer.port).encode(),
        b'AT+QCOAPHEADER=0,1234,0,6,"D204D52E814B"',
        b'AT+QCOAPOPTION=0,0,0,11,"19"',
        b"AT+QCOAPOPTION=0,0,1,12,40",
        b"AT+QCOAPSEND=0,1,2,3,20",
        b"AT+QCOAPCLOSE=0",
    ]
    out = sim.transcript_bytes("out")
    assert b"\r\n+COAPACK: 0,1,1234,0\r\n" in out
    assert b"\r\n+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9\r\nNot Found" in out
    assert peer.received == [
        b"\x56\x02\x04\xd2\xd2\x04\xd5\x2e\x81\x4b\xb219\x11\x28\xffHello, CoAP Message!"
    ]
    assert (response.type, response.mid, response.code, response.token, response.payload) == (
        Type.NON,
        1234,
        Code.NOT_FOUND,
        bytes.fromhex("D204D52E814B"),
        b"Not Found",
    )
