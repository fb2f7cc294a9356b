"""TLS on the simulator: QSSLCFG seclevel 0/1/2 against the local HTTPS servers."""

from __future__ import annotations

import pytest
import trustme

from servers import pattern_bytes


@pytest.fixture
def client(sim, at):
    c = at(sim)
    c.send(b"ATE0\r")
    c.read_final()
    assert c.command("AT+QIACT=1") == b"\r\nOK\r\n"
    return c


def https_get(client, url: str) -> bytes:
    raw = url.encode()
    client.send(f"AT+QHTTPURL={len(raw)},80\r".encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(raw)
    client.expect(b"\r\nOK\r\n")
    client.send(b"AT+QHTTPGET=80\r")
    client.expect(b"\r\nOK\r\n")
    return client.read_until(b"\r\n") + client.read_until(b"\r\n")


def configure(client, **keys) -> None:
    for key, value in keys.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value)
        assert client.command(f'AT+QSSLCFG="{key}",1,{shown}') == b"\r\nOK\r\n"


def test_seclevel_0_verifies_nothing(client, https_server):
    configure(client, seclevel=0)
    assert https_get(client, https_server.url("/bytes/100")) == b"\r\n+QHTTPGET: 0,200,100\r\n"
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n" + pattern_bytes(100) + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_seclevel_1_with_the_right_ca_succeeds(client, sim, https_server, ca_pem):
    sim.ufs["cacert.pem"] = ca_pem
    configure(client, seclevel=1, cacert="cacert.pem")
    assert https_get(client, https_server.url("/bytes/10")) == b"\r\n+QHTTPGET: 0,200,10\r\n"


def test_seclevel_1_rejects_an_untrusted_server_with_701(client, sim, https_server):
    sim.ufs["other.pem"] = trustme.CA().cert_pem.bytes()
    configure(client, seclevel=1, cacert="other.pem")
    # 701: what BG96 firmware reports for a failed TLS handshake (lpwa.sim.http_client).
    assert https_get(client, https_server.url("/bytes/10")) == b"\r\n+QHTTPGET: 701\r\n"


def test_seclevel_1_without_the_ca_file_is_701(client, https_server):
    configure(client, seclevel=1, cacert="absent.pem")
    assert https_get(client, https_server.url("/bytes/10")) == b"\r\n+QHTTPGET: 701\r\n"


def test_seclevel_2_presents_the_client_certificate(
    client, sim, https_mtls_server, ca_pem, client_cert_pem, client_key_pem
):
    sim.ufs["ca.pem"] = ca_pem
    sim.ufs["cc.pem"] = client_cert_pem
    sim.ufs["ck.pem"] = client_key_pem
    configure(client, seclevel=2, cacert="ca.pem", clientcert="cc.pem", clientkey="ck.pem")
    assert https_get(client, https_mtls_server.url("/bytes/10")) == b"\r\n+QHTTPGET: 0,200,10\r\n"


def test_no_client_certificate_is_refused_by_an_mtls_server(client, sim, https_mtls_server, ca_pem):
    sim.ufs["ca.pem"] = ca_pem
    configure(client, seclevel=1, cacert="ca.pem")
    reply = https_get(client, https_mtls_server.url("/bytes/10"))
    assert reply.startswith(b"\r\n+QHTTPGET: 7") and b"," not in reply


def test_checkhost_verifies_the_name(client, sim, https_server, ca_pem):
    sim.ufs["cacert.pem"] = ca_pem
    configure(client, seclevel=1, cacert="cacert.pem", checkhost=1, sni=1)
    url = https_server.url("/bytes/1", host="localhost")
    assert https_get(client, url) == b"\r\n+QHTTPGET: 0,200,1\r\n"


def test_sslversion_3_pins_tls_1_2(client, https_server):
    configure(client, sslversion=3, ciphersuite="0XC02B")  # trustme keys are ECDSA
    assert https_get(client, https_server.url("/bytes/1")) == b"\r\n+QHTTPGET: 0,200,1\r\n"


def test_qsslcfg_query_and_ranges(client):
    assert (
        client.command('AT+QSSLCFG="seclevel",1') == b'\r\n+QSSLCFG: "seclevel",1,0\r\n\r\nOK\r\n'
    )
    assert (
        client.command('AT+QSSLCFG="sslversion",2')
        == b'\r\n+QSSLCFG: "sslversion",2,4\r\n\r\nOK\r\n'
    )
    assert client.command('AT+QSSLCFG="ciphersuite",1') == (
        b'\r\n+QSSLCFG: "ciphersuite",1,0XFFFF\r\n\r\nOK\r\n'
    )
    assert client.command('AT+QSSLCFG="ciphersuite",1,0x0005') == b"\r\nOK\r\n"
    assert client.command('AT+QSSLCFG="ciphersuite",1') == (
        b'\r\n+QSSLCFG: "ciphersuite",1,0X0005\r\n\r\nOK\r\n'
    )
    assert client.command('AT+QSSLCFG="cacert",1,"ca.pem"') == b"\r\nOK\r\n"
    assert (
        client.command('AT+QSSLCFG="cacert",1')
        == b'\r\n+QSSLCFG: "cacert",1,"ca.pem"\r\n\r\nOK\r\n'
    )
    assert client.command('AT+QSSLCFG="seclevel",1,3') == b"\r\nERROR\r\n"
    assert client.command('AT+QSSLCFG="seclevel",6,0') == b"\r\nERROR\r\n"
    assert client.command('AT+QSSLCFG="negotiatetime",1,9') == b"\r\nERROR\r\n"
    assert client.command('AT+QSSLCFG="bogus",1,1') == b"\r\nERROR\r\n"
    assert client.command('AT+QSSLCFG="dtls",0,1') == b"\r\nOK\r\n"
    assert client.command('AT+QSSLCFG="dtlsversion",0,1') == b"\r\nOK\r\n"


