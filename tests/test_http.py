"""modem.http through the simulator over a real socket, against real HTTP(S) servers
on 127.0.0.1 (tests/servers.py), with the CA uploaded through modem.files."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from lpwa import errors
from lpwa.at import Urc
from lpwa.http.request import MAX_POST, custom_request, parse_url
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import HTTPTestServer, oklines, pattern_bytes

# Through both shells (conftest.py): the HTTP procedures are one.
SHELLS = ("sync", "aio")

AFFECTED = "BG96MAR03A06M1G_01.005.01.005"  # 719 on QHTTPPOST and QHTTPPOSTFILE
HEALTHY = "BG95M3LAR02A03_01.006.01.006"
MiB = 1024 * 1024


def trust(modem: Modem, ca_pem: bytes, *, seclevel: int = 1) -> None:
    modem.files.upload("cacert.pem", ca_pem)
    modem.ssl.configure(1, sslversion=4, ciphersuite=0xFFFF, seclevel=seclevel, cacert="cacert.pem")
    modem.http.config(sslctxid=1)


# -- GET ----------------------------------------------------------------------------


def test_get_of_a_1mib_binary_body_is_exact(modem: Modem, http_server: HTTPTestServer) -> None:
    response = modem.http.get(http_server.url(f"/bytes/{MiB}"))
    assert response.status_code == 200
    assert response.content_length == MiB
    assert response.content == pattern_bytes(MiB)
    assert response.headers["content-length"] == str(MiB)


def test_https_get_with_the_ca_uploaded_verifies_the_server(
    modem: Modem, https_server: HTTPTestServer, ca_pem: bytes
) -> None:
    trust(modem, ca_pem)
    response = modem.http.get(https_server.url("/bytes/100000"))
    assert response.ok
    assert response.content == pattern_bytes(100000)


def test_https_server_not_signed_by_the_uploaded_ca_is_rejected(
    modem: Modem, https_server: HTTPTestServer
) -> None:
    from lpwa.cli.servers import demo_ca_pem

    trust(modem, demo_ca_pem())  # a CA that did not sign the test server
    with pytest.raises(errors.HTTPError) as info:
        modem.http.get(https_server.url("/bytes/10"))
    assert 701 <= info.value.code <= 730


def test_mutual_tls_with_client_certificate_at_seclevel_2(
    modem: Modem,
    https_mtls_server: HTTPTestServer,
    ca_pem: bytes,
    client_cert_pem: bytes,
    client_key_pem: bytes,
) -> None:
    modem.files.upload("cacert.pem", ca_pem)
    modem.files.upload("client.pem", client_cert_pem)
    modem.files.upload("client.key", client_key_pem)
    modem.ssl.configure(
        1, seclevel=2, cacert="cacert.pem", clientcert="client.pem", clientkey="client.key"
    )
    modem.http.config(sslctxid=1)
    assert modem.http.get(https_mtls_server.url("/bytes/64")).content == pattern_bytes(64)


def test_chunked_response_without_content_length(modem: Modem, http_server: HTTPTestServer) -> None:
    response = modem.http.get(http_server.url("/chunked/300000"))
    assert response.content_length is None
    assert response.content == pattern_bytes(300000)


def test_body_full_of_ok_and_trailer_lines_stays_intact(
    modem: Modem, http_server: HTTPTestServer
) -> None:
    response = modem.http.get(http_server.url("/oklines/20000"))
    assert response.content == oklines(20000)


def test_body_full_of_ok_lines_without_response_headers(
    modem: Modem, http_server: HTTPTestServer
) -> None:
    modem.http.config(responseheader=0)
    modem.http.response_headers = False  # lpwa does not ask for the head either
    response = modem.http.get(http_server.url("/oklines/5000"))
    assert response.content == oklines(5000)
    assert len(response.headers) == 0


@pytest.mark.parametrize("status", [404, 500])
def test_error_statuses_are_responses_not_exceptions(
    modem: Modem, http_server: HTTPTestServer, status: int
) -> None:
    response = modem.http.get(http_server.url(f"/status/{status}"))
    assert response.status_code == status
    assert not response.ok
    assert response.text == f"status {status}\n"
    with pytest.raises(errors.HTTPResponseError) as info:
        response.raise_for_status()
    assert info.value.status_code == status


def test_streamed_body_with_progress(modem: Modem, http_server: HTTPTestServer) -> None:
    seen: list[tuple[int, int | None]] = []
    response = modem.http.get(
        http_server.url("/bytes/200000"), stream=True, on_progress=lambda n, t: seen.append((n, t))
    )
    pieces = list(response.iter_content(4096))
    assert b"".join(pieces) == pattern_bytes(200000)
    assert all(len(p) == 4096 for p in pieces[:-1])
    assert seen[-1] == (200000, 200000)
    assert [n for n, _ in seen] == sorted(n for n, _ in seen)


def test_custom_request_headers_reach_the_server(modem: Modem, http_server: HTTPTestServer) -> None:
    response = modem.http.get(http_server.url("/headers"), headers={"X-Fleet": "gw-7"})
    sent = dict(response.json())
    assert sent["X-Fleet"] == "gw-7"
    assert sent["Host"] == f"127.0.0.1:{http_server.port}"


def test_truncated_body_raises_and_is_never_returned(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        sim.faults.truncate_read(after=5000, err=717)
        # Within an announced length every byte is body (a server could send the
        # trailer), so the cut shows as the body stalling past <wait_time>.
        with pytest.raises((errors.HTTPSocketReadError, errors.ATTimeout)):
            modem.http.get(http_server.url("/bytes/20000"), wait_time=2)


def test_stall_shorter_than_wait_time_is_waited_out(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        sim.faults.stall_read(after=1000, seconds=1.0)
        response = modem.http.get(http_server.url("/bytes/8000"), wait_time=3)
        assert response.content == pattern_bytes(8000)


def test_module_reboot_mid_read_raises_module_rebooted_then_recovers(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        sim.faults.reboot_during_read(after=3000)
        with pytest.raises(errors.ModuleRebooted):
            modem.http.get(http_server.url("/bytes/50000"), wait_time=2)
        sim.wait_booted()
        # The next command sets the session up again (ATE0 after the reboot).
        modem.network.activate(1, apn="internet")
        assert modem.http.get(http_server.url("/bytes/10")).content == pattern_bytes(10)


def test_urcs_arriving_mid_command_are_still_delivered(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem:
        modem.network.activate(1, apn="internet")
        got: list[Urc] = []
        done = threading.Event()

        def on_urc(urc: Urc) -> None:
            got.append(urc)
            done.set()

        modem.channel.subscribe(on_urc, lambda u: u.name == "+QIURC")
        sim.faults.urc_before_echo('+QIURC: "pdpdeact",1')
        response = modem.http.get(http_server.url("/bytes/1000"))
        assert response.content == pattern_bytes(1000)
        assert done.wait(5)
        assert got[0].fields == ["pdpdeact", "1"]


# -- POST and the 719 bug -------------------------------------------------------------

BOUNDARIES = [2048 * k + d for k in (1, 2, 3) for d in (-2, -1, 0, 1)]


def _request_length(url: str, body: bytes) -> int:
    return len(custom_request("POST", parse_url(url), {}, body, content_type="text/plain"))


def _body_for_total(url: str, total: int) -> bytes:
    """A body whose whole request (head included) is exactly ``total`` bytes."""
    size = total - _request_length(url, b"")
    while _request_length(url, b"x" * size) > total:  # Content-Length grows with size
        size -= 1
    body = pattern_bytes(size)
    assert _request_length(url, body) == total
    return body


@pytest.mark.parametrize("total", BOUNDARIES)
def test_https_post_around_2048_boundaries_on_affected_firmware(
    open_modem: Callable[..., Modem], https_server: HTTPTestServer, ca_pem: bytes, total: int
) -> None:
    modem = open_modem(firmware=AFFECTED)
    trust(modem, ca_pem)
    url = https_server.url("/echo")
    body = _body_for_total(url, total)
    response = modem.http.post(url, body, headers={}, content_type="text/plain")
    assert response.status_code == 200
    assert response.content == body
    sent = int(response.headers["X-Request-Length"])
    assert sent & 2048 == 0, "the module would have failed with 719"
    if total & 2048:
        assert response.padded_by > 0
        assert sent == total + response.padded_by
    else:
        assert response.padded_by == 0
        assert sent == total


@pytest.mark.parametrize("total", BOUNDARIES)
def test_https_post_around_2048_boundaries_on_healthy_firmware_is_never_padded(
    open_modem: Callable[..., Modem], https_server: HTTPTestServer, ca_pem: bytes, total: int
) -> None:
    modem = open_modem(firmware=HEALTHY)
    trust(modem, ca_pem)
    url = https_server.url("/echo")
    body = _body_for_total(url, total)
    response = modem.http.post(url, body, headers={}, content_type="text/plain")
    assert response.content == body
    assert response.padded_by == 0
    assert int(response.headers["X-Request-Length"]) == total


def test_plain_http_post_is_never_padded_even_on_affected_firmware(
    open_modem: Callable[..., Modem], http_server: HTTPTestServer
) -> None:
    modem = open_modem(firmware=AFFECTED)
    url = http_server.url("/echo")
    body = pattern_bytes(2100)
    response = modem.http.post(url, body, content_type="text/plain")
    assert response.padded_by == 0
    assert response.content == body


def test_module_built_post_with_the_module_content_type(
    modem: Modem, http_server: HTTPTestServer
) -> None:
    response = modem.http.post(http_server.url("/echo"), b"Message=HelloQuectel")
    assert response.content == b"Message=HelloQuectel"
    assert response.headers["X-Received-Length"] == "20"


def test_post_of_1024000_bytes(modem: Modem, http_server: HTTPTestServer) -> None:
    body = pattern_bytes(MAX_POST, seed=3)
    response = modem.http.post(http_server.url("/echo"), body)
    assert response.headers["X-Received-Length"] == str(MAX_POST)
    assert response.content == body


def test_post_file_and_read_file_round_trip(
    open_modem: Callable[..., Modem], https_server: HTTPTestServer, ca_pem: bytes
) -> None:
    modem = open_modem(firmware=HEALTHY)
    trust(modem, ca_pem)
    body = pattern_bytes(3000, seed=9)
    modem.files.upload("post.bin", body)
    response = modem.http.post_file(https_server.url("/echo"), "post.bin", stream=True)
    assert response.status_code == 200
    response.save("answer.bin")
    # The body only: lpwa asked for the head itself, the caller did not (issue 10 item 6).
    assert modem.files.download("answer.bin") == body
    assert response.headers["X-Received-Length"] == "3000"


def test_post_file_on_affected_firmware_is_sent_padded(
    open_modem: Callable[..., Modem], https_server: HTTPTestServer, ca_pem: bytes
) -> None:
    modem = open_modem(firmware=AFFECTED)
    trust(modem, ca_pem)
    body = pattern_bytes(2000, seed=5)  # with the module's head: bit 11 set
    modem.files.upload("post.bin", body)
    response = modem.http.post_file(https_server.url("/echo"), "post.bin")
    assert response.content == body
    assert response.padded_by > 0
    assert int(response.headers["X-Request-Length"]) & 2048 == 0


# -- arguments are checked before anything is sent -------------------------------------


def _sent(modem: Modem) -> list[bytes]:
    lines: list[bytes] = []
    modem.channel.on_trace = lambda d, kind, data: lines.append(data) if d == ">" else None
    return lines


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: m.http.get("ftp://127.0.0.1/x"), errors.ParameterError),
        (lambda m: m.http.get("http://127.0.0.1/" + "a" * 700), errors.ParameterError),
        (lambda m: m.http.get("http://127.0.0.1/", rsptime=0), errors.ParameterError),
        (lambda m: m.http.get("http://127.0.0.1/", wait_time=65536), errors.ParameterError),
        (
            lambda m: m.http.get("http://127.0.0.1/", headers={"X-Big": "a" * 2100}),
            errors.ParameterError,
        ),
        (lambda m: m.http.post("http://127.0.0.1/", b""), errors.ParameterError),
        (lambda m: m.http.post("http://127.0.0.1/", b"a" * (MAX_POST + 1)), errors.ParameterError),
        (lambda m: m.http.config(contextid=17), errors.ParameterError),
        (lambda m: m.http.config(bogus=1), errors.ParameterError),
        (lambda m: m.ssl.configure(6, seclevel=1), errors.ParameterError),
        (lambda m: m.ssl.configure(1, seclevel=3), errors.ParameterError),
        (lambda m: m.files.upload("x" * 81, b"a"), errors.ParameterError),
        (lambda m: m.network.activate(17), errors.ParameterError),
    ],
)
def test_out_of_range_arguments_raise_before_sending(
    modem: Modem, call: Callable[[Modem], object], error: type[Exception]
) -> None:
    sent = _sent(modem)
    with pytest.raises(error):
        call(modem)
    assert sent == []


def test_url_of_700_bytes_is_accepted(modem: Modem, http_server: HTTPTestServer) -> None:
    base = http_server.url("/status/404?pad=")
    url = base + "a" * (700 - len(base))
    assert len(url) == 700
    assert modem.http.get(url).status_code == 404


def test_dns_error_is_typed_with_code_and_meaning(modem: Modem) -> None:
    with pytest.raises(errors.HTTPDNSError) as info:
        modem.http.get("http://no-such-host.invalid/", retries=0)
    assert info.value.code == 714
    assert info.value.meaning == "HTTP(S) DNS error"


def test_dns_error_recovery_reactivates_the_context_then_raises(modem: Modem) -> None:
    sent = _sent(modem)
    with pytest.raises(errors.HTTPDNSError):
        modem.http.get("http://no-such-host.invalid/", retries=1)
    assert b"AT+QIDEACT=1\r" in sent
    assert b"AT+QIACT=1\r" in sent


def test_request_without_active_context_fails_typed(
    make_sim: Callable[..., Simulator], http_server: HTTPTestServer
) -> None:
    sim = make_sim()
    with Modem.open(sim.url) as modem, pytest.raises(errors.HTTPError):
        modem.http.get(http_server.url("/bytes/10"), retries=0)


def test_config_round_trips_every_key(modem: Modem) -> None:
    values = modem.http.config(
        contextid=2, requestheader=1, responseheader=0, sslctxid=3, contenttype=2
    )
    assert values == {
        "contextid": 2,
        "requestheader": 1,
        "responseheader": 0,
        "sslctxid": 3,
        "contenttype": 2,
    }
