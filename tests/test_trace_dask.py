"""Beyond one machine: ``dask.bag`` on a local cluster (worker processes on
127.0.0.1) maps the plain decoder functions of ``lpwa.cli.trace`` over many
capture and log files and reduces their ``--stats``; the result is what
``lpwa trace --stats`` says of each file, summed. The recipe is in the README.
"""

from __future__ import annotations

import functools
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask.bag as db
import pytest
from distributed import Client, LocalCluster

from lpwa.cli.trace import decode_events, decode_stats, merge_stats

DATA = Path(__file__).parent / "data"
TIMEOUT = 60


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twenty-odd files: every shipped capture and log (raw and five other
    dialects), and generated captures of different lengths."""
    folder = tmp_path_factory.mktemp("archive")
    files = sorted(DATA.glob("*.bin")) + sorted(DATA.glob("dialect_*"))
    for i in range(12):
        path = folder / f"gen{i}.bin"
        path.write_bytes(
            b'\r\n+QIURC: "pdpdeact",1\r\n' * (i + 1)
            + b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n" * (3 * i)
            + b"AT+QHTTPGET=80\r\r\nOK\r\n\r\n+QHTTPGET: 0,200,%d\r\n" % (i * 100)
            + b"AT+QHTTPREAD=80\r\r\nCONNECT\r\n"
            + bytes(range(256)) * (i * 100 // 256)
            + bytes(range(i * 100 % 256))
            + b"\r\nOK\r\n\r\n+QHTTPREAD: 0\r\n"
        )
        files.append(path)
    return files


def cli_stats(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "lpwa.cli", "trace", "--stats", str(path)],
        capture_output=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    del summary["seconds"], summary["mb_per_s"]
    return summary


def test_the_decoders_are_plain_picklable_functions(archive: list[Path]) -> None:
    for function in (decode_stats, decode_events, merge_stats):
        assert pickle.loads(pickle.dumps(function)) is function
    path = archive[0]
    assert decode_stats(path.read_bytes()) == decode_stats(path) == decode_stats(str(path))
    assert decode_stats(path) == cli_stats(path)


def test_dask_bag_reduces_the_stats_of_an_archive(client: Client, archive: list[Path]) -> None:
    bag = db.from_sequence([str(p) for p in archive], npartitions=6)
    total = bag.map(decode_stats).fold(merge_stats).compute()
    expected = functools.reduce(merge_stats, [cli_stats(p) for p in archive])
    assert total == expected
    assert total["input_bytes"] == sum(p.stat().st_size for p in archive)
    # Both worker processes took part.
    assert len(client.scheduler_info()["workers"]) == 2


def test_dask_bag_filters_events_across_files(client: Client, archive: list[Path]) -> None:
    bag = db.from_sequence([str(p) for p in archive], npartitions=6)
    urcs = bag.map(decode_events).flatten().filter(lambda e: e["kind"] == "urc")
    names = urcs.pluck("name").frequencies().compute()
    expected = functools.reduce(merge_stats, [decode_stats(p) for p in archive])["urcs_by_name"]
    assert dict(names) == expected