# -- checkhost and sni as the module applies them (issue 10, item 15) ----------------


@pytest.fixture
def named(make_sim, at, ca_pem):
    """A simulator resolving localhost and evil.test to 127.0.0.1, CA in its UFS."""
    sim = make_sim(hosts={"localhost": "127.0.0.1", "evil.test": "127.0.0.1"})
    sim.ufs["cacert.pem"] = ca_pem
    c = at(sim)
    c.send(b"ATE0\r")
    c.read_final()
    assert c.command("AT+QIACT=1") == b"\r\nOK\r\n"
    c.sim = sim
    return c


@pytest.fixture
def sni_server(server_cert):
    """An HTTPS server (certificate for localhost and 127.0.0.1) that records the
    SNI name of every handshake (None when the client sent none)."""
    import ssl

    from servers import HTTPTestServer

    seen: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    context.sni_callback = lambda _sock, name, _ctx: seen.append(name)
    server = HTTPTestServer(context)
    server.seen = seen
    yield server
    server.close()


def test_checkhost_1_refuses_a_certificate_for_another_host(named, https_server):
    # The certificate is for localhost: evil.test must not be accepted.
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=1, sni=1)
    url = https_server.url("/bytes/1", host="evil.test")
    assert https_get(named, url) == b"\r\n+QHTTPGET: 701\r\n"


def test_checkhost_0_accepts_a_trusted_certificate_for_another_host(named, https_server):
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=0)
    url = https_server.url("/bytes/1", host="evil.test")
    assert https_get(named, url) == b"\r\n+QHTTPGET: 0,200,1\r\n"


def test_checkhost_without_sni_still_checks_the_name(named, https_server):
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=1, sni=0)
    assert https_get(named, https_server.url("/bytes/1", host="evil.test")) == (
        b"\r\n+QHTTPGET: 701\r\n"
    )
    assert https_get(named, https_server.url("/bytes/1", host="localhost")) == (
        b"\r\n+QHTTPGET: 0,200,1\r\n"
    )


def test_checkhost_matches_an_ip_literal_against_the_ip_san(named, https_server):
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=1, sni=1)
    assert https_get(named, https_server.url("/bytes/1")) == b"\r\n+QHTTPGET: 0,200,1\r\n"


def test_sni_1_sends_the_host_name(named, sni_server):
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=1, sni=1)
    assert https_get(named, sni_server.url("/bytes/1", host="localhost")) == (
        b"\r\n+QHTTPGET: 0,200,1\r\n"
    )
    assert sni_server.seen == ["localhost"]


def test_sni_0_sends_no_name(named, sni_server):
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=0, sni=0)
    assert https_get(named, sni_server.url("/bytes/1", host="localhost")) == (
        b"\r\n+QHTTPGET: 0,200,1\r\n"
    )
    assert sni_server.seen == [None]


def test_sni_is_never_an_ip_address(named, sni_server):
    configure(named, seclevel=0, sni=1)
    assert https_get(named, sni_server.url("/bytes/1")) == b"\r\n+QHTTPGET: 0,200,1\r\n"
    assert sni_server.seen == [None]


def test_a_build_can_refuse_checkhost_and_sni(named):
    named.sim.module.ssl.refused_keys.update({"checkhost", "sni"})
    assert named.command('AT+QSSLCFG="checkhost",1,1') == b"\r\nERROR\r\n"
    assert named.command('AT+QSSLCFG="sni",1,1') == b"\r\nERROR\r\n"
    assert named.command('AT+QSSLCFG="seclevel",1,1') == b"\r\nOK\r\n"


@pytest.mark.parametrize(
    ("sans", "host", "ok"),
    [
        ((("DNS", "localhost"),), "localhost", True),
        ((("DNS", "LocalHost"),), "localhost.", True),
        ((("DNS", "*.example.test"),), "a.example.test", True),
        ((("DNS", "*.example.test"),), "a.b.example.test", False),
        ((("DNS", "*.example.test"),), "example.test", False),
        ((("DNS", "a*.example.test"),), "ab.example.test", False),
        ((("IP Address", "127.0.0.1"),), "127.0.0.1", True),
        ((("DNS", "127.0.0.1"),), "127.0.0.1", False),
        ((("IP Address", "::1"),), "[::1]", True),
        ((("DNS", "localhost"),), "evil.test", False),
        ((), "localhost", False),
    ],
)
def test_host_matches_follows_rfc_6125(sans, host, ok):
    from lpwa.sim.tls import host_matches

    assert host_matches({"subjectAltName": sans}, host) is ok


def test_checkhost_without_sni_sends_no_name(named, sni_server):
    # Fails on the old simulator, which sent the name whenever checkhost was on.
    configure(named, seclevel=1, cacert="cacert.pem", checkhost=1, sni=0)
    assert https_get(named, sni_server.url("/bytes/1", host="localhost")) == (
        b"\r\n+QHTTPGET: 0,200,1\r\n"
    )
    assert sni_server.seen == [None]
