"""``lpwa http`` and ``lpwa coap`` change no module configuration they were not asked
to (issue 12): the APN and credentials stored for PDP context 1 (``AT+QICSGP=1``)
and the ``AT+QHTTPCFG`` keys read the same before and after a run.

The module is a simulator in this process; the command runs as a subprocess
against its ``socket://`` port; the configuration is read with raw AT commands
(``tests/conftest.py`` ``RawAT``), not with lpwa's own client.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from cli_run import lpwa
from conftest import RawAT
from lpwa.sim import Simulator
from servers import CoAPTestServer, HTTPTestServer, pattern_bytes

STORED = 'AT+QICSGP=1,1,"iot.operator.example","fleet","s3cret",2'


def query(at: Callable[[Simulator], RawAT], sim: Simulator, line: str) -> list[str]:
    """The information lines ``line`` answers, over a fresh raw connection."""
    client = at(sim)
    try:
        reply = client.command(line).decode()
    finally:
        client.close()
    assert reply.endswith("\r\nOK\r\n"), reply
    return [ln for ln in reply.split("\r\n") if ln.startswith("+")]


def store_apn(at: Callable[[Simulator], RawAT], sim: Simulator) -> list[str]:
    client = at(sim)
    try:
        assert client.command(STORED).endswith(b"\r\nOK\r\n")
    finally:
        client.close()
    return query(at, sim, "AT+QICSGP=1")


def test_http_get_without_apn_leaves_qicsgp_as_stored(
    sim: Simulator, at: Callable[[Simulator], RawAT], http_server: HTTPTestServer
) -> None:
    before = store_apn(at, sim)
    assert before == ['+QICSGP: 1,"iot.operator.example","fleet","s3cret",2']
    result = lpwa("http", "get", "--port", sim.url, http_server.url("/bytes/100"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(100)
    assert query(at, sim, "AT+QICSGP=1") == before


def test_coap_get_without_apn_leaves_qicsgp_as_stored(
    sim: Simulator, at: Callable[[Simulator], RawAT], coap_server: CoAPTestServer
) -> None:
    before = store_apn(at, sim)
    url = f"coap://127.0.0.1:{coap_server.port}/hello"
    result = lpwa("coap", "get", "--port", sim.url, url)
    assert result.returncode == 0, result.stderr
    assert query(at, sim, "AT+QICSGP=1") == before


def test_http_with_apn_configures_the_context(
    sim: Simulator, at: Callable[[Simulator], RawAT], http_server: HTTPTestServer
) -> None:
    store_apn(at, sim)
    url = http_server.url("/bytes/10")
    result = lpwa("http", "get", "--port", sim.url, url, "--apn", "asked.example")
    assert result.returncode == 0, result.stderr
    (line,) = query(at, sim, "AT+QICSGP=1")
    assert line.startswith('+QICSGP: 1,"asked.example"')


def test_http_get_restores_the_qhttpcfg_keys_it_changes(
    sim: Simulator, at: Callable[[Simulator], RawAT], http_server: HTTPTestServer
) -> None:
    # The request needs responseheader=1 and, with --header, requestheader=1.
    before = query(at, sim, "AT+QHTTPCFG?")
    assert '+QHTTPCFG: "responseheader",0' in before
    assert '+QHTTPCFG: "requestheader",0' in before
    url = http_server.url("/headers")
    result = lpwa("http", "get", "--port", sim.url, url, "--header", "X-Probe: 1")
    assert result.returncode == 0, result.stderr
    assert query(at, sim, "AT+QHTTPCFG?") == before


def test_failed_http_request_still_restores_the_qhttpcfg_keys(
    sim: Simulator, at: Callable[[Simulator], RawAT]
) -> None:
    before = query(at, sim, "AT+QHTTPCFG?")
    # A name the simulator cannot resolve: +CME ERROR: 714 after the keys were set.
    result = lpwa("http", "get", "--port", sim.url, "http://nowhere.invalid/x")
    assert result.returncode == 1
    assert re.match(rb"lpwa: HTTPDNSError: ", result.stderr), result.stderr
    assert query(at, sim, "AT+QHTTPCFG?") == before


SSL_QUERIES = [
    f'AT+QSSLCFG="{key}",1' for key in ("sslversion", "ciphersuite", "seclevel", "sni", "cacert")
]


def test_https_with_cacert_leaves_ssl_context_1_and_the_ufs_as_found(
    make_sim: Callable[..., Simulator],
    at: Callable[[Simulator], RawAT],
    https_server: HTTPTestServer,
    ca_pem: bytes,
    tmp_path: Path,
) -> None:
    # A BG95 build: it knows sni (and checkhost), which configure() turns on.
    sim = make_sim(firmware="BG95M3LAR02A03_01.204.01.204")
    client = at(sim)
    try:
        assert client.command('AT+QSSLCFG="seclevel",1,0').endswith(b"OK\r\n")
        assert client.command('AT+QSSLCFG="sslversion",1,3').endswith(b"OK\r\n")
    finally:
        client.close()
    before = [query(at, sim, q) for q in SSL_QUERIES]
    files_before = query(at, sim, 'AT+QFLST="*"')
    ca = tmp_path / "ca.pem"
    ca.write_bytes(ca_pem)
    url = https_server.url("/bytes/10")
    result = lpwa("http", "get", "--port", sim.url, "--cacert", str(ca), url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(10)
    assert [query(at, sim, q) for q in SSL_QUERIES] == before
    assert query(at, sim, 'AT+QFLST="*"') == files_before
