"""The fleet benchmark: one collector process drives N simulated modules.

    python benches/fleet.py --n 10 100 1000 --duration 60

For each N: an HTTP server process, simulator processes (``lpwa sim --count K
--urc-every 1``: every module emits one URC per second), and one collector
process that opens the N modules and has each do one small HTTP GET every 10 s
(start times spread over the first 10 s) while it drains every URC. The
collector runs once with the asyncio API (``lpwa.aio.Fleet``, one event loop)
and once with the sync API (a ``Modem`` and a thread per module), the sync one
up to ``--sync-max`` modules. Reported per run: the collector's CPU per request
(user + system over the measured window / GETs done), RSS per module (the
collector's resident size after opening, less before, / N), its threads, p50 /
p99 GET latency, and the simulators' CPU share (they share the machine).
``--json FILE`` writes the rows; the README's table comes from such a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from http_script import http_server_script

PER_SIM_PROCESS = 250
BODY = 256
INTERVAL = 10.0
HTTP_SERVER = http_server_script(f"bytes(range(256))[:{BODY}]")


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds of this process, or of ``pid`` (from /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the collector (a child process) ---------------------------------------------------


def collect_aio(urls: list[str], get_url: str, duration: float) -> dict[str, Any]:
    from lpwa.aio import AsyncModem, Fleet

    latencies: list[float] = []
    failures = 0
    urcs = 0

    async def main() -> dict[str, Any]:
        nonlocal failures, urcs
        before = rss_kib()
        async with Fleet.open(urls, concurrency=100) as fleet:
            opened = len(fleet.modems)
            rss = rss_kib() - before
            threads = threading.active_count()

            async def drain() -> None:
                nonlocal urcs
                async for _ in fleet.urcs():
                    urcs += 1

            async def module(i: int, modem: AsyncModem, end: float) -> None:
                nonlocal failures
                next_at = time.monotonic() + INTERVAL * i / len(fleet.modems)
                while True:
                    await asyncio.sleep(max(0.0, min(next_at, end) - time.monotonic()))
                    if time.monotonic() >= end:
                        return
                    start = time.monotonic()
                    try:
                        response = await modem.http.get(get_url)
                        if len(response.content) != BODY:
                            raise AssertionError("short body")
                        latencies.append(time.monotonic() - start)
                    except Exception:
                        failures += 1
                    next_at += INTERVAL

            drainer = asyncio.create_task(drain())
            await fleet.run(lambda m: m.network.activate(1, apn="internet"))
            cpu0 = cpu_seconds()
            end = time.monotonic() + duration
            modems = list(fleet.modems.values())
            await asyncio.gather(*(module(i, m, end) for i, m in enumerate(modems)))
            cpu = cpu_seconds() - cpu0
            drainer.cancel()
        return {"opened": opened, "rss_kib": rss, "threads": threads, "cpu": cpu}

    result = asyncio.run(main())
    return {**result, "latencies": latencies, "failures": failures, "urcs": urcs}


def collect_sync(urls: list[str], get_url: str, duration: float) -> dict[str, Any]:
    import queue

    from lpwa.modem import Modem

    latencies: list[float] = []
    failures = 0
    urcs = 0
    lock = threading.Lock()

    def open_one(url: str) -> Modem:
        modem = Modem.open(url)
        modem.network.activate(1, apn="internet")
        return modem

    before = rss_kib()
    # As a careful sync user would: opened from a pool, not one by one.
    with ThreadPoolExecutor(64) as pool:
        modems = list(pool.map(open_one, urls))
    rss = rss_kib() - before
    start_line = threading.Barrier(len(modems) + 1)
    cpu0 = 0.0
    end = 0.0

    def module(i: int, modem: Modem) -> None:
        nonlocal failures, urcs
        start_line.wait()
        next_at = time.monotonic() + INTERVAL * i / len(modems)
        got = 0
        while True:
            # Drain this module's URCs until the next GET is due.
            while (left := min(next_at, end) - time.monotonic()) > 0:
                try:
                    modem.channel.urcs.get(timeout=left)
                    got += 1
                except queue.Empty:
                    pass
            if time.monotonic() >= end:
                break
            start = time.monotonic()
            try:
                response = modem.http.get(get_url)
                if len(response.content) != BODY:
                    raise AssertionError("short body")
                with lock:
                    latencies.append(time.monotonic() - start)
            except Exception:
                with lock:
                    failures += 1
            next_at += INTERVAL
        with lock:
            urcs += got

    workers = [threading.Thread(target=module, args=(i, m)) for i, m in enumerate(modems)]
    for worker in workers:
        worker.start()
    threads = threading.active_count()
    cpu0 = cpu_seconds()
    end = time.monotonic() + duration
    start_line.wait()
    for worker in workers:
        worker.join()
    cpu = cpu_seconds() - cpu0
    for modem in modems:
        modem.close()
    return {
        "opened": len(modems),
        "rss_kib": rss,
        "threads": threads,
        "cpu": cpu,
        "latencies": latencies,
        "failures": failures,
        "urcs": urcs,
    }


# -- the parent: servers, simulators, one collector per run ------------------------------


@contextmanager
def processes(n: int, time_scale: float) -> Iterator[tuple[str, list[str], list[int]]]:
    """An HTTP server and simulator processes for ``n`` modules: (GET URL,
    module URLs, simulator pids)."""
    started: list[subprocess.Popen[str]] = []
    try:
        server = subprocess.Popen(
            [sys.executable, "-c", HTTP_SERVER], stdout=subprocess.PIPE, text=True
        )
        started.append(server)
        assert server.stdout is not None
        get_url = f"http://127.0.0.1:{server.stdout.readline().strip()}/small"
        urls: list[str] = []
        sims: list[tuple[subprocess.Popen[str], int]] = []
        left = n
        while left:
            count = min(left, PER_SIM_PROCESS)
            left -= count
            sim = subprocess.Popen(
                [
                    sys.executable, "-m", "lpwa", "sim", "--count", str(count),
                    "--urc-every", "1", "--time-scale", str(time_scale),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            started.append(sim)
            sims.append((sim, count))
        for sim, count in sims:
            assert sim.stdout is not None
            mine = 0
            while mine < count:
                line = sim.stdout.readline()
                if not line:
                    raise RuntimeError("a simulator process ended early")
                # One URL per line ("url: socket://..." when the count is 1).
                url = line.strip().removeprefix("url: ")
                if url.startswith("socket://"):
                    urls.append(url)
                    mine += 1
        yield get_url, urls, [s.pid for s, _ in sims]
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def run(mode: str, n: int, duration: float, time_scale: float) -> dict[str, Any]:
    with processes(n, time_scale) as (get_url, urls, sim_pids):
        sim_cpu0 = sum(cpu_seconds(pid) for pid in sim_pids)
        wall0 = time.monotonic()
        child = subprocess.run(
            [sys.executable, __file__, "collect", mode, get_url, str(duration)],
            input="\n".join(urls),
            capture_output=True,
            text=True,
            timeout=duration + 600,
        )
        wall = time.monotonic() - wall0
        sim_cpu = sum(cpu_seconds(pid) for pid in sim_pids) - sim_cpu0
    if child.returncode != 0:
        return {"mode": mode, "n": n, "error": child.stderr.strip().splitlines()[-1:]}
    got = json.loads(child.stdout)
    latencies = got.pop("latencies")
    requests = len(latencies)
    return {
        "mode": mode,
        "n": n,
        "opened": got["opened"],
        "requests": requests,
        "failures": got["failures"],
        "urcs": got["urcs"],
        "cpu_ms_per_request": 1000 * got["cpu"] / max(requests, 1),
        "rss_kib_per_module": got["rss_kib"] / n,
        "threads": got["threads"],
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "simulators_cpu_percent": 100 * sim_cpu / wall,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "collect":
        mode, get_url, duration = args[1], args[2], float(args[3])
        urls = sys.stdin.read().split()
        collector = collect_aio if mode == "aio" else collect_sync
        print(json.dumps(collector(urls, get_url, duration)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    parser.add_argument("--sync-max", type=int, default=1000, help="largest N for the sync API")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulators' timers")
    parser.add_argument("--modes", nargs="+", default=["aio", "sync"], choices=["aio", "sync"])
    parser.add_argument("--json", help="write the rows to this file")
    opts = parser.parse_args(args)
    rows = []
    for n in opts.n:
        for mode in opts.modes:
            if mode == "sync" and n > opts.sync_max:
                continue
            row = run(mode, n, opts.duration, opts.time_scale)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if opts.json:
        with open(opts.json, "w") as out:
            json.dump(rows, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
