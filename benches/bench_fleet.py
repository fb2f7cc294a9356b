"""The fleet benchmark (``benches/fleet.py``), CI-sized: N = 20 for 10 s, the
asyncio API and, in the same run, the sync API with a thread per module.

The README's table comes from ``python benches/fleet.py --n 10 100 1000
--duration 60``; this keeps that script working and records its figures in
``extra_info`` (CPU per request, RSS per module, threads, p50/p99 latency).

    pytest benches/bench_fleet.py --benchmark-only
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fleet  # the script next to this file

N = 20
DURATION = 10.0


@pytest.mark.parametrize("mode", ["aio", "sync"])
@pytest.mark.benchmark(group="fleet")
def test_fleet_of_modules_doing_gets_and_urcs(benchmark: Any, mode: str) -> None:
    row: dict[str, Any] = {}

    def once() -> None:
        row.update(fleet.run(mode, N, DURATION, time_scale=1.0))

    benchmark.pedantic(once, rounds=1, iterations=1)
    assert "error" not in row, row
    assert row["opened"] == N and row["failures"] == 0
    # Every module did its GET(s): one every 10 s, starts spread over the first 10 s.
    assert row["requests"] >= N
    assert row["urcs"] > 0
    for key in ("cpu_ms_per_request", "rss_kib_per_module", "threads", "p50_ms", "p99_ms"):
        benchmark.extra_info[key] = round(float(row[key]), 2)
