"""CoAP behaviour beyond the happy path: a block-wise resource is never returned as
complete, pings, unrecognised critical options, the CLI's URI handling, the
simulator refusing what the module refuses, and caller mistakes refused before
anything is sent. Real parts: aiocoap on 127.0.0.1, the simulator over TCP, the
``lpwa`` command in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lpwa.coap import Code
from lpwa.coap.client import CoAPClient, split_uri
from lpwa.errors import (
    CoAPBadOption,
    CoAPIncomplete,
    CoAPTimeout,
    ParameterError,
    ParameterTypeError,
    ProtocolError,
)
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import CoAPTestServer, SilentUdpPort, UdpPeer, coap_bytes

# The client runs through both shells (conftest.py): the procedures are one.
SHELLS = ("sync", "aio")


@pytest.fixture
def modem(sim: Simulator, open_shell: Callable[..., Modem]) -> Iterator[Modem]:
    with open_shell(sim.url) as m:
        yield m


@pytest.fixture
def client(modem: Modem, coap_server: CoAPTestServer) -> Iterator[CoAPClient]:
    c = modem.coap.client(0)
    with c.open("127.0.0.1", coap_server.port):
        yield c


def piggybacked(request: bytes, code: int, options: bytes = b"", payload: bytes = b"") -> bytes:
    tkl = request[0] & 0x0F
    head = bytes([0x60 | tkl, code]) + request[2:4] + request[4 : 4 + tkl]
    return head + options + (b"\xff" + payload if payload else b"")


@pytest.fixture
def peer() -> Iterator[Callable[[Callable[[bytes], bytes | None]], UdpPeer]]:
    made: list[UdpPeer] = []

    def factory(respond: Callable[[bytes], bytes | None]) -> UdpPeer:
        made.append(UdpPeer(respond))
        return made[-1]

    yield factory
    for p in made:
        p.close()


def coap_get(url: str) -> subprocess.CompletedProcess[bytes]:
    """``lpwa coap get --port sim URL`` to completion (bounded)."""
    command = [sys.executable, "-m", "lpwa.cli", "coap", "get", "--port", "sim", url]
    return subprocess.run(command, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


# -- Block2: never a partial resource as complete ----------------------------------------


def test_first_block_of_a_5000_byte_resource_raises_incomplete(client: CoAPClient) -> None:
    with pytest.raises(CoAPIncomplete) as info:
        client.get("big")

    error = info.value
    assert error.received == 1024
    assert error.message.payload == coap_bytes(5000)[:1024]
    assert error.message.block2.more is True
    assert "cannot request further blocks" in str(error)
    assert client.get("hello").payload == b"Hello, CoAP!"  # the client is still usable


def test_partial_result_when_asked_is_marked_incomplete(client: CoAPClient) -> None:
    response = client.get("big", allow_partial=True)

    assert response.complete is False
    assert response.payload == coap_bytes(5000)[:1024]
    assert client.get("hello", allow_partial=True).complete is True


def test_size2_is_carried_by_the_incomplete_error(
    modem: Modem, peer: Callable[..., UdpPeer]
) -> None:
    # Block2 NUM 0 M=1 SZX 2 (64 bytes), Size2 200: option 23 then 28 (delta 5).
    options = b"\xd1\x0a\x0a" + b"\x51\xc8"
    server = peer(lambda req: piggybacked(req, 0x45, options, b"x" * 64))
    c = modem.coap.client(0)
    with c.open("127.0.0.1", server.port), pytest.raises(CoAPIncomplete) as info:
        c.get("sized")

    assert (info.value.size2, info.value.received) == (200, 64)
    assert "64 bytes of 200" in str(info.value)


def test_cli_exits_non_zero_with_one_line_on_an_incomplete_resource(
    coap_server: CoAPTestServer,
) -> None:
    result = coap_get(f"coap://127.0.0.1:{coap_server.port}/big")

    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    assert "CoAPIncomplete" in lines[0] and "1024 bytes" in lines[0]
    assert result.stdout == b""


# -- the CLI's URI: path segments and query arguments (RFC 7252 6.4) ------------------------


def test_cli_splits_the_query_into_uri_query_options(coap_server: CoAPTestServer) -> None:
    result = coap_get(f"coap://127.0.0.1:{coap_server.port}/bytes?x=1&n=%32%30")

    assert result.returncode == 0, result.stderr
    assert result.stdout == coap_bytes(20)  # n=20 reached the server as its own option


def test_split_uri_percent_decodes_each_part() -> None:
    assert split_uri("/a%20b/c%2Fd/", "x=1&y=%26") == (["a b", "c/d", ""], ["x=1", "y=&"])
    assert split_uri("", "") == ([], [])
    with pytest.raises(ParameterError):
        split_uri("/%ff", "")


# -- ping and critical options ------------------------------------------------------------


def test_ping_answered_by_reset_is_success(client: CoAPClient, sim: Simulator) -> None:
    client.ping()

    assert b"AT+QCOAPSEND=0,0,0,0,0\r" in sim.transcript_bytes("in")
    assert client.retransmissions == []


def test_ping_to_a_silent_server_times_out(modem: Modem) -> None:
    silent = SilentUdpPort()
    c = modem.coap.client(0)
    c.configure(ack_timeout=2, retries=4)
    try:
        with c.open("127.0.0.1", silent.port), pytest.raises(CoAPTimeout):
            c.ping()
    finally:
        silent.close()
    assert len(c.retransmissions) == 4


def test_response_with_an_unrecognised_critical_option_is_rejected(
    modem: Modem, peer: Callable[..., UdpPeer]
) -> None:
    # Option 65001 (odd: critical; unassigned): delta 13+... extended 2-byte form.
    number = 65001
    options = bytes([0xE1]) + (number - 269).to_bytes(2, "big") + b"\x07"
    server = peer(lambda req: piggybacked(req, 0x45, options, b"secret"))
    c = modem.coap.client(0)
    with c.open("127.0.0.1", server.port), pytest.raises(CoAPBadOption) as info:
        c.get("x")

    assert info.value.numbers == [number]
    assert info.value.message.payload == b"secret"


def test_unrecognised_elective_option_is_accepted(
    modem: Modem, peer: Callable[..., UdpPeer]
) -> None:
    options = bytes([0xE1]) + (65000 - 269).to_bytes(2, "big") + b"\x07"  # even: elective
    server = peer(lambda req: piggybacked(req, 0x45, options, b"fine"))
    c = modem.coap.client(0)
    with c.open("127.0.0.1", server.port):
        response = c.get("x")

    assert response.payload == b"fine"
    assert response.options == ((65000, b"\x07"),)


# -- the simulator refuses what the module refuses -----------------------------------------

TEST_FORMS = [
    (
        b"AT+QCOAPCFG=?",
        b'\r\n+QCOAPCFG: "pdpcid",(0-5),(1-16)\r\n+QCOAPCFG: "dtls",(0-5),(0,1),(0-5)\r\n'
        b'+QCOAPCFG: "trans",(0-5),(2-60),(4-8)\r\n\r\nOK\r\n',  # BG95 capture C16
    ),
    (b"AT+QCOAPOPEN=?", b"\r\n+QCOAPOPEN: (0-5),<CoAP_server>,(1-65535)\r\n\r\nOK\r\n"),
    (b"AT+QCOAPCLOSE=?", b"\r\n+QCOAPCLOSE: (0-5)\r\n\r\nOK\r\n"),
    (b"AT+QCOAPHEADER=?", b"\r\n+QCOAPHEADER: (0-5),(0-65535),(0,1),(0-8),<token>\r\n\r\nOK\r\n"),
    (
        b"AT+QCOAPOPTION=?",
        b"\r\n+QCOAPOPTION: (0-5),(0,1),(0-7),<opt_number>,<opt_value>\r\n\r\nOK\r\n",
    ),
    (
        b"AT+QCOAPSEND=?",
        b"\r\n+QCOAPSEND: (0-5),(0-3),<code_value>,<opt_bitmask>,(0-1024)\r\n\r\nOK\r\n",
    ),
]


@pytest.mark.parametrize(("command", "answer"), TEST_FORMS, ids=[c for c, _ in TEST_FORMS])
def test_every_qcoap_test_form(sim: Simulator, at: Any, command: bytes, answer: bytes) -> None:
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()

    assert client.command(command) == answer


@pytest.mark.parametrize(
    "command",
    [
        b"AT+QCOAPSEND=0,0,5,0,0",  # 0.05 FETCH: not in Table 3
        b"AT+QCOAPSEND=0,0,95,0,0",  # 2.31 Continue: not in Table 3
        b"AT+QCOAPSEND=0,0,135,0,0",  # 4.07: not in Table 3
        b'AT+QCOAPOPTION=0,0,0,5,"x"',  # If-None-Match carries nothing
        b'AT+QCOAPOPTION=0,0,0,12,"40"',  # a uint is never quoted
        b'AT+QCOAPOPTION=0,0,0,7,"5683"',
        b'AT+QCOAPHEADER=0,"1",1',
        b'AT+QCOAPCFG="dtls",0,1',  # both values or neither
        b'AT+QCOAPCFG="trans",0,4',
        b'AT+QCOAPCFG="trans",0,"4",5',
    ],
)
def test_simulator_refuses_what_the_note_does_not_allow(
    sim: Simulator, at: Any, silent_udp_port: int, command: bytes
) -> None:
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    client.send(f'AT+QCOAPOPEN=0,"127.0.0.1",{silent_udp_port}\r'.encode())
    client.expect(b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n")

    assert client.command(command) == b"\r\nERROR\r\n"


# -- caller mistakes: refused before anything is sent (issue 10 item 13) ---------------------


@pytest.fixture(scope="module")
def idle() -> Iterator[tuple[Simulator, Modem]]:
    silent = SilentUdpPort()
    try:
        with Simulator(time_scale=0.05) as sim, Modem.open(sim.url) as modem:
            modem.coap.client(0).open("127.0.0.1", silent.port)
            yield sim, modem
    finally:
        silent.close()


@pytest.fixture
def unsent(idle: tuple[Simulator, Modem]) -> Iterator[Modem]:
    sim, modem = idle
    before = sim.transcript_bytes("in")
    yield modem
    assert sim.transcript_bytes("in") == before, "bytes reached the module"


REQUEST_MISTAKES = {
    "str-token": {"token": "abcd"},
    "bool-mid": {"mid": True},
    "str-mid": {"mid": "7"},
    "bool-content-format": {"content_format": True},
    "str-accept": {"accept": "50"},
    "int-payload": {"payload": 123},
    "none-payload": {"payload": None},
    "bool-code": {"code": True},
    "str-code": {"code": "GET"},
    "code-not-in-table-3": {"code": 5},
    "empty-code": {"code": 0},
    "str-confirmable": {"confirmable": "no"},
    "negative-timeout": {"timeout": -1},
    "bool-timeout": {"timeout": True},
    "nan-timeout": {"timeout": float("nan")},
    "bytes-path": {"path": b"hello"},
    "int-query": {"query": 1},
    "bool-option-value": {"options": [(14, True)]},
    "negative-option-value": {"options": [(14, -1)]},
    "str-option-number": {"options": [("14", 1)]},
    "option-not-a-pair": {"options": [(14,)]},
    "options-str": {"options": "14"},
}


@pytest.mark.parametrize("kw", REQUEST_MISTAKES.values(), ids=REQUEST_MISTAKES.keys())
def test_request_mistakes_raise_parameter_error_before_sending(
    unsent: Modem, kw: dict[str, Any]
) -> None:
    args = {"code": Code.GET, "path": "hello", "payload": b""}
    args.update(kw)
    code, path, payload = args.pop("code"), args.pop("path"), args.pop("payload")

    with pytest.raises(ParameterError):
        unsent.coap.client(0).request(code, path, payload, **args)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.coap.client("0"),
        lambda m: m.coap.client(True),
        lambda m: m.coap.client(1).open("127.0.0.1", "5683"),
        lambda m: m.coap.client(1).open("127.0.0.1", True),
        lambda m: m.coap.client(1).open(b"127.0.0.1", 5683),
        lambda m: m.coap.client(1).open(None, 5683),
        lambda m: m.coap.client(1).open("127.0.0.1", 5683, timeout=0),
        lambda m: m.coap.client(1).configure(ack_timeout=True),
        lambda m: m.coap.client(1).configure(retries="5"),
        lambda m: m.coap.client(1).configure(pdpcid=1.0),
        lambda m: m.coap.client(1).configure(dtls=1),
        lambda m: m.coap.client(1).configure(dtls=True, dtls_context=True),
        lambda m: m.coap.client(1).use_psk("id", "key", dtls_context="0"),
        lambda m: m.coap.client(0).ping(timeout="1"),
    ],
    ids=[
        "str-id",
        "bool-id",
        "str-port",
        "bool-port",
        "bytes-host",
        "none-host",
        "zero-timeout",
        "bool-ack-timeout",
        "str-retries",
        "float-pdpcid",
        "int-dtls",
        "bool-dtls-context",
        "str-dtls-context",
        "str-ping-timeout",
    ],
)
def test_client_mistakes_raise_parameter_error_before_sending(
    unsent: Modem, call: Callable[[Modem], object]
) -> None:
    with pytest.raises(ParameterError):
        call(unsent)


def test_wrong_types_are_also_type_errors(unsent: Modem) -> None:
    with pytest.raises(TypeError):
        unsent.coap.client(0).get("hello", token="abcd")
    with pytest.raises(ParameterTypeError):
        unsent.coap.client("0")


# -- a +QCOAPRECV line longer than the tokenizer's max_line ---------------------------------


def test_overlong_response_line_fails_the_request_and_frees_the_client(
    modem: Modem, peer: Callable[..., UdpPeer]
) -> None:
    # A 2100-byte elective option (number 2048) prints as 4200 hex digits: over the
    # tokenizer's 4096-byte max_line. The payload "tail" is plain text.
    big = bytes([0xE0 | 0x0E]) + (2048 - 269).to_bytes(2, "big") + (2100 - 269).to_bytes(2, "big")
    answers = iter([lambda req: piggybacked(req, 0x45, big + b"\xab" * 2100, b"tail")])

    def respond(req: bytes) -> bytes:
        return next(answers, lambda r: piggybacked(r, 0x45, b"", b"small"))(req)

    server = peer(respond)
    c = modem.coap.client(0)
    with c.open("127.0.0.1", server.port):
        with pytest.raises(ProtocolError, match="too long"):
            c.get("big", timeout=10)
        assert c.get("small").payload == b"small"


# -- malformed result URCs from the module (issue 10 item 12) -------------------------------


@pytest.mark.parametrize("urc", ["+QCOAPOPEN: 0", "+QCOAPOPEN: 0,abc", "+QCOAPOPEN: 0,-99999999"])
def test_malformed_open_result_is_a_protocol_error(
    make_sim: Callable[..., Simulator], urc: str
) -> None:
    # The module is busy in a DTLS handshake to a silent port (bounded at 20 s,
    # scaled to 5 s) after its OK; the malformed result URC arrives in that time.
    silent = SilentUdpPort()
    sim = make_sim(time_scale=0.25)
    outcome: list[BaseException | None] = []
    try:
        with Modem.open(sim.url) as modem:
            client = modem.coap.client(0)
            client.use_psk("id", "key")

            def open_it() -> None:
                try:
                    client.open("127.0.0.1", silent.port)
                    outcome.append(None)
                except BaseException as exc:
                    outcome.append(exc)

            thread = threading.Thread(target=open_it)
            thread.start()
            for _ in range(500):  # bounded: the OK of AT+QCOAPOPEN is on the wire
                if b"AT+QCOAPOPEN" in sim.transcript_bytes("in") and sim.transcript_bytes(
                    "out"
                ).endswith(b"\r\nOK\r\n"):
                    break
                time.sleep(0.01)
            sim.faults.inject(f"\r\n{urc}\r\n".encode())
            thread.join(15)
    finally:
        silent.close()

    assert len(outcome) == 1 and isinstance(outcome[0], ProtocolError), outcome
    assert "+QCOAPOPEN" in str(outcome[0])
