"""The ``lpwa`` command, run for real: each test starts ``python -m lpwa.cli`` as a
subprocess (``--port sim`` starts a simulator inside it) against the shared local
servers on 127.0.0.1, and checks its output bytes and exit status.

Exit status: 0 success, 1 error (one line ``lpwa: <ErrorClass>: <message>``),
2 usage error or a non-2xx / non-2.xx answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from servers import CoAPTestServer, HTTPTestServer, coap_bytes, pattern_bytes

TIMEOUT = 60
COMMANDS = ["demo", "info", "http", "coap", "trace", "sim"]
AFFECTED_719 = "BG96MAR03A06M1G_01.005.01.005"


def lpwa(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``lpwa ARGS`` to completion (bounded); stdout and stderr as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "lpwa.cli", *args],
        capture_output=True,
        timeout=TIMEOUT,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def one_line_error(result: subprocess.CompletedProcess[bytes], error_class: str) -> str:
    """The single stderr line of a failed run; asserts its form."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"lpwa: {error_class}: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def ca_file(ca_pem: bytes, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test CA, as a PEM file for ``--cacert``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(ca_pem)
    return str(path)


def coap_url(server: CoAPTestServer, path: str) -> str:
    return f"coap://127.0.0.1:{server.port}{path}"


# -- help and usage ------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    result = lpwa("--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert text.startswith("usage: lpwa ")
    for command in COMMANDS:
        assert f"    {command} " in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = lpwa(command, "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    assert text.startswith(f"usage: lpwa {command} ")
    assert "-h, --help" in text


def test_sim_help_lists_the_simulator_options() -> None:
    text = lpwa("sim", "--help").stdout.decode()
    for option in ("--firmware", "--port", "--no-pty", "--time-scale"):
        assert option in text


def test_version_names_the_package() -> None:
    result = lpwa("--version")
    assert result.returncode == 0
    assert result.stdout.decode().startswith("lpwa ")


def test_no_command_is_a_usage_error() -> None:
    result = lpwa()
    assert result.returncode == 2
    assert b"usage: lpwa" in result.stderr


def test_python_dash_m_and_the_script_agree() -> None:
    script = Path(sys.executable).with_name("lpwa")
    if not script.exists():
        pytest.skip("the lpwa script is not installed next to this interpreter")
    direct = subprocess.run(
        [str(script), "--help"], capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert direct.returncode == 0
    assert direct.stdout == lpwa("--help").stdout


# -- demo and info --------------------------------------------------------------------


def test_demo_quiet_succeeds_six_of_six() -> None:
    result = lpwa("demo", "--quiet")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert "6 of 6 steps succeeded" in result.stdout.decode()


def test_demo_fleet_shows_one_reboot_among_several_modules() -> None:
    result = lpwa("demo", "--fleet", "8")
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "Opened 8 of 8 modules" in out
    rows = [line for line in out.splitlines() if line.startswith("  ok ")]
    # Eight first visits (one of them the expected ModuleRebooted) and its retry.
    assert len(rows) == 9
    assert sum("ModuleRebooted" in row for row in rows) == 1
    assert "URCs from 8 modules" in out
    assert out.rstrip().endswith("every module did what it should")


def test_demo_fleet_refuses_an_absurd_count() -> None:
    result = lpwa("demo", "--fleet", "0")
    assert result.returncode == 2
    assert b"--fleet" in result.stderr


def test_info_on_sim_prints_identity_sim_and_registration() -> None:
    result = lpwa("info", "--port", "sim")
    assert result.returncode == 0, result.stderr
    # "name<padding>  value" rows; names may contain single spaces.
    rows = dict(
        re.split(r"\s{2,}", line, maxsplit=1) for line in result.stdout.decode().splitlines()
    )
    assert rows["model"] == "BG96"
    assert rows["firmware"] == "BG96MAR02A07M1G_01.016.01.016"
    assert rows["SIM"] == "READY"
    assert rows["registration"] == "home (stat 1)"


def test_info_firmware_option_picks_the_simulated_module() -> None:
    result = lpwa("info", "--port", "sim", "--firmware", "BG95M3LAR02A03_01.012.01.012")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "BG95" in text.splitlines()[0]
    assert "BG95M3LAR02A03_01.012.01.012" in text


# -- http -----------------------------------------------------------------------------


def test_http_get_writes_the_exact_body_to_stdout(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/5000"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(5000)
    assert result.stderr.decode().splitlines()[-1] == "HTTP 200 OK"


def test_http_get_output_option_writes_the_file(
    http_server: HTTPTestServer, tmp_path: Path
) -> None:
    target = tmp_path / "body.bin"
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/3000"), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert target.read_bytes() == pattern_bytes(3000)


def test_http_get_body_with_at_lines_is_exact(http_server: HTTPTestServer) -> None:
    from servers import oklines

    result = lpwa("http", "get", "--port", "sim", http_server.url("/oklines/200"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == oklines(200)


def test_https_get_verifies_the_server_with_cacert(
    https_server: HTTPTestServer, ca_file: str
) -> None:
    url = https_server.url("/bytes/2048")
    result = lpwa("http", "get", "--port", "sim", url, "--cacert", ca_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(2048)


def test_http_get_large_body_draws_a_progress_bar_on_stderr(
    https_server: HTTPTestServer, ca_file: str, tmp_path: Path
) -> None:
    target = tmp_path / "large.bin"
    url = https_server.url("/bytes/300000")
    result = lpwa("http", "get", "--port", "sim", url, "--cacert", ca_file, "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == pattern_bytes(300000)
    lines = result.stderr.decode().splitlines()
    # Off a terminal the bar is written once, in its final state.
    assert lines[0].startswith("  body [" + "#" * 30 + "]   293.0/293.0 KiB")
    assert lines[1] == "HTTP 200 OK"


def test_http_get_small_body_draws_no_progress_bar(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/100"))
    assert result.stderr.decode() == "HTTP 200 OK\n"


def test_http_get_non_2xx_exits_2_with_the_body(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/status/404"))
    assert result.returncode == 2
    assert result.stdout == b"status 404\n"
    assert result.stderr.decode().splitlines()[-1] == "HTTP 404 Not Found"


def test_http_get_header_option_reaches_the_server(http_server: HTTPTestServer) -> None:
    url = http_server.url("/headers")
    result = lpwa("http", "get", "--port", "sim", url, "--header", "X-Probe: 42")
    assert result.returncode == 0, result.stderr
    assert ["X-Probe", "42"] in json.loads(result.stdout)


def test_http_post_data_from_file_is_echoed(http_server: HTTPTestServer, tmp_path: Path) -> None:
    body = pattern_bytes(4000, seed=3)
    source = tmp_path / "body.bin"
    source.write_bytes(body)
    result = lpwa("http", "post", "--port", "sim", http_server.url("/echo"), "--data", f"@{source}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == body


def test_http_post_data_text_is_sent_as_utf8(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "post", "--port", "sim", http_server.url("/echo"), "--data", "héllo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "héllo".encode()


def test_https_post_on_719_firmware_reports_the_padding(
    https_server: HTTPTestServer, ca_file: str, tmp_path: Path
) -> None:
    body = b"a" * 2500  # request length with bit 11 set: fails with 719 unless padded
    source = tmp_path / "body.txt"
    source.write_bytes(body)
    url = https_server.url("/echo")
    result = lpwa(
        "http", "post", "--port", "sim", "--firmware", AFFECTED_719, url,
        "--data", f"@{source}", "--cacert", ca_file,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == body
    status = result.stderr.decode().splitlines()[-1]
    assert status.startswith("HTTP 200 OK (padded by ")
    assert status.endswith(" bytes against error 719)")


def test_http_post_to_a_status_route_exits_2(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "post", "--port", "sim", http_server.url("/status/500"), "--data", "x")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines()[-1] == "HTTP 500 Internal Server Error"


# -- coap -----------------------------------------------------------------------------


def test_coap_get_prints_the_payload(coap_server: CoAPTestServer) -> None:
    result = lpwa("coap", "get", "--port", "sim", coap_url(coap_server, "/hello"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello, CoAP!"
    assert result.stderr == b"2.05 CONTENT\n"


def test_coap_get_binary_payload_is_exact(coap_server: CoAPTestServer) -> None:
    result = lpwa("coap", "get", "--port", "sim", coap_url(coap_server, "/bytes?n=200"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == coap_bytes(200)


def test_coap_post_echoes_the_payload(coap_server: CoAPTestServer) -> None:
    url = coap_url(coap_server, "/echo")
    result = lpwa("coap", "post", "--port", "sim", url, "--payload", "t=21.5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"t=21.5"
    assert result.stderr == b"2.04 CHANGED\n"


def test_coap_put_non_confirmable_with_payload_file(
    coap_server: CoAPTestServer, tmp_path: Path
) -> None:
    source = tmp_path / "payload.bin"
    source.write_bytes(b"\x00\x01\r\nOK\r\n")
    url = coap_url(coap_server, "/echo")
    result = lpwa("coap", "put", "--port", "sim", url, "--non", "--payload", f"@{source}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"\x00\x01\r\nOK\r\n"
    assert result.stderr == b"2.01 CREATED\n"


def test_coap_delete(coap_server: CoAPTestServer) -> None:
    result = lpwa("coap", "delete", "--port", "sim", coap_url(coap_server, "/item"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert result.stderr == b"2.02 DELETED\n"


def test_coap_not_found_exits_2(coap_server: CoAPTestServer) -> None:
    result = lpwa("coap", "get", "--port", "sim", coap_url(coap_server, "/nowhere"))
    assert result.returncode == 2
    assert result.stderr == b"4.04 NOT_FOUND\n"


def test_coap_server_error_exits_2(coap_server: CoAPTestServer) -> None:
    result = lpwa("coap", "get", "--port", "sim", coap_url(coap_server, "/fail"))
    assert result.returncode == 2
    assert result.stdout == b"boom"
    assert result.stderr == b"5.00 INTERNAL_SERVER_ERROR\n"


# -- errors: one line, exit 1 ----------------------------------------------------------


def test_http_url_without_scheme_is_a_one_line_error() -> None:
    line = one_line_error(lpwa("http", "get", "--port", "sim", "example.org/x"), "ParameterError")
    assert "'example.org/x'" in line


def test_coap_url_with_wrong_scheme_is_a_one_line_error() -> None:
    line = one_line_error(lpwa("coap", "get", "http://127.0.0.1/x"), "ParameterError")
    assert "coap://" in line


def test_unknown_port_path_is_a_one_line_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-tty")
    line = one_line_error(lpwa("info", "--port", missing), "TransportError")
    assert missing in line


def test_refused_socket_port_is_a_one_line_error() -> None:
    from servers import RefusingTcpPort

    with RefusingTcpPort() as refusing:  # bound, never listening: refused
        port = refusing.port
        one_line_error(lpwa("info", "--port", f"socket://127.0.0.1:{port}"), "TransportError")


def test_http_post_without_data_is_a_one_line_error(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "post", "--port", "sim", http_server.url("/echo"))
    assert "needs --data" in one_line_error(result, "ParameterError")


def test_missing_data_file_is_a_one_line_error(http_server: HTTPTestServer, tmp_path: Path) -> None:
    missing = tmp_path / "absent.bin"
    result = lpwa(
        "http", "post", "--port", "sim", http_server.url("/echo"), "--data", f"@{missing}"
    )
    one_line_error(result, "FileNotFoundError")


def test_malformed_header_option_is_a_one_line_error(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/1"), "--header", "bad")
    assert "K:V" in one_line_error(result, "ParameterError")


def test_unknown_firmware_is_a_one_line_error() -> None:
    line = one_line_error(lpwa("info", "--port", "sim", "--firmware", "BG00"), "ValueError")
    assert "'BG00'" in line


def test_refused_http_connection_is_a_one_line_module_error() -> None:
    from servers import RefusingTcpPort

    with RefusingTcpPort() as refusing:  # bound, never listening: refused
        result = lpwa("http", "get", "--port", "sim", f"http://127.0.0.1:{refusing.port}/x")
    assert "716" in one_line_error(result, "HTTPSocketConnectError")


def test_verbose_adds_the_traceback() -> None:
    result = lpwa("-v", "coap", "get", "http://127.0.0.1/x")
    assert result.returncode == 1
    assert b"Traceback (most recent call last)" in result.stderr
    assert result.stderr.decode().splitlines()[-1].startswith("lpwa: ParameterError: ")
