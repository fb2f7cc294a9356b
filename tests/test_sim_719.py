"""The BG96 error 719 quirk (spec/002_*): HTTPS POSTs fail when bit 11 of the total
request length is set, on the affected builds and commands only."""

from __future__ import annotations

import pytest

from lpwa import quirks

# The thread's table, plus the first post's two files (1554 OK, 2061 fail).
TABLE = [
    (1554, True),
    (2047, True),
    (2048, False),
    (2061, False),
    (4095, False),
    (4096, True),
    (6143, True),
    (6144, False),
    (8191, False),
    (8192, True),
    (10239, True),
    (10240, False),
    (12287, False),
    (12288, True),
    (14335, True),
    (14336, False),
]


def custom_request(port: int, total: int) -> bytes:
    """A full POST request (header + body) of exactly ``total`` bytes."""

    def head(body_length: int) -> bytes:
        return (
            f"POST /echo HTTP/1.1\r\nHost: localhost:{port}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {body_length}\r\n\r\n"
        ).encode()

    body_length = total - len(head(total))
    while len(head(body_length)) + body_length != total:
        body_length = total - len(head(body_length))
    request = head(body_length) + b"x" * body_length
    assert len(request) == total
    return request


def module(make_sim, at, firmware: str, server, *, requestheader: int = 1):
    simulator = make_sim(firmware=firmware)
    client = at(simulator)
    client.send(b"ATE0\r")
    client.read_final()
    for command in (
        "AT+QIACT=1",
        f'AT+QHTTPCFG="requestheader",{requestheader}',
        'AT+QHTTPCFG="responseheader",1',
        'AT+QSSLCFG="seclevel",1,0',
    ):
        assert client.command(command) == b"\r\nOK\r\n"
    url = server.url("/echo", host="localhost").encode()
    client.send(f"AT+QHTTPURL={len(url)},80\r".encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(url)
    client.expect(b"\r\nOK\r\n")
    return simulator, client


def post(client, request: bytes) -> bytes:
    client.send(f"AT+QHTTPPOST={len(request)},80,80\r".encode())
    client.expect(b"\r\nCONNECT\r\n")
    client.send(request)
    client.expect(b"\r\nOK\r\n")
    return client.read_until(b"\r\n") + client.read_until(b"\r\n")


def post_file(simulator, client, request: bytes) -> bytes:
    simulator.ufs["HTTPPOST.TMP"] = request
    client.send(b'AT+QHTTPPOSTFILE="HTTPPOST.TMP",80\r')
    client.expect(b"\r\nOK\r\n")
    return client.read_until(b"\r\n") + client.read_until(b"\r\n")


def request_length_seen_by_server(client) -> int:
    client.send(b"AT+QHTTPREAD=80\r")
    client.expect(b"\r\nCONNECT\r\n")
    head = client.read_until(b"\r\n\r\n")
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line)
    client.read_exact(int(fields["Content-Length"]))
    client.expect(b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n")
    return int(fields["X-Request-Length"])


@pytest.mark.parametrize(
    "firmware", ["BG96MAR02A07M1G_01.011.01.011", "BG96MAR03A06M1G_01.005.01.005"]
)
def test_every_row_of_the_table_with_qhttppostfile(make_sim, at, https_server, firmware):
    simulator, client = module(make_sim, at, firmware, https_server)
    for total, works in TABLE:
        request = custom_request(https_server.port, total)
        reply = post_file(simulator, client, request)
        if works:
            assert reply.startswith(b"\r\n+QHTTPPOSTFILE: 0,200,"), (total, reply)
            assert request_length_seen_by_server(client) == total
        else:
            assert reply == b"\r\n+QHTTPPOSTFILE: 719\r\n", (total, reply)


@pytest.mark.parametrize(
    "firmware", ["BG96MAR02A07M1G_01.011.01.011", "BG96MAR04A02M1G_02.002.01.002"]
)
def test_every_row_of_the_table_with_qhttppost(make_sim, at, https_server, firmware):
    _, client = module(make_sim, at, firmware, https_server)
    for total, works in TABLE:
        reply = post(client, custom_request(https_server.port, total))
        if works:
            assert reply.startswith(b"\r\n+QHTTPPOST: 0,200,"), (total, reply)
            assert request_length_seen_by_server(client) == total
        else:
            assert reply == b"\r\n+QHTTPPOST: 719\r\n", (total, reply)


def test_r02a07_016_fails_with_postfile_but_not_with_post(make_sim, at, https_server):
    # "using BG96MAR02A07M1G_01.016.01.016 and the AT+QHTTPPOST command without a
    # problem for months"; with AT+QHTTPPOSTFILE "modules with an older firmware now
    # return error 719".
    simulator, client = module(make_sim, at, "BG96MAR02A07M1G_01.016.01.016", https_server)
    request = custom_request(https_server.port, 2048)
    assert post(client, request).startswith(b"\r\n+QHTTPPOST: 0,200,")
    request_length_seen_by_server(client)
    assert post_file(simulator, client, request) == b"\r\n+QHTTPPOSTFILE: 719\r\n"


@pytest.mark.parametrize("firmware", ["BG95M3LAR02A03_01.006.01.006", "BG77LAR02A04_01.003.01.003"])
def test_bg95_and_bg77_are_not_affected(make_sim, at, https_server, firmware):
    simulator, client = module(make_sim, at, firmware, https_server)
    for total in (2048, 4095, 6144):
        request = custom_request(https_server.port, total)
        assert post(client, request).startswith(b"\r\n+QHTTPPOST: 0,200,")
        assert request_length_seen_by_server(client) == total
        assert post_file(simulator, client, request).startswith(b"\r\n+QHTTPPOSTFILE: 0,200,")
        assert request_length_seen_by_server(client) == total


def test_plain_http_is_never_affected(make_sim, at, http_server):
    _, client = module(make_sim, at, "BG96MAR02A07M1G_01.011.01.011", http_server)
    request = custom_request(http_server.port, 2048)
    assert post(client, request).startswith(b"\r\n+QHTTPPOST: 0,200,")
    assert request_length_seen_by_server(client) == 2048


def test_the_module_built_request_is_what_is_measured(make_sim, at, https_server):
    _, client = module(make_sim, at, "BG96MAR02A07M1G_01.011.01.011", https_server, requestheader=0)
    header = (
        f"POST /echo HTTP/1.1\r\nHost: localhost:{https_server.port}\r\nAccept: */*\r\n"
        "User-Agent: QUECTEL_MODULE\r\nConnection: Keep-Alive\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1900\r\n\r\n"
    )  # only its length matters: the real Content-Length also has 4 digits
    ok_body = b"a" * (2047 - len(header))
    assert post(client, ok_body).startswith(b"\r\n+QHTTPPOST: 0,200,")
    assert request_length_seen_by_server(client) == 2047
    assert post(client, b"a" * (2048 - len(header))) == b"\r\n+QHTTPPOST: 719\r\n"


def test_quirks_profiles():
    assert quirks.profile_for("BG96MAR03A06M1G_01.005.01.005").https_post_719 == {
        "QHTTPPOST",
        "QHTTPPOSTFILE",
    }
    assert quirks.profile_for("BG96MAR02A07M1G_01.016.01.016").https_post_719 == {"QHTTPPOSTFILE"}
    assert quirks.profile_for("BG95M3LAR02A03_01.006.01.006").https_post_719 == frozenset()
    q = quirks.profile_for("BG96MAR02A07M1G_01.011.01.011")
    assert q.fails_719("AT+QHTTPPOST", 2048)
    assert not q.fails_719("QHTTPPOST", 2048, https=False)
    assert not q.fails_719("QHTTPPOST", 4096)


@pytest.mark.parametrize(("total", "works"), TABLE)
def test_padding_clears_bit_11(total, works):
    assert quirks.affected_by_719(total) is (not works)
    padded = total + quirks.padding_for_719(total)
    assert not quirks.affected_by_719(padded)
    assert (padded == total) is works
