"""``lpwa trace`` on 100 MB captures against the floor of a JSON-lines trace,
``base64 FILE > /dev/null`` (coreutils), in the same run.

Run: ``pytest benches/bench_trace.py --benchmark-only --benchmark-group-by=group``
(``LPWA_TRACE_BENCH_MB`` changes the capture size; default 100, 20 under CI).

Two captures from ``gen_captures.py`` (deterministic seed): URC-heavy and
download-heavy. For each: the floor; ``lpwa trace FILE > /dev/null`` (JSON
lines) and ``lpwa trace --stats FILE`` as whole commands (interpreter start-up
and imports included: ``startup`` measures that alone, on an empty file); the
same two decodes in-process (``_lpwa.trace_fd`` from the file to /dev/null, what
a collector calling the library pays); and today's Python path
(``run_reference``) for reference. ``extra_info`` holds MB/s and the ratio to the
floor's mean. Targets (issue 14): JSON <= 4x the floor, ``--stats`` <= 2x.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from gen_captures import write_capture
from lpwa import _lpwa

# CI runs every bench briefly (.ci/run): 20 MB there unless the size is given.
_DEFAULT_MB = "20" if os.environ.get("CI") == "true" else "100"
SIZE = int(float(os.environ.get("LPWA_TRACE_BENCH_MB", _DEFAULT_MB)) * 1e6)
CAPTURES = ("urc", "download")
FLOOR: dict[str, float] = {}
TIMEOUT = 600


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("captures")
    paths = {}
    for kind in CAPTURES:
        paths[kind] = folder / f"{kind}.cap"
        write_capture(paths[kind], kind, SIZE)
    (folder / "empty.cap").write_bytes(b"")
    paths["empty"] = folder / "empty.cap"
    return paths


def command(*args: str) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(args, stdout=subprocess.DEVNULL, check=True, timeout=TIMEOUT)

    return run


def lpwa(*args: str) -> Callable[[], None]:
    return command(sys.executable, "-m", "lpwa.cli", "trace", *args)


def in_process(path: Path, stats: bool) -> Callable[[], None]:
    def run() -> None:
        with path.open("rb") as source, open(os.devnull, "wb") as sink:
            _lpwa.trace_fd(source.fileno(), sink.fileno(), stats=stats)

    return run


def reference(path: Path, stats: bool) -> Callable[[], None]:
    code = (
        "from lpwa.cli.trace import run_reference; "
        f"run_reference({str(path)!r}, stats={stats}, brief=False)"
    )
    return command(sys.executable, "-c", code)


IMPLS = ("floor", "json", "stats", "json_inprocess", "stats_inprocess", "python_json")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", CAPTURES)
def test_trace(benchmark: Any, captures: dict[str, Path], kind: str, impl: str) -> None:
    if impl == "floor" and shutil.which("base64") is None:
        pytest.skip("coreutils base64 is not installed")
    path = captures[kind]
    benchmark.group = f"trace, {kind}-heavy capture of {SIZE / 1e6:.0f} MB"
    run = {
        "floor": command("base64", str(path)),
        "json": lpwa(str(path)),
        "stats": lpwa("--stats", str(path)),
        "json_inprocess": in_process(path, stats=False),
        "stats_inprocess": in_process(path, stats=True),
        "python_json": reference(path, stats=False),
    }[impl]
    rounds = 1 if impl == "python_json" else 5
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1 if rounds > 1 else 0)
    seconds = benchmark.stats.stats.mean
    if impl == "floor":
        FLOOR[kind] = seconds
    benchmark.extra_info["MB_per_s"] = round(path.stat().st_size / seconds / 1e6, 1)
    if kind in FLOOR:
        benchmark.extra_info["x_floor"] = round(seconds / FLOOR[kind], 2)


def test_startup(benchmark: Any, captures: dict[str, Path]) -> None:
    """``lpwa trace`` on an empty file: the interpreter and imports alone."""
    benchmark.group = "trace, start-up"
    benchmark.pedantic(lpwa(str(captures["empty"])), rounds=5, iterations=1, warmup_rounds=1)


def test_the_command_is_the_python_path_on_both_captures(captures: dict[str, Path]) -> None:
    """Not timed (skipped with --benchmark-only): the benchmarked command writes
    what the Python path writes, byte for byte."""
    for kind in CAPTURES:
        path = str(captures[kind])
        code = (
            "from lpwa.cli.trace import run_reference; "
            f"run_reference({path!r}, stats=False, brief=False)"
        )
        outputs = [
            subprocess.run(args, capture_output=True, check=True, timeout=TIMEOUT).stdout
            for args in (
                [sys.executable, "-m", "lpwa.cli", "trace", path],
                [sys.executable, "-c", code],
            )
        ]
        assert outputs[0] == outputs[1]
