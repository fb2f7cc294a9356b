"""``lpwa -v`` shows the whole AT exchange, both directions, escaped, with secrets
redacted per command (issue 12): the ``AT+QICSGP`` password, custom request
headers, the ``AT+QFUPL`` data of key and PSK files.

The command runs as a subprocess for what the CLI itself sends; the tracer is also
hooked on a real channel to a simulator for the commands the CLI has no option for
(credentials, key uploads), with the module's answers that echo them.
"""

from __future__ import annotations

import io

import pytest

from cli_run import lpwa
from lpwa.at import ATChannel
from lpwa.cli.verbose import ATTrace, escape
from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import HTTPTestServer

SECRET = "s3cret-Zq9"


def test_verbose_shows_both_directions_escaped(http_server: HTTPTestServer) -> None:
    result = lpwa("-v", "http", "get", "--port", "sim", http_server.url("/bytes/20"))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.decode().splitlines()
    # What lpwa wrote, with the CR that ends a command line shown escaped...
    assert "> ATE0\\r" in lines
    assert "> AT+QHTTPGET=60\\r" in lines
    # ...and what the module answered, kind by kind.
    assert "< final   OK" in lines
    assert any(ln.startswith("< urc     +QHTTPGET: 0,200") for ln in lines)
    assert any(ln.startswith("> data    http://127.0.0.1:") for ln in lines)
    (body,) = [ln for ln in lines if ln.startswith("< body    ")]
    # The response head and body, CR LF escaped, on one line.
    assert "HTTP/1.0 200 OK\\r\\n" in body or "HTTP/1.1 200 OK\\r\\n" in body
    assert lines[-1] == "HTTP 200 OK"


def test_verbose_may_follow_the_command_as_in_curl(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/20"), "-v")
    assert result.returncode == 0, result.stderr
    assert "> AT+QHTTPGET=60\\r" in result.stderr.decode().splitlines()


def test_verbose_redacts_custom_request_headers(http_server: HTTPTestServer) -> None:
    # (That the header reaches the server is test_cli.py's header test.)
    url = http_server.url("/bytes/30")  # a route that does not echo the request back
    result = lpwa(
        "-v", "http", "get", "--port", "sim", url,
        "--header", f"Authorization: Bearer {SECRET}", "--header", "X-Probe: visible",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    err = result.stderr.decode()
    assert SECRET not in err
    assert "Authorization: ***\\r\\n" in err
    assert "X-Probe: visible\\r\\n" in err


@pytest.mark.lpwa_simulator(time_scale=0.05)
def test_trace_redacts_the_qicsgp_password_and_key_file_uploads(
    lpwa_simulator: Simulator,
) -> None:
    out = io.StringIO()
    channel = ATChannel.open(lpwa_simulator.url)
    channel.on_trace = ATTrace(out)
    with Modem(channel) as modem:
        modem.network.configure(1, "apn.example", "fleet", SECRET)
        modem.command("AT+QICSGP=1")  # the module answers with the password too
        modem.files.upload("0_server.psk", f"gw-0042&{SECRET}".encode())
        modem.files.upload("cert.pem", b"-----BEGIN CERTIFICATE-----\r\nMIIB\r\n")
    text = out.getvalue()
    assert SECRET not in text
    assert '> AT+QICSGP=1,1,"apn.example","fleet","***",' in text
    assert '< line    +QICSGP: 1,"apn.example","fleet","***",' in text
    assert "bytes redacted>" in text
    # Not everything is hidden: a certificate upload shows, escaped.
    assert "> data    -----BEGIN CERTIFICATE-----\\r\\nMIIB\\r\\n" in text


def test_escape_makes_every_byte_visible() -> None:
    assert escape("a\r\n\t\\\x00\x1a\xe9") == "a\\r\\n\\t\\\\\\x00\\x1a\\xe9"
