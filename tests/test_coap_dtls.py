"""CoAP over DTLS 1.2 with a pre-shared key, end to end: lpwa's client drives the
simulator, whose CoAP client runs DTLS (python-mbedtls) against libcoap's
``coap-server-openssl`` on 127.0.0.1, a server nobody here wrote.

The note's example 5.2 is replayed byte for byte where its syntax sections agree
with it; where the example contradicts them (QFUPL length 39 for 34 bytes of
content, a checksum no content gives, ``+COAPACK`` for ``+QCOAPACK``, a 4.04 from
another server) the test follows the syntax sections and says so.
"""

from __future__ import annotations

import logging
import re
import socket
import sys
from collections.abc import Callable, Iterator

import pytest

from libcoap import LibcoapServer
from lpwa.coap import Code, Type, atwire
from lpwa.errors import CoAPDTLSHandshakeFailure, CoAPSocketFailure, ParameterError
from lpwa.modem import Modem
from lpwa.sim import Simulator, checksum_hex
from servers import SilentUdpPort

IDENTITY = "864508030012428"  # the note's example identity (an IMEI)
KEY = "12344FG89"  # the secret whose hex is the note's example key 313233343446473839
PSK_FILE = b"864508030012428&313233343446473839"  # the note's example file content
TOKEN = bytes.fromhex("D204D52E814B")  # the note's example token
# Fast module timers that still leave a loaded machine 5 s for a 10 ms handshake.
SCALE = 0.25


@pytest.fixture(scope="module")
def libcoap() -> Iterator[LibcoapServer]:
    """coap-server-openssl with the note's key, on a free pair of ports."""
    server = LibcoapServer(KEY)
    yield server
    server.close()


@pytest.fixture
def modem(make_sim: Callable[..., Simulator]) -> Iterator[Modem]:
    sim = make_sim(time_scale=SCALE)
    with Modem.open(sim.url) as m:
        yield m


def step(client, command: bytes, response: bytes, timeout: float = 10.0) -> None:
    client.send(command + b"\r")
    client.expect(command + b"\r" + response, timeout)


# -- the note's example 5.2 -------------------------------------------------------------


def test_note_example_5_2_session_against_libcoap(make_sim, at) -> None:
    # The example's server, leshan.eclipseprojects.io:5684, mapped to libcoap on
    # 127.0.0.1 with its DTLS port at 5684 (so the host's bytes are the note's).
    server = LibcoapServer(KEY, port=5683)
    try:
        sim = make_sim(time_scale=SCALE, hosts={"leshan.eclipseprojects.io": "127.0.0.1"})
        sim.queue_coap_tokens(TOKEN)
        client = at(sim)
        step(client, b'AT+QCOAPCFG="pdpcid",0,1', b"\r\nOK\r\n")
        step(client, b'AT+QCOAPCFG="trans",0,4,5', b"\r\nOK\r\n")
        step(client, b'AT+QCOAPCFG="dtls",0,1,0', b"\r\nOK\r\n")
        step(client, b'AT+QSSLCFG="dtls",0,1', b"\r\nOK\r\n")
        step(client, b'AT+QSSLCFG="dtlsversion",0,1', b"\r\nOK\r\n")
        # The example says 39 for these 34 bytes, and prints checksum 2802; the syntax
        # (QFUPL=<name>,<size>) wants the size of what follows, and its checksum is
        # the XOR of 16-bit words of those bytes.
        step(client, b'AT+QFUPL="UFS:0_server.psk",34', b"\r\nCONNECT\r\n")
        client.send(PSK_FILE)
        client.expect(f"\r\n+QFUPL: 34,{checksum_hex(PSK_FILE)}\r\n\r\nOK\r\n".encode())
        step(
            client,
            b'AT+QCOAPOPEN=0,"leshan.eclipseprojects.io",5684',
            b"\r\nOK\r\n\r\n+QCOAPOPEN: 0,0\r\n",
        )
        step(client, b"AT+QCOAPHEADER=0,1234,1", b"\r\nOK\r\n")
        step(client, b'AT+QCOAPOPTION=0,0,0,11,"19"', b"\r\nOK\r\n")
        step(client, b"AT+QCOAPOPTION=0,0,1,12,40", b"\r\nOK\r\n")
        step(client, b"AT+QCOAPSEND=0,1,2,1,20", b"\r\n> ")
        client.send(b"Hello, CoAP Message!")
        # +QCOAPACK as the syntax (3.3.6, 3.4.2) spells it; the example prints +COAPACK.
        client.expect(b"\r\nOK\r\n\r\n+QCOAPACK: 0,1,1234,0\r\n")
        # libcoap creates /19 from the POST: 2.01 Created (the example shows another
        # server's 4.04); the shape is the note's: our token, the answer's own msgID.
        line = client.read_until(b"\r\n", timeout=10) + client.read_until(b"\r\n", timeout=10)
        assert re.fullmatch(rb"\r\n\+QCOAPRECV: 0,\d+,2\.01,6,D204D52E814B,\d+[^\r]*\r\n", line), (
            line
        )
        text = line.strip().decode()
        payload = client.read_exact(int(text.rsplit(",", 1)[1]), 10)
        created = atwire.parse_recv(text, payload).message
        assert (created.code, created.token) == (Code.CREATED, TOKEN)
        # The POSTed bytes reached libcoap through DTLS: read them back (CON GET /19).
        step(client, b"AT+QCOAPHEADER=0,1235,1", b"\r\nOK\r\n")
        step(client, b"AT+QCOAPSEND=0,0,1,1,0", b"\r\n> ")
        client.expect(b"\r\nOK\r\n\r\n+QCOAPACK: 0,0,1235,0\r\n", timeout=10)
        head = client.read_until(b"\r\n", timeout=10) + client.read_until(b"\r\n", timeout=10)
        assert head.startswith(b"\r\n+QCOAPRECV: 0,1235,2.05,6,"), head
        assert head.endswith(b",20\r\n")
        assert client.read_exact(20, 10) == b"Hello, CoAP Message!"
        step(client, b"AT+QCOAPCLOSE=0", b"\r\nOK\r\n\r\n+QCOAPCLOSE: 0,0\r\n")
    finally:
        server.close()


