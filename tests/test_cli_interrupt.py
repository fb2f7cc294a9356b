"""Ctrl-C in the middle of a body (issue 10 item 10): ``lpwa http get`` stops with
130, writes no body bytes to stderr as stray URCs, and the module is usable by the
next program at once (``Modem.open`` leaves the data mode the killed one left)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from lpwa.modem import Modem
from lpwa.sim import Simulator
from servers import HTTPTestServer, pattern_bytes

BOUND = 30.0


def test_ctrl_c_mid_body_exits_130_and_leaves_the_module_usable(
    sim: Simulator, http_server: HTTPTestServer, tmp_path: Path
) -> None:
    out = tmp_path / "body.bin"
    url = http_server.url("/slow/400000?delay=3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lpwa", "http", "get", "--port", sim.url, "-o", str(out), url],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + BOUND
        while not (out.exists() and out.stat().st_size > 0):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            assert time.monotonic() < deadline, "no body byte arrived"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert 0 < out.stat().st_size < 400000
    # Nothing of the body reached stderr (no "unframeable bytes", no URC dump).
    assert len(stderr) < 300, stderr
    with Modem.open(sim.url) as modem:
        assert modem.channel.reboots == 0
        response = modem.http.get(http_server.url("/bytes/1000"))
        assert response.content == pattern_bytes(1000)
