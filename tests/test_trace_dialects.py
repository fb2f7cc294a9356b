"""``lpwa trace`` reads AT logs in the shapes people keep them (``tests/data/dialect_*``,
one session written in each dialect): detected or forced with ``--format``, each
decodes to the events of the raw capture of the same session. Where the log has
directions the host's lines drive ``sent()`` (the tagged log has echo off); where
the framing is reconstructed (dots, text) stderr says so and the events do not.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lpwa import _lpwa
from lpwa.cli.trace import FORMATS, run
from lpwa.errors import ParameterError

DATA = Path(__file__).parent / "data"
TIMEOUT = 60
LOGS = {
    "raw": "dialect_raw.bin",
    "escaped": "dialect_escaped.log",
    "tagged": "dialect_tagged.log",
    "dots": "dialect_dots.log",
    "hex": "dialect_hex.txt",
    "text": "dialect_text.txt",
}
BODY = b'{"temp":21.5,"unit":"C"}'


def trace(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "lpwa.cli", "trace", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
    )


def events(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def urc(text: str) -> dict[str, Any]:
    return {"kind": "urc", "text": text, "name": text.split(":", 1)[0]}


def line(text: str) -> dict[str, Any]:
    return {"kind": "line", "text": text, "name": text.split(":", 1)[0]}


OK = {"kind": "final", "text": "OK"}
SESSION = [
    {"kind": "echo", "text": "AT+CSQ"},
    line("+CSQ: 20,99"),
    OK,
    urc('+QIURC: "pdpdeact",1'),
    {"kind": "echo", "text": "AT+QIACT?"},
    line('+QIACT: 1,1,1,"10.11.32.148"'),
    OK,
    {"kind": "echo", "text": "AT+QHTTPGET=80"},
    OK,
    urc("+QHTTPGET: 0,200,24"),
    {"kind": "echo", "text": "AT+QHTTPREAD=80"},
    {"kind": "connect", "text": "CONNECT"},
    {"kind": "body", "length": 24, "data_b64": "eyJ0ZW1wIjoyMS41LCJ1bml0IjoiQyJ9", "code": 0},
    OK,
]
NO_ECHO = [e for e in SESSION if e["kind"] != "echo"]


def test_the_formats_are_the_six_dialects() -> None:
    assert set(FORMATS) == set(LOGS)


def test_the_raw_capture_is_the_session() -> None:
    assert events(trace(str(DATA / LOGS["raw"]))) == SESSION
    assert SESSION[12]["data_b64"] == "eyJ0ZW1wIjoyMS41LCJ1bml0IjoiQyJ9"  # base64 of BODY


@pytest.mark.parametrize("dialect", sorted(LOGS))
@pytest.mark.parametrize("forced", [False, True])
def test_each_dialect_gives_the_sessions_events(dialect: str, forced: bool) -> None:
    path = str(DATA / LOGS[dialect])
    result = trace(path, "--format", dialect) if forced else trace(path)
    # The tagged log was taken with echo off: its TX lines declare the commands,
    # so +CSQ is still the command's line and the body is framed by its length.
    assert events(result) == (NO_ECHO if dialect == "tagged" else SESSION)
    note = result.stderr.decode()
    if dialect in ("dots", "text"):
        assert note == (
            f"lpwa: note: {path} read as a {dialect!r} log: its CR/LF framing was "
            "reconstructed, so lines, bodies and payloads are approximate\n"
        )
    else:
        assert note == ""


def test_without_its_tx_lines_the_echo_off_log_loses_the_commands(tmp_path: Path) -> None:
    """The control for the tagged log: its RX lines alone classify +CSQ as a URC
    (nothing in flight) and cannot frame the body, so the TX lines are what
    drives the decoding."""
    rx_only = tmp_path / "rx.log"
    lines = (DATA / LOGS["tagged"]).read_bytes().splitlines(keepends=True)
    rx_only.write_bytes(b"".join(x for x in lines if b" TX: " not in x))
    got = events(trace(str(rx_only)))
    assert urc("+CSQ: 20,99") in got
    assert not any(e["kind"] == "body" for e in got)


def test_dots_inside_a_line_stay_dots() -> None:
    got = events(trace(str(DATA / LOGS["dots"])))
    assert line('+QIACT: 1,1,1,"10.11.32.148"') in got


@pytest.mark.parametrize("dialect", sorted(LOGS))
def test_stats_of_each_dialect(dialect: str) -> None:
    path = DATA / LOGS[dialect]
    stats = json.loads(trace(str(path), "--stats").stdout)
    assert stats["urcs_by_name"] == {"+QIURC": 1, "+QHTTPGET": 1}
    assert stats["body_bytes"] == len(BODY)
    assert stats["input_bytes"] == path.stat().st_size


@pytest.mark.parametrize("dialect", sorted(LOGS))
def test_any_split_of_a_log_gives_the_same_output(dialect: str) -> None:
    log = (DATA / LOGS[dialect]).read_bytes()
    whole = _lpwa.Trace(format=dialect)
    expected = whole.feed(log) + whole.close()
    rng = random.Random(dialect)
    for _ in range(200):
        cuts = sorted(rng.randrange(len(log) + 1) for _ in range(rng.randrange(1, 6)))
        trace_ = _lpwa.Trace(format=dialect)
        out = b"".join(trace_.feed(log[a:b]) for a, b in zip([0, *cuts], [*cuts, len(log)]))
        assert out + trace_.close() == expected


def test_detection_on_bytes_reports_the_dialect() -> None:
    for dialect, name in LOGS.items():
        trace_ = _lpwa.Trace()
        assert trace_.format is None
        trace_.feed((DATA / name).read_bytes())
        assert trace_.format == dialect


def test_an_unknown_format_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="unknown log format 'csv'"):
        run(str(DATA / LOGS["raw"]), stats=False, brief=False, format="csv")
    with pytest.raises(ValueError, match="unknown log format"):
        _lpwa.Trace(format="csv")
    result = trace(str(DATA / LOGS["raw"]), "--format", "csv")
    assert result.returncode == 2
