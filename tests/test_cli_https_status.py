"""``lpwa http``: HTTPS verified by default as curl does, and the exit status of every
answer class (issue 12).

- An ``https://`` URL needs ``--cacert FILE`` (uploaded, the server verified against
  it) or ``--insecure``/``-k`` (a one-line warning); with neither the command refuses
  in one line naming both, before it touches the module.
- Every non-2xx answer exits 2; a redirect is not followed (the module follows none)
  and its ``Location`` goes to standard error.

Servers: the shared trustme HTTPS server (``https_server``, CA ``ca``), a second
trustme CA the server does not chain to, and a small local server answering any
status code with a ``Location`` header.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from cli_run import lpwa
from lpwa.sim import Simulator
from servers import HTTPTestServer, pattern_bytes

INSECURE_WARNING = "lpwa: warning: --insecure: the server's certificate is not verified"


@pytest.fixture(scope="module")
def trusted_ca_file(ca_pem: bytes, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(ca_pem)
    return str(path)


@pytest.fixture(scope="module")
def untrusted_ca_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A CA that did not issue the server's certificate."""
    path = tmp_path_factory.mktemp("other-ca") / "other.pem"
    path.write_bytes(trustme.CA().cert_pem.bytes())
    return str(path)


# -- verification ---------------------------------------------------------------------


def test_https_without_cacert_or_insecure_is_refused_naming_both(
    sim: Simulator, https_server: HTTPTestServer
) -> None:
    result = lpwa("http", "get", "--port", sim.url, https_server.url("/bytes/10"))
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lpwa: ParameterError: ")
    assert "--cacert FILE" in lines[0]
    assert "--insecure (-k)" in lines[0]
    assert result.stdout == b""
    # Refused before the module was touched: not one command reached it.
    assert not [e for e in sim.transcript if e.direction == "in"]


def test_https_with_a_ca_the_server_does_not_chain_to_fails_verification(
    https_server: HTTPTestServer, untrusted_ca_file: str
) -> None:
    url = https_server.url("/bytes/10")
    result = lpwa("http", "get", "--port", "sim", url, "--cacert", untrusted_ca_file)
    assert result.returncode == 1
    assert result.stdout == b""
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lpwa: HTTP"), lines


def test_https_with_the_issuing_ca_verifies_and_succeeds(
    https_server: HTTPTestServer, trusted_ca_file: str
) -> None:
    url = https_server.url("/bytes/700")
    result = lpwa("http", "get", "--port", "sim", url, "--cacert", trusted_ca_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(700)
    assert result.stderr.decode() == "HTTP 200 OK\n"


@pytest.mark.parametrize("flag", ["--insecure", "-k"])
def test_insecure_skips_verification_with_a_one_line_warning(
    https_server: HTTPTestServer, flag: str
) -> None:
    result = lpwa("http", "get", "--port", "sim", https_server.url("/bytes/50"), flag)
    assert result.returncode == 0, result.stderr
    assert result.stdout == pattern_bytes(50)
    assert result.stderr.decode().splitlines() == [INSECURE_WARNING, "HTTP 200 OK"]


def test_insecure_warning_is_not_printed_for_plain_http(http_server: HTTPTestServer) -> None:
    result = lpwa("http", "get", "--port", "sim", http_server.url("/bytes/5"), "-k")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode() == "HTTP 200 OK\n"


def test_cacert_and_insecure_together_are_refused(
    https_server: HTTPTestServer, trusted_ca_file: str
) -> None:
    url = https_server.url("/bytes/5")
    result = lpwa("http", "get", "--port", "sim", url, "-k", "--cacert", trusted_ca_file)
    assert result.returncode == 1
    assert "not both" in result.stderr.decode()


# -- exit status ----------------------------------------------------------------------


class _StatusHandler(BaseHTTPRequestHandler):
    """``GET /code/<n>``: status n, body ``code <n>``; 3xx carry ``Location: /moved/<n>``."""

    def do_GET(self) -> None:
        code = int(self.path.rsplit("/", 1)[-1])
        body = f"code {code}".encode()
        self.send_response(code)
        if 300 <= code < 400:
            self.send_header("Location", f"/moved/{code}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def status_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize(
    ("code", "status", "exit_status"),
    [
        (200, "HTTP 200 OK", 0),
        (301, "HTTP 301 Moved Permanently", 2),
        (404, "HTTP 404 Not Found", 2),
        (500, "HTTP 500 Internal Server Error", 2),
    ],
)
def test_exit_status_is_0_for_2xx_and_2_for_anything_else(
    status_server: str, code: int, status: str, exit_status: int
) -> None:
    result = lpwa("http", "get", "--port", "sim", f"{status_server}/code/{code}")
    assert result.returncode == exit_status, result.stderr
    assert result.stdout == f"code {code}".encode()
    assert status in result.stderr.decode().splitlines()


def test_a_redirect_prints_its_location_on_stderr(status_server: str) -> None:
    result = lpwa("http", "get", "--port", "sim", f"{status_server}/code/302")
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == ["HTTP 302 Found", "Location: /moved/302"]


def test_help_promises_exit_status_2_for_non_2xx() -> None:
    text = " ".join(lpwa("http", "--help").stdout.decode().split())
    assert "Exit status 2 if the status is not 2xx" in text


def test_cacert_file_is_read_before_the_module_is_touched(
    sim: Simulator, https_server: HTTPTestServer, tmp_path: Path
) -> None:
    missing = str(tmp_path / "absent.pem")
    result = lpwa("http", "get", "--port", sim.url, https_server.url("/"), "--cacert", missing)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("lpwa: FileNotFoundError: ")
    assert not [e for e in sim.transcript if e.direction == "in"]
