"""``python -m lpwa.sim``: help, and a run that prints where it listens."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from lpwa.sim import main


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--firmware", "--port", "--time-scale", "--host"):
        assert option in out


def test_bad_firmware_is_an_error_exit(capsys):
    assert main(["--firmware", "NOPE", "--no-pty"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lpwa: ParameterError:") and "unknown firmware" in err


def test_runs_until_terminated_and_serves_at(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa.sim", "--firmware", "BG95M3LAR02A03_01.006.01.006"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        assert lines[0].startswith("lpwa simulator BG95M3LAR02A03_01.006.01.006")
        assert lines[1].startswith("url: socket://127.0.0.1:")
        assert lines[2].startswith("pty: /dev/")
        port = int(lines[1].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"AT+QGMR\r")
            data = b""
            deadline = time.monotonic() + 5
            while not data.endswith(b"OK\r\n") and time.monotonic() < deadline:
                data += sock.recv(1024)
        assert data == b"AT+QGMR\r\r\nBG95M3LAR02A03_01.006.01.006\r\n\r\nOK\r\n"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
