"""HTTP(S) on the simulator: the HTTP note's chapter 3 examples replayed byte for byte
(URLs replaced by the local servers', lengths adjusted), then the behaviours the
examples do not show."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from lpwa.sim import checksum_hex
from servers import RefusingTcpPort, oklines, pattern_bytes

SEND_BODY = b"Message=HelloQuectel"  # 3.1.2.1, 20 bytes
ORDER_BODY = b"Message=1111&Appleqty=2222&Orangeqty=3333&find=1"  # 3.2.2.1, 48 bytes


def step(client, command: bytes, response: bytes, timeout: float = 5.0) -> None:
    """Echo on: the command comes back with its CR, then exactly ``response``."""
    client.send(command + b"\r")
    client.expect(command + b"\r" + response, timeout)


def pdp_prelude(client, address: str, *, contextid: bool = True) -> None:
    """The QHTTPCFG/QIACT/QICSGP part of every chapter 3 example, exactly as shown."""
    if contextid:
        step(client, b'AT+QHTTPCFG="contextid",1', b"\r\nOK\r\n")
    step(client, b"AT+QIACT?", b"\r\nOK\r\n")
    step(client, b'AT+QICSGP=1,1,"UNINET","","",1', b"\r\nOK\r\n")
    step(client, b"AT+QIACT=1", b"\r\nOK\r\n")
    step(client, b"AT+QIACT?", f'\r\n+QIACT: 1,1,1,"{address}"\r\n\r\nOK\r\n'.encode())


def set_url(client, url: str) -> None:
    raw = url.encode()
    step(client, f"AT+QHTTPURL={len(raw)},80".encode(), b"\r\nCONNECT\r\n")
    client.send(raw)
    client.expect(b"\r\nOK\r\n")


def read_with_header(client, body_length: int) -> tuple[bytes, bytes]:
    """AT+QHTTPREAD=80 with responseheader=1: (head, body), trailer checked."""
    step(client, b"AT+QHTTPREAD=80", b"\r\nCONNECT\r\n")
    head = client.read_until(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {body_length}\r\n".encode() in head
    body = client.read_exact(body_length)
    client.expect(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    return head, body


def upload(client, name: str, data: bytes) -> None:
    """AT+QFUPL="<name>" as in 3.2.2.1: no size, the upload ends at its timeout."""
    step(client, f'AT+QFUPL="{name}"'.encode(), b"\r\nCONNECT\r\n")
    client.send(data)
    client.expect(f"\r\n+QFUPL: {len(data)},{checksum_hex(data)}\r\n\r\nOK\r\n".encode())


def ssl_context_1(client, seclevel: int) -> None:
    step(client, b'AT+QHTTPCFG="sslctxid",1', b"\r\nOK\r\n")
    step(client, b'AT+QSSLCFG="sslversion",1,1', b"\r\nOK\r\n")
    step(client, b'AT+QSSLCFG="ciphersuite",1,0x0005', b"\r\nOK\r\n")
    step(client, f'AT+QSSLCFG="seclevel",1,{seclevel}'.encode(), b"\r\nOK\r\n")


def client_certificates(client, ca_pem, client_cert_pem, client_key_pem) -> None:
    upload(client, "cacert.pem", ca_pem)
    upload(client, "clientcert.pem", client_cert_pem)
    upload(client, "clientkey.pem", client_key_pem)
    step(client, b'AT+QSSLCFG="cacert",1,"cacert.pem"', b"\r\nOK\r\n")
    step(client, b'AT+QSSLCFG="clientcert",1,"clientcert.pem"', b"\r\nOK\r\n")
    step(client, b'AT+QSSLCFG="clientkey",1,"clientkey.pem"', b"\r\nOK\r\n")


# -- chapter 3 examples -----------------------------------------------------------------


def test_example_3_1_1_http_get_with_response_header(sim, at, http_server):
    client = at(sim)
    step(client, b'AT+QHTTPCFG="contextid",1', b"\r\nOK\r\n")
    step(client, b'AT+QHTTPCFG="responseheader",1', b"\r\nOK\r\n")
    pdp_prelude(client, "10.7.157.1", contextid=False)
    set_url(client, http_server.url("/bytes/5472"))
    step(client, b"AT+QHTTPGET=80", b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,5472\r\n")
    _, body = read_with_header(client, 5472)
    assert body == pattern_bytes(5472)
    # Solution 2 reads a response into a file; a response is read once, so GET again.
    step(client, b"AT+QHTTPGET=80", b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,5472\r\n")
    step(client, b'AT+QHTTPREADFILE="1.txt",80', b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n")
    stored = sim.ufs["1.txt"]
    assert stored.startswith(b"HTTP/1.1 200 OK\r\n")
    assert stored.endswith(b"\r\n\r\n" + pattern_bytes(5472))


def test_example_3_1_2_1_http_post_from_uart(make_sim, at, http_server):
    simulator = make_sim(pdp_address="172.22.86.226")
    client = at(simulator)
    pdp_prelude(client, "172.22.86.226")
    set_url(client, http_server.url("/echo?DEMOWebServices2.8"))
    step(client, b"AT+QHTTPPOST=20,80,80", b"\r\nCONNECT\r\n")
    client.send(SEND_BODY)
    client.expect(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,20\r\n")
    step(
        client,
        b"AT+QHTTPREAD=80",
        b"\r\nCONNECT\r\n" + SEND_BODY + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n",
    )


def test_example_3_1_2_2_http_post_from_file(make_sim, at, http_server):
    simulator = make_sim(pdp_address="172.22.86.226")
    simulator.ufs["2.txt"] = SEND_BODY
    client = at(simulator)
    pdp_prelude(client, "172.22.86.226")
    set_url(client, http_server.url("/echo"))
    step(client, b'AT+QHTTPPOSTFILE="2.txt",80', b"\r\nOK\r\n\r\n+QHTTPPOSTFILE: 0,200,20\r\n")
    step(client, b'AT+QHTTPREADFILE="3.txt",80', b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n")
    assert simulator.ufs["3.txt"] == SEND_BODY


def test_example_3_2_1_https_get_with_response_header(sim, at, https_server):
    client = at(sim)
    step(client, b'AT+QHTTPCFG="contextid",1', b"\r\nOK\r\n")
    step(client, b'AT+QHTTPCFG="responseheader",1', b"\r\nOK\r\n")
    pdp_prelude(client, "10.7.157.1", contextid=False)
    ssl_context_1(client, 0)
    set_url(client, https_server.url("/bytes/21472", host="localhost"))
    step(client, b"AT+QHTTPGET=80", b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,21472\r\n")
    _, body = read_with_header(client, 21472)
    assert body == pattern_bytes(21472)
    step(client, b"AT+QHTTPGET=80", b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,21472\r\n")
    step(client, b'AT+QHTTPREADFILE="4.txt",80', b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n")
    assert sim.ufs["4.txt"].endswith(pattern_bytes(21472))


def test_example_3_2_2_1_https_post_from_uart_seclevel_2(
    make_sim, at, https_mtls_server, ca_pem, client_cert_pem, client_key_pem
):
    simulator = make_sim(pdp_address="172.22.86.226")
    client = at(simulator)
    pdp_prelude(client, "172.22.86.226")
    ssl_context_1(client, 2)
    client_certificates(client, ca_pem, client_cert_pem, client_key_pem)
    set_url(client, https_mtls_server.url("/processorder.php"))
    step(client, b"AT+QHTTPPOST=48,80,80", b"\r\nCONNECT\r\n")
    client.send(ORDER_BODY)
    client.expect(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,48\r\n")
    step(
        client,
        b"AT+QHTTPREAD=80",
        b"\r\nCONNECT\r\n" + ORDER_BODY + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n",
    )


def test_example_3_2_2_2_https_post_from_file_seclevel_2(
    make_sim, at, https_mtls_server, ca_pem, client_cert_pem, client_key_pem
):
    simulator = make_sim(pdp_address="172.22.86.226")
    simulator.ufs["5.txt"] = ORDER_BODY
    client = at(simulator)
    pdp_prelude(client, "172.22.86.226")
    ssl_context_1(client, 2)
    client_certificates(client, ca_pem, client_cert_pem, client_key_pem)
    set_url(client, https_mtls_server.url("/processorder.php"))
    step(client, b'AT+QHTTPPOSTFILE="5.txt",80', b"\r\nOK\r\n\r\n+QHTTPPOSTFILE: 0,200,48\r\n")
    step(client, b'AT+QHTTPREADFILE="6.txt",80', b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n")
    assert simulator.ufs["6.txt"] == ORDER_BODY


# -- QHTTPCFG -------------------------------------------------------------------------------


@pytest.fixture
def ready(sim, at):
    """Echo off, PDP context 1 active."""
    client = at(sim)
    client.send(b"ATE0\r")
    client.read_final()
    assert client.command("AT+QIACT=1") == b"\r\nOK\r\n"
    return client


def test_qhttpcfg_forms(ready):
    c = ready
    assert c.command("AT+QHTTPCFG=?") == (
        b'\r\n+QHTTPCFG: "contextid",(1-16)\r\n+QHTTPCFG: "requestheader",(0,1)\r\n'
        b'+QHTTPCFG: "responseheader",(0,1)\r\n+QHTTPCFG: "sslctxid",(0-5)\r\n'
        b'+QHTTPCFG: "contenttype",(0-3)\r\n\r\nOK\r\n'
    )
    assert c.command("AT+QHTTPCFG?") == (
        b'\r\n+QHTTPCFG: "contextid",1\r\n+QHTTPCFG: "requestheader",0\r\n'
        b'+QHTTPCFG: "responseheader",0\r\n+QHTTPCFG: "sslctxid",1\r\n'
        b'+QHTTPCFG: "contenttype",0\r\n\r\nOK\r\n'
    )
    assert c.command('AT+QHTTPCFG="sslctxid",5') == b"\r\nOK\r\n"
    assert c.command('AT+QHTTPCFG="sslctxid"') == b'\r\n+QHTTPCFG: "sslctxid",5\r\n\r\nOK\r\n'
    assert c.command('AT+QHTTPCFG="sslctxid",6') == b"\r\n+CME ERROR: 730\r\n"
    assert c.command('AT+QHTTPCFG="contextid",0') == b"\r\n+CME ERROR: 730\r\n"
    assert c.command('AT+QHTTPCFG="contenttype",3') == b"\r\nOK\r\n"
    assert c.command('AT+QHTTPCFG="nosuchkey",1') == b"\r\nERROR\r\n"


def test_test_forms_of_the_http_commands(ready):
    c = ready
    assert c.command("AT+QHTTPURL=?") == b"\r\n+QHTTPURL: (1-700),(1-65535)\r\n\r\nOK\r\n"
    assert (
        c.command("AT+QHTTPGET=?") == b"\r\n+QHTTPGET: (1-65535),(1-2048),(1-65535)\r\n\r\nOK\r\n"
    )
    assert c.command("AT+QHTTPPOST=?") == (
        b"\r\n+QHTTPPOST: (1-1024000),(1-65535),(1-65535)\r\n\r\nOK\r\n"
    )
    assert c.command("AT+QHTTPPOSTFILE=?") == (
        b"\r\n+QHTTPPOSTFILE: <file_name>,(1-65535)\r\n\r\nOK\r\n"
    )
    assert c.command("AT+QHTTPREAD=?") == b"\r\n+QHTTPREAD: (1-65535)\r\n\r\nOK\r\n"
    assert c.command("AT+QHTTPREADFILE=?") == (
        b"\r\n+QHTTPREADFILE: <file_name>,(1-65535)\r\n\r\nOK\r\n"
    )


def test_qhttpurl_ranges(ready):
    c = ready
    assert c.command("AT+QHTTPURL=701,80") == b"\r\n+CME ERROR: 730\r\n"
    assert c.command("AT+QHTTPURL=10,0") == b"\r\n+CME ERROR: 730\r\n"
    c.send(b"AT+QHTTPURL=10,80\r")
    c.expect(b"\r\nCONNECT\r\n")
    c.send(b"ftp://abcd")
    c.expect(b"\r\n+CME ERROR: 711\r\n")


# -- requests and responses -------------------------------------------------------------------


def get(client, url: str, rsptime: int = 80) -> bytes:
    set_url_quiet(client, url)
    client.send(f"AT+QHTTPGET={rsptime}\r".encode())
    client.expect(b"\r\nOK\r\n")
    return client.read_until(b"\r\n", timeout=10) + client.read_until(b"\r\n", timeout=10)


def set_url_quiet(client, url: str) -> None:
    raw = url.encode()
    client.send(f"AT+QHTTPURL={len(raw)},80\r".encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(raw)
    client.expect(b"\r\nOK\r\n")


def test_404_is_not_a_module_error(ready, http_server):
    assert get(ready, http_server.url("/status/404")) == b"\r\n+QHTTPGET: 0,404,11\r\n"
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\nstatus 404\n\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_500_is_not_a_module_error(ready, http_server):
    assert get(ready, http_server.url("/status/500")) == b"\r\n+QHTTPGET: 0,500,11\r\n"


def test_chunked_response_has_no_length_and_is_dechunked(ready, http_server):
    assert get(ready, http_server.url("/chunked/10000")) == b"\r\n+QHTTPGET: 0,200\r\n"
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n" + pattern_bytes(10000) + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_chunked_header_line_is_output_as_received(ready, http_server):
    ready.command('AT+QHTTPCFG="responseheader",1')
    assert get(ready, http_server.url("/chunked/300")) == b"\r\n+QHTTPGET: 0,200\r\n"
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    head = ready.read_until(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked\r\n" in head
    ready.expect(pattern_bytes(300) + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_body_with_at_lines_is_output_raw(ready, http_server):
    body = oklines(50)
    assert (
        get(ready, http_server.url("/oklines/50"))
        == f"\r\n+QHTTPGET: 0,200,{len(body)}\r\n".encode()
    )
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n" + body + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_module_built_get_request_headers(ready, http_server):
    url = http_server.url("/headers")
    reply = get(ready, url)
    assert reply.startswith(b"\r\n+QHTTPGET: 0,200,")
    length = int(reply.strip().rsplit(b",", 1)[1])
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    headers = json.loads(ready.read_exact(length))
    assert headers == [
        ["Host", f"127.0.0.1:{http_server.port}"],
        ["Accept", "*/*"],
        ["User-Agent", "QUECTEL_MODULE"],
        ["Connection", "Keep-Alive"],
    ]
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_module_built_post_request_is_measured(ready, http_server):
    ready.command('AT+QHTTPCFG="contenttype",1')
    ready.command('AT+QHTTPCFG="responseheader",1')
    url = http_server.url("/echo")
    set_url_quiet(ready, url)
    ready.send(b"AT+QHTTPPOST=5,80,80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    ready.send(b"hello")
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,5\r\n")
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    head = ready.read_until(b"\r\n\r\n")
    expected = (
        f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{http_server.port}\r\nAccept: */*\r\n"
        "User-Agent: QUECTEL_MODULE\r\nConnection: Keep-Alive\r\nContent-Type: text/plain\r\n"
        "Content-Length: 5\r\n\r\nhello"
    )
    assert f"X-Request-Length: {len(expected)}\r\n".encode() in head
    ready.expect(b"hello\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_custom_get_request_header(ready, http_server):
    ready.command('AT+QHTTPCFG="requestheader",1')
    set_url_quiet(ready, http_server.url("/bytes/10"))
    request = f"GET /bytes/10 HTTP/1.1\r\nHost: 127.0.0.1:{http_server.port}\r\n\r\n".encode()
    ready.send(f"AT+QHTTPGET=80,{len(request)},80\r".encode())
    ready.expect(b"\r\nCONNECT\r\n")
    ready.send(request)
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPGET: 0,200,10\r\n")
    assert ready.command("AT+QHTTPGET=80,2049,80") == b"\r\n+CME ERROR: 730\r\n"


def test_post_of_1024000_bytes(ready, http_server):
    data = pattern_bytes(1024000, seed=3)
    set_url_quiet(ready, http_server.url("/echo"))
    ready.send(b"AT+QHTTPPOST=1024000,80,80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    ready.send(data)
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPPOST: 0,200,1024000\r\n", timeout=20)
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    assert ready.read_exact(1024000, timeout=20) == data
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    assert ready.command("AT+QHTTPPOST=1024001,80,80") == b"\r\n+CME ERROR: 730\r\n"


def test_post_input_time_expiry_is_726(ready, http_server):
    set_url_quiet(ready, http_server.url("/echo"))
    ready.send(b"AT+QHTTPPOST=100,1,80\r")
    ready.expect(b"\r\nCONNECT\r\n")
    ready.send(b"only a part")
    ready.expect(b"\r\n+CME ERROR: 726\r\n")


def test_read_to_file_and_post_file_round_trip(ready, sim, http_server):
    sim.ufs["up.bin"] = pattern_bytes(70000, seed=5)
    set_url_quiet(ready, http_server.url("/echo"))
    ready.send(b'AT+QHTTPPOSTFILE="up.bin",80\r')
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPPOSTFILE: 0,200,70000\r\n")
    ready.send(b'AT+QHTTPREADFILE="down.bin",80\r')
    ready.expect(b"\r\nOK\r\n\r\n+QHTTPREADFILE: 0\r\n")
    assert sim.ufs["down.bin"] == pattern_bytes(70000, seed=5)
    assert ready.command('AT+QHTTPPOSTFILE="missing.bin",80') == b"\r\n+CME ERROR: 405\r\n"


def test_errors_before_the_request(ready, sim, http_server):
    assert ready.command("AT+QHTTPGET=80") == b"\r\n+CME ERROR: 712\r\n"  # no URL
    assert ready.command("AT+QHTTPREAD=80") == b"\r\n+CME ERROR: 705\r\n"  # no request
    set_url_quiet(ready, http_server.url("/bytes/1"))
    ready.command("AT+QIDEACT=1")
    assert ready.command("AT+QHTTPGET=80") == b"\r\n+CME ERROR: 709\r\n"  # PDP down
    sim.sim_ready = False
    assert ready.command("AT+QHTTPGET=80") == b"\r\nERROR\r\n"  # HTTP note 4.1


def test_unknown_name_is_dns_error_714(ready, http_server):
    assert (
        get(ready, f"http://no-such-host.invalid:{http_server.port}/") == b"\r\n+QHTTPGET: 714\r\n"
    )
    set_url_quiet(ready, f"http://no-such-host.invalid:{http_server.port}/echo")
    assert ready.command("AT+QHTTPPOST=4,80,80") == b"\r\n+CME ERROR: 714\r\n"  # note 4.3


def test_hosts_table_is_the_module_dns(make_sim, at, http_server):
    simulator = make_sim(hosts={"api.example.test": "127.0.0.1"})
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    client.command("AT+QIACT=1")
    url = f"http://api.example.test:{http_server.port}/bytes/3"
    assert get(client, url) == b"\r\n+QHTTPGET: 0,200,3\r\n"
    # No DNS server on the context (HTTP note 4.3): names fail, IP literals work.
    client.command('AT+QIDNSCFG=1,"0.0.0.0","0.0.0.0"')
    assert get(client, url) == b"\r\n+QHTTPGET: 714\r\n"
    assert get(client, http_server.url("/bytes/3")) == b"\r\n+QHTTPGET: 0,200,3\r\n"


def test_connection_refused_is_716(ready):
    # Held bound but never listening: refused, and nobody else can take the port.
    with RefusingTcpPort() as refusing:
        port = refusing.port
        assert get(ready, f"http://127.0.0.1:{port}/") == b"\r\n+QHTTPGET: 716\r\n"
        set_url_quiet(ready, f"http://127.0.0.1:{port}/")
        assert ready.command("AT+QHTTPPOST=4,80,80") == b"\r\n+CME ERROR: 716\r\n"


def test_rsptime_expiry_is_728(ready):
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        # rsptime 2 s scaled by 0.05: the silent server makes it expire.
        assert get(ready, f"http://127.0.0.1:{port}/", rsptime=2) == b"\r\n+QHTTPGET: 728\r\n"
    finally:
        for conn, _ in accepted:
            conn.close()
        server.close()


def test_wait_time_expiry_mid_body_is_727(ready, http_server):
    assert get(ready, http_server.url("/slow/4000?delay=1.0")) == b"\r\n+QHTTPGET: 0,200,4000\r\n"
    ready.send(b"AT+QHTTPREAD=2\r")  # 2 s scaled = 0.1 s between packets
    ready.expect(b"\r\nCONNECT\r\n" + pattern_bytes(1000))
    ready.expect(b"\r\n+CME ERROR: 727\r\n", timeout=5)


def test_slow_body_within_wait_time_is_complete(ready, http_server):
    assert get(ready, http_server.url("/slow/4000?delay=0.1")) == b"\r\n+QHTTPGET: 0,200,4000\r\n"
    ready.send(b"AT+QHTTPREAD=80\r")
    ready.expect(b"\r\nCONNECT\r\n" + pattern_bytes(4000) + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")


def test_a_request_while_one_runs_is_busy_703(ready, http_server):
    set_url_quiet(ready, http_server.url("/slow/100?delay=0.3"))
    server = socket.create_server(("127.0.0.1", 0))
    try:
        port = server.getsockname()[1]
        set_url_quiet(ready, f"http://127.0.0.1:{port}/")
        ready.send(b"AT+QHTTPGET=20\r")  # 1 s: the server never answers
        ready.expect(b"\r\nOK\r\n")
        assert ready.command("AT+QHTTPGET=80") == b"\r\n+CME ERROR: 703\r\n"
        ready.expect(b"\r\n+QHTTPGET: 728\r\n", timeout=5)
    finally:
        server.close()
