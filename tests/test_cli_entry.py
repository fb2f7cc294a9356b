"""Ways into the command line and the built-in simulator's name resolution (issue 12):
``python -m lpwa``, ``--host NAME=IP`` / ``--system-dns`` and the DNS error that says
how to use them, and the README's ``pytest benches --benchmark-only``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from servers import CoAPTestServer, HTTPTestServer, pattern_bytes

TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[1]
NAME = "gateway.test"  # RFC 2606: never a real name


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


# -- python -m lpwa -----------------------------------------------------------------


def test_python_dash_m_lpwa_is_the_command() -> None:
    result = run("-m", "lpwa", "--help")
    assert result.returncode == 0
    assert result.stdout.decode().startswith("usage: lpwa ")
    assert result.stdout == run("-m", "lpwa.cli", "--help").stdout


def test_python_dash_m_lpwa_runs_a_command(http_server: HTTPTestServer) -> None:
    result = run("-m", "lpwa", "http", "get", http_server.url("/bytes/64"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(64)


# -- --host and --system-dns --------------------------------------------------------


def test_unknown_name_fails_with_a_hint_naming_both_options(http_server: HTTPTestServer) -> None:
    url = http_server.url("/bytes/8", host=NAME)
    result = run("-m", "lpwa", "http", "get", url)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lpwa: HTTPDNSError: ")
    assert "--host NAME=IP" in lines[0] and "--system-dns" in lines[0]


def test_host_option_resolves_a_name_for_http(http_server: HTTPTestServer) -> None:
    url = http_server.url("/bytes/8", host=NAME)
    result = run("-m", "lpwa", "http", "get", url, "--host", f"{NAME}=127.0.0.1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(8)


def test_host_option_is_repeatable_and_serves_coap(coap_server: CoAPTestServer) -> None:
    url = f"coap://{NAME}:{coap_server.port}/hello"
    result = run(
        "-m", "lpwa", "coap", "get", url,
        "--host", "other.test=127.0.0.9", "--host", f"{NAME}=127.0.0.1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"Hello, CoAP!"


def test_coap_unknown_name_fails_with_the_hint(coap_server: CoAPTestServer) -> None:
    result = run("-m", "lpwa", "coap", "get", f"coap://{NAME}:{coap_server.port}/hello")
    assert result.returncode == 1
    line = result.stderr.decode()
    assert line.startswith("lpwa: CoAPDNSError: ") and "--system-dns" in line


@pytest.mark.parametrize("entry", ["nameonly", "=127.0.0.1", "name="])
def test_malformed_host_entry_is_a_usage_error(entry: str) -> None:
    result = run("-m", "lpwa", "http", "get", "http://x/", "--host", entry)
    assert result.returncode == 2
    assert b"expected NAME=IP" in result.stderr


def test_host_options_are_refused_for_a_real_port() -> None:
    result = run("-m", "lpwa", "info", "--port", "socket://127.0.0.1:9", "--system-dns")
    assert result.returncode == 1
    assert b"--port sim" in result.stderr


def test_system_dns_uses_this_machines_resolver(http_server: HTTPTestServer) -> None:
    # This machine's own name, when its resolver maps it to 127.0.0.1 (/etc/hosts).
    name = socket.gethostname()
    try:
        address = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)[0][4][0]
    except OSError:
        address = ""
    if address != "127.0.0.1" or name == "localhost":
        pytest.skip(f"{name!r} does not resolve to 127.0.0.1 here")
    url = http_server.url("/bytes/8", host=name)
    refused = run("-m", "lpwa", "http", "get", url)
    assert refused.returncode == 1 and b"HTTPDNSError" in refused.stderr
    result = run("-m", "lpwa", "http", "get", url, "--system-dns")
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(8)


# -- benches ------------------------------------------------------------------------


def test_readme_benchmark_command_collects_the_benches() -> None:
    assert "pytest benches --benchmark-only" in (ROOT / "README.md").read_text()
    result = run(
        "-m", "pytest", "benches", "--benchmark-only", "--collect-only", "-q",
        "-p", "no:cacheprovider", cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout.decode()[-2000:]
    out = result.stdout.decode()
    for name in ("bench_tokenizer.py::", "bench_http.py::", "bench_coap.py::"):
        assert name in out