# -- the API, end to end -------------------------------------------------------------------


def test_psk_get_post_put_delete_through_dtls(modem: Modem, libcoap: LibcoapServer) -> None:
    client = modem.coap.client(0)
    client.use_psk(IDENTITY, KEY)
    with client.open("127.0.0.1", libcoap.dtls_port):
        banner = client.get("")
        created = client.post("lpwa-post", b"posted \x00\r\n bytes")
        stored = client.get("lpwa-post")
        replaced = client.put("lpwa-post", "replaced")
        again = client.get("lpwa-post", confirmable=False)
        deleted = client.delete("lpwa-post")
        gone = client.get("lpwa-post")

    assert banner.code == Code.CONTENT and b"libcoap" in banner.payload
    assert created.code == Code.CREATED
    assert (stored.code, stored.payload) == (Code.CONTENT, b"posted \x00\r\n bytes")
    assert replaced.code == Code.CHANGED
    assert (again.type, again.payload) == (Type.NON, b"replaced")
    assert deleted.code == Code.DELETED
    assert gone.code == Code.NOT_FOUND


def test_use_psk_writes_the_secret_as_hex_as_the_note_does(modem: Modem) -> None:
    modem.coap.client(0).use_psk(IDENTITY, KEY.encode(), dtls_context=3)

    ufs = modem.files.download("3_server.psk")
    assert ufs == PSK_FILE


def test_binary_key_reaches_the_server_as_bytes(
    make_sim: Callable[..., Simulator],
) -> None:
    key = bytes([0x00, 0x26, 0xFF, 0x0D, 0x0A])  # NUL, '&', 0xFF, CR, LF
    server = LibcoapServer("\x01")  # a different key: libcoap's -k cannot take NUL
    try:
        sim = make_sim(time_scale=0.05)
        with Modem.open(sim.url) as modem:
            client = modem.coap.client(1)
            client.use_psk("binary", key, dtls_context=1)
            assert sim.ufs.read("1_server.psk") == b"binary&0026FF0D0A"
            with pytest.raises(CoAPDTLSHandshakeFailure):
                client.open("127.0.0.1", server.dtls_port)
    finally:
        server.close()


# -- failures, each within the bounded handshake time ------------------------------------


