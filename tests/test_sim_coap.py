"""CoAP on the simulator: the CoAP note's section 5 examples, then requests to a real
aiocoap server, retransmissions to a silent port, and the AT-side checks."""

from __future__ import annotations

import re

import pytest

from lpwa.coap import Code, Message, Type
from lpwa.coap.atwire import parse_recv_urc
from servers import UdpPeer, coap_bytes

TOKEN = bytes.fromhex("D204D52E814B")


def step(client, command: bytes, response: bytes, timeout: float = 5.0) -> None:
    client.send(command + b"\r")
    client.expect(command + b"\r" + response, timeout)


def not_found_peer(datagram: bytes) -> bytes:
    """The note's server: a 4.04 "Not Found" with the request's msgID and token."""
    request = Message.decode(datagram)
    return Message(Type.NON, Code.NOT_FOUND, request.mid, request.token, (), b"Not Found").encode()


def test_example_5_1_without_dtls(make_sim, at):
    peer = UdpPeer(not_found_peer)
    try:
        simulator = make_sim(coap_ack_prefix="+COAPACK")
        simulator.queue_coap_tokens(TOKEN)
        client = at(simulator)
        step(client, b'AT+QCOAPCFG="pdpcid",0,1', b"\r\nOK\r\n")
        step(client, b'AT+QCOAPCFG="trans",0,4,5', b"\r\nOK\r\n")
        open_cmd = f'AT+QCOAPOPEN=0,"127.0.0.1",{peer.port}'.encode()
        step(client, open_cmd, b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n")
        step(
            client,
            b"AT+QCOAPOPEN?",
            f'\r\n+QCOAPOPEN: 0,"127.0.0.1",{peer.port},3\r\n\r\nOK\r\n'.encode(),
        )
        step(client, b"AT+QCOAPHEADER=0,1234,1", b"\r\nOK\r\n")
        step(client, b'AT+QCOAPOPTION=0,0,0,11,"19"', b"\r\nOK\r\n")
        step(client, b"AT+QCOAPOPTION=0,0,1,12,40", b"\r\nOK\r\n")
        step(client, b"AT+QCOAPSEND=0,1,2,1,20", b"\r\n> ")
        client.send(b"Hello, CoAP Message!")
        client.expect(
            b"\r\nOK\r\n\r\n+COAPACK: 0,1,1234,0\r\n"
            b"\r\n+QCOAPRECV: 0,1234,4.04,6,D204D52E814B,0,9\r\nNot Found"
        )
        step(client, b"AT+QCOAPCLOSE=0", b"\r\nOK\r\n\r\n+QCOAPCLOSE: 0,0\r\n")
        sent = Message.decode(peer.received[0])
        assert sent == Message(
            Type.NON, Code.POST, 1234, TOKEN, [(11, b"19")], b"Hello, CoAP Message!"
        )
    finally:
        peer.close()


# Example 5.2 (DTLS) runs against libcoap in test_coap_dtls.py.


@pytest.fixture
def coap(sim, at, coap_server):
    """A client on the aiocoap server: echo off, client 0 open."""
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    # ACK timeout 10 s scaled to 0.5 s: longer than aiocoap's 0.1 s empty-ACK delay.
    assert client.command('AT+QCOAPCFG="trans",0,10,5') == b"\r\nOK\r\n"
    client.send(f'AT+QCOAPOPEN=0,"127.0.0.1",{coap_server.port}\r'.encode())
    client.expect(b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n")
    return client


RECV = re.compile(rb"\r\n\+QCOAPRECV: ([^\r]*)\r\n")


def receive(client, timeout: float = 5.0) -> Message:
    line = client.read_until(b"\r\n", timeout=timeout) + client.read_until(b"\r\n", timeout=timeout)
    match = RECV.fullmatch(line)
    assert match is not None, line
    params = match.group(1).decode().split(",")
    payload = client.read_exact(int(params[-1]), timeout)
    return parse_recv_urc(params, payload).message


def request(client, mtype: int, code: int, path: list[bytes], payload: bytes = b"", mid: int = 100):
    client.command(f"AT+QCOAPHEADER=0,{mid},1")
    for index, segment in enumerate(path):
        assert (
            client.command(f'AT+QCOAPOPTION=0,0,{index},11,"{segment.decode()}"') == b"\r\nOK\r\n"
        )
    mask = (1 << len(path)) - 1
    client.send(f"AT+QCOAPSEND=0,{mtype},{code},{mask},{len(payload)}\r".encode())
    client.expect(b"\r\n> ")
    client.send(payload)
    client.expect(b"\r\nOK\r\n")


def test_con_get_with_piggybacked_response(coap):
    request(coap, 0, 1, [b"hello"], mid=4711)
    coap.expect(b"\r\n+QCOAPACK: 0,0,4711,0\r\n")
    response = receive(coap)
    assert response.mid == 4711
    assert response.code == Code.CONTENT
    assert response.payload == b"Hello, CoAP!"
    assert len(response.token) == 6


def test_post_put_delete_fail_and_not_found(coap):
    request(coap, 0, 2, [b"echo"], b"ping", mid=1)
    coap.expect(b"\r\n+QCOAPACK: 0,0,1,0\r\n")
    assert receive(coap).code == Code.CHANGED
    request(coap, 0, 3, [b"echo"], b"put!", mid=2)
    coap.expect(b"\r\n+QCOAPACK: 0,0,2,0\r\n")
    created = receive(coap)
    assert (created.code, created.payload) == (Code.CREATED, b"put!")
    request(coap, 0, 4, [b"item"], mid=3)
    coap.expect(b"\r\n+QCOAPACK: 0,0,3,0\r\n")
    assert receive(coap).code == Code.DELETED
    request(coap, 0, 1, [b"fail"], mid=4)
    coap.expect(b"\r\n+QCOAPACK: 0,0,4,0\r\n")
    assert receive(coap).code == Code.INTERNAL_SERVER_ERROR
    request(coap, 0, 1, [b"nowhere"], mid=5)
    coap.expect(b"\r\n+QCOAPACK: 0,0,5,0\r\n")
    assert receive(coap).code == Code.NOT_FOUND


def test_binary_payload_with_cr_lf_nul(coap):
    coap.command('AT+QCOAPOPTION=0,0,1,15,"n=300"')
    coap.command("AT+QCOAPHEADER=0,9,1")
    coap.command('AT+QCOAPOPTION=0,0,0,11,"bytes"')
    coap.send(b"AT+QCOAPSEND=0,0,1,3,0\r")
    coap.expect(b"\r\n> ")
    coap.expect(b"\r\nOK\r\n\r\n+QCOAPACK: 0,0,9,0\r\n")
    response = receive(coap)
    assert response.payload == coap_bytes(300)


def test_separate_response_is_acknowledged_and_reported(coap):
    request(coap, 0, 1, [b"separate"], mid=77)
    coap.expect(b"\r\n+QCOAPACK: 0,0,77,0\r\n")  # the empty ACK
    response = receive(coap, timeout=5)
    assert response.mid != 77
    assert response.payload == b"late"


def test_con_to_a_silent_port_retransmits_then_fails(make_sim, at, silent_udp_port):
    simulator = make_sim(time_scale=0.01)  # ACK timeout 2 s -> 20 ms
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command('AT+QCOAPCFG="trans",0,2,4') == b"\r\nOK\r\n"
    client.send(f'AT+QCOAPOPEN=0,"127.0.0.1",{silent_udp_port}\r'.encode())
    client.expect(b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n")
    client.command("AT+QCOAPHEADER=0,500,1")
    client.send(b"AT+QCOAPSEND=0,0,1,0,0\r")
    client.expect(b"\r\n> \r\nOK\r\n")
    client.expect(
        b"\r\n+QCOAPIND: 0,0,500,1,0\r\n\r\n+QCOAPIND: 0,0,500,2,0\r\n"
        b"\r\n+QCOAPIND: 0,0,500,3,0\r\n\r\n+QCOAPIND: 0,0,500,4,0\r\n"
        b"\r\n+QCOAPACK: 0,0,500,-11\r\n",
        timeout=5,
    )


def test_ctrl_z_ends_input_and_esc_cancels(coap):
    coap.command("AT+QCOAPHEADER=0,10,1")
    coap.command('AT+QCOAPOPTION=0,0,0,11,"echo"')
    coap.send(b"AT+QCOAPSEND=0,0,2,1\r")
    coap.expect(b"\r\n> ")
    coap.send(b"typed\x1a")
    coap.expect(b"\r\nOK\r\n\r\n+QCOAPACK: 0,0,10,0\r\n")
    assert receive(coap).payload == b"typed"
    coap.send(b"AT+QCOAPSEND=0,0,2,1\r")
    coap.expect(b"\r\n> ")
    coap.send(b"never mind\x1b")
    coap.expect(b"\r\nOK\r\n")
    assert coap.drain(0.3) == b""
    coap.send(b"AT+QCOAPSEND=0,0,2,1\r")
    coap.expect(b"\r\n> ")
    coap.send(b"x" * 1025)
    coap.expect(b"\r\nERROR\r\n")


def test_payload_length_is_binary_safe_and_bounded(coap):
    coap.command("AT+QCOAPHEADER=0,11,1")
    coap.command('AT+QCOAPOPTION=0,0,0,11,"echo"')
    data = b"\x1a\x1b\r\n\x00+++" * 10
    coap.send(f"AT+QCOAPSEND=0,0,2,1,{len(data)}\r".encode())
    coap.expect(b"\r\n> ")
    coap.send(data)
    coap.expect(b"\r\nOK\r\n\r\n+QCOAPACK: 0,0,11,0\r\n")
    assert receive(coap).payload == data
    assert coap.command("AT+QCOAPSEND=0,0,2,1,1025") == b"\r\nERROR\r\n"


def test_option_table_is_enforced(coap):
    ok = b"\r\nOK\r\n"
    assert coap.command('AT+QCOAPOPTION=0,0,0,3,"host"') == ok
    assert coap.command('AT+QCOAPOPTION=0,0,0,3,""') == b"\r\nERROR\r\n"  # Uri-Host 1-255
    assert coap.command('AT+QCOAPOPTION=0,0,0,4,"0102030405060708"') == ok
    assert coap.command('AT+QCOAPOPTION=0,0,0,4,"010203040506070809"') == b"\r\nERROR\r\n"
    assert coap.command('AT+QCOAPOPTION=0,0,0,5,""') == ok
    assert coap.command("AT+QCOAPOPTION=0,0,0,7,65535") == ok
    assert coap.command("AT+QCOAPOPTION=0,0,0,7,65536") == b"\r\nERROR\r\n"
    assert coap.command('AT+QCOAPOPTION=0,0,0,6,""') == b"\r\nERROR\r\n"  # not in Table 2
    assert coap.command('AT+QCOAPOPTION=0,0,8,11,"x"') == b"\r\nERROR\r\n"  # index 0-7
    assert coap.command("AT+QCOAPOPTION=0,1,0") == ok


def test_session_commands_and_their_errors(coap, coap_server):
    assert coap.command(f'AT+QCOAPOPEN=0,"127.0.0.1",{coap_server.port}') == b"\r\nOK\r\n"
    coap.expect(b"\r\n+QCOAPOPEN: 0,-10\r\n")
    assert coap.command('AT+QCOAPOPEN=1,"no-such-host.invalid",5683') == b"\r\nOK\r\n"
    coap.expect(b"\r\n+QCOAPOPEN: 1,-5\r\n")
    assert coap.command('AT+QCOAPOPEN=6,"127.0.0.1",5683') == b"\r\nERROR\r\n"
    assert coap.command('AT+QCOAPCFG="trans",0,1,5') == b"\r\nERROR\r\n"
    assert coap.command('AT+QCOAPCFG="trans",0') == b'\r\n+QCOAPCFG: "trans",10,5\r\n\r\nOK\r\n'
    assert coap.command('AT+QCOAPCFG="dtls",0') == b'\r\n+QCOAPCFG: "dtls",0,0\r\n\r\nOK\r\n'
    assert coap.command('AT+QCOAPCFG="pdpcid",0') == b'\r\n+QCOAPCFG: "pdpcid",1\r\n\r\nOK\r\n'
    assert coap.command("AT+QCOAPSEND=1,0,1,0,0") == b"\r\nERROR\r\n"  # client 1 not open
    assert coap.command("AT+QCOAPSEND=0,4,1,0,0") == b"\r\nERROR\r\n"  # type 0-3
    assert coap.command("AT+QCOAPHEADER=0,65536,1") == b"\r\nERROR\r\n"
    assert coap.command('AT+QCOAPHEADER=0,1,0,2,"0102"') == b"\r\nOK\r\n"
    assert coap.command('AT+QCOAPHEADER=0,1,0,3,"0102"') == b"\r\nERROR\r\n"
    assert coap.command("AT+QCOAPCLOSE=0") == b"\r\nOK\r\n"
    coap.expect(b"\r\n+QCOAPCLOSE: 0,0\r\n")
    assert coap.command("AT+QCOAPCLOSE=0") == b"\r\nERROR\r\n"
    assert coap.command("AT+QCOAPOPEN?") == b"\r\nOK\r\n"


def test_given_token_and_msgid_increment(coap):
    assert coap.command('AT+QCOAPHEADER=0,60000,0,2,"CAFE"') == b"\r\nOK\r\n"
    coap.command('AT+QCOAPOPTION=0,0,0,11,"hello"')
    for mid in (60000, 60001):
        coap.send(b"AT+QCOAPSEND=0,0,1,1,0\r")
        coap.expect(b"\r\n> \r\nOK\r\n")
        coap.expect(f"\r\n+QCOAPACK: 0,0,{mid},0\r\n".encode())
        response = receive(coap)
        assert (response.mid, response.token) == (mid, b"\xca\xfe")


def test_unregistered_open_is_network_failure(make_sim, at):
    simulator = make_sim(registered=False)
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command('AT+QCOAPOPEN=0,"127.0.0.1",5683') == b"\r\nOK\r\n"
    client.expect(b"\r\n+QCOAPOPEN: 0,-4\r\n")


def test_reboot_closes_coap_clients(sim, coap):
    sim.reboot()
    assert sim.wait_booted(5)
    coap.drain(0.2)
    coap.send(b"ATE0\r")
    coap.read_final()
    assert coap.command("AT+QCOAPOPEN?") == b"\r\nOK\r\n"
