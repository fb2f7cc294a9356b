"""GET of a 1 MiB body through the simulator over socket://, against a plain socket copy.

The simulator, the HTTP server and the plain sender run in their own processes, so
the CPU time this process spends (``time.process_time``) is the client's alone: the
AT channel, the tokenizer, the HTTP client. Reported in ``extra_info``:
``client_cpu_ms_per_mib`` (target: at most 5) and ``wall_ms``; the plain socket copy
of the same bytes, in the same run, is the reference.

    pytest benches/bench_http.py --benchmark-only
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from http_script import http_server_script
from lpwa.modem import Modem

MiB = 1024 * 1024
ROUNDS = 20

_DATA = "bytes(range(256)) * 4096"
HTTP_SERVER = http_server_script(_DATA)
PLAIN_SENDER = f"""
import socket
data = {_DATA}
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(data)
    conn.close()
"""


def _spawn(args: list[str], marker: str = "") -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline().strip()
        if line.startswith(marker):
            return proc, line[len(marker) :].strip()
    proc.kill()
    raise RuntimeError(f"{args} did not start")


@pytest.fixture(scope="module")
def processes() -> Iterator[dict[str, str]]:
    started: list[subprocess.Popen[str]] = []
    try:
        http, http_port = _spawn([sys.executable, "-c", HTTP_SERVER])
        started.append(http)
        plain, plain_port = _spawn([sys.executable, "-c", PLAIN_SENDER])
        started.append(plain)
        sim, url = _spawn([sys.executable, "-m", "lpwa.sim", "--no-pty"], "url:")
        started.append(sim)
        yield {"http": http_port, "plain": plain_port, "sim": url}
    finally:
        for proc in started:
            proc.terminate()
            proc.wait(timeout=10)


def _measured(fn: Callable[[], int], info: dict[str, Any]) -> Callable[[], None]:
    """Wrap ``fn`` (returning bytes received) to add up CPU and wall time per call."""
    info.update(cpu=0.0, wall=0.0, calls=0)

    def run() -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        received = fn()
        info["cpu"] += time.process_time() - cpu
        info["wall"] += time.perf_counter() - wall
        info["calls"] += 1
        assert received == MiB

    return run


def _report(benchmark: Any, info: dict[str, Any]) -> None:
    calls = info["calls"]
    benchmark.extra_info["client_cpu_ms_per_mib"] = round(info["cpu"] / calls * 1000, 3)
    benchmark.extra_info["wall_ms"] = round(info["wall"] / calls * 1000, 3)
    benchmark.extra_info["MB_per_s"] = round(MiB / (info["wall"] / calls) / 1e6, 1)


@pytest.mark.benchmark(group="http-get-1mib")
def test_get_1mib_through_the_simulator(benchmark: Any, processes: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{processes['http']}/blob"
    with Modem.open(processes["sim"]) as modem:
        modem.network.activate(1, apn="internet")
        info: dict[str, Any] = {}
        run = _measured(lambda: len(modem.http.get(url).content), info)
        benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=2)
        _report(benchmark, info)


@pytest.mark.benchmark(group="http-get-1mib")
def test_plain_socket_copy_of_1mib(benchmark: Any, processes: dict[str, str]) -> None:
    port = int(processes["plain"])

    def copy() -> int:
        buf = bytearray(MiB)
        view = memoryview(buf)
        received = 0
        with socket.create_connection(("127.0.0.1", port)) as sock:
            while received < MiB:
                n = sock.recv_into(view[received:])
                if not n:
                    break
                received += n
        return received

    info: dict[str, Any] = {}
    benchmark.pedantic(_measured(copy, info), rounds=ROUNDS, iterations=1, warmup_rounds=2)
    _report(benchmark, info)