def test_wrong_key_is_a_dtls_handshake_failure(
    make_sim: Callable[..., Simulator], libcoap: LibcoapServer
) -> None:
    # libcoap drops a Finished it cannot verify: silence, then the handshake bound
    # (20 s, scaled by 0.05 to 1 s) ends it.
    sim = make_sim(time_scale=0.05)
    with Modem.open(sim.url) as modem:
        client = modem.coap.client(0)
        client.use_psk(IDENTITY, "not the key")
        with pytest.raises(CoAPDTLSHandshakeFailure) as info:
            client.open("127.0.0.1", libcoap.dtls_port)
        assert info.value.result == -9
        # The id is free again: the right key opens it.
        client.use_psk(IDENTITY, KEY)
        with client.open("127.0.0.1", libcoap.dtls_port):
            assert client.get("").code == Code.CONTENT


def test_silent_peer_is_a_dtls_handshake_failure(make_sim: Callable[..., Simulator]) -> None:
    silent = SilentUdpPort()
    try:
        sim = make_sim(time_scale=0.05)
        with Modem.open(sim.url) as modem:
            client = modem.coap.client(0)
            client.use_psk(IDENTITY, KEY)
            with pytest.raises(CoAPDTLSHandshakeFailure) as info:
                client.open("127.0.0.1", silent.port)
    finally:
        silent.close()
    assert info.value.result == -9
    assert b"+QCOAPOPEN: 0,-9" in sim.transcript_bytes("out")


def test_unreachable_peer_is_a_socket_failure(make_sim: Callable[..., Simulator]) -> None:
    # A port nobody listens on: loopback answers with ICMP port unreachable.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sim = make_sim(time_scale=0.05)
    with Modem.open(sim.url) as modem:
        client = modem.coap.client(0)
        client.use_psk(IDENTITY, KEY)
        with pytest.raises(CoAPSocketFailure) as info:
            client.open("127.0.0.1", port)
    assert info.value.result == -7


def test_dtls_off_in_the_ssl_context_fails_the_handshake(
    modem: Modem, libcoap: LibcoapServer
) -> None:
    client = modem.coap.client(0)
    client.use_psk(IDENTITY, KEY)
    modem.ssl.configure(0, dtls=0)

    with pytest.raises(CoAPDTLSHandshakeFailure):
        client.open("127.0.0.1", libcoap.dtls_port)


def test_missing_psk_file_fails_the_handshake(
    make_sim: Callable[..., Simulator], at, libcoap: LibcoapServer
) -> None:
    client = at(make_sim(time_scale=0.05))
    step(client, b'AT+QCOAPCFG="dtls",2,1,4', b"\r\nOK\r\n")
    step(client, b'AT+QSSLCFG="dtls",4,1', b"\r\nOK\r\n")
    step(
        client,
        f'AT+QCOAPOPEN=2,"127.0.0.1",{libcoap.dtls_port}'.encode(),
        b"\r\nOK\r\n\r\n+QCOAPOPEN: 2,-9\r\n",
    )


def test_without_python_mbedtls_dtls_fails_with_a_clear_message(
    make_sim: Callable[..., Simulator],
    libcoap: LibcoapServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in [m for m in sys.modules if m == "mbedtls" or m.startswith("mbedtls.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mbedtls", None)  # import mbedtls now fails
    sim = make_sim(time_scale=0.05)
    with Modem.open(sim.url) as modem, caplog.at_level(logging.WARNING, "lpwa.sim"):
        client = modem.coap.client(0)
        client.use_psk(IDENTITY, KEY)
        with pytest.raises(CoAPDTLSHandshakeFailure):
            client.open("127.0.0.1", libcoap.dtls_port)

    assert "pip install 'lpwa[dtls]'" in caplog.text


# -- the secret --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identity", "key"),
    [("", "k"), ("id", ""), ("a&b", "k"), ("caf\u00e9", "k"), (b"id", "k"), ("id", 123)],
    ids=["no-identity", "no-key", "ampersand", "not-ascii", "bytes-identity", "int-key"],
)
def test_use_psk_refuses_unusable_arguments_before_sending(
    make_sim: Callable[..., Simulator], identity: object, key: object
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        before = sim.transcript_bytes("in")
        with pytest.raises(ParameterError):
            modem.coap.client(0).use_psk(identity, key)  # type: ignore[arg-type]
        assert sim.transcript_bytes("in") == before


def test_key_is_not_logged(
    modem: Modem, libcoap: LibcoapServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client = modem.coap.client(0)
        client.use_psk(IDENTITY, KEY)
        with client.open("127.0.0.1", libcoap.dtls_port):
            client.get("")
    assert KEY not in caplog.text
    assert KEY.encode().hex().upper() not in caplog.text
