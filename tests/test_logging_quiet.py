"""With logging left unconfigured, using lpwa writes nothing to standard error
(issue 12): the ``lpwa`` logger has a ``NullHandler``, so Python's last-resort
handler (WARNING and above to stderr) never fires for lpwa's records; the
application alone decides what is printed.

Each script runs in a fresh interpreter, so no other test's logging set-up counts.
The session makes lpwa log a WARNING: an HTTP GET to a name the simulator cannot
resolve, which the client answers by re-activating the PDP context (HTTP note 4.3).
"""

from __future__ import annotations

import subprocess
import sys

TIMEOUT = 60

SESSION = """
import logging, sys
{setup}
import lpwa
from lpwa.errors import HTTPDNSError
from lpwa.sim import Simulator

with Simulator(time_scale=0.05) as sim, lpwa.Modem.open(sim.url) as modem:
    modem.network.activate(1)
    try:
        modem.http.get("http://nowhere.invalid/")
    except HTTPDNSError:
        print("dns error as expected")
"""


def run(setup: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SESSION.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def test_unconfigured_logging_writes_nothing_to_stderr() -> None:
    result = run()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "dns error as expected\n"
    assert result.stderr == ""


def test_the_same_session_does_log_once_the_application_asks() -> None:
    # What the previous test keeps quiet is there: configured, the warning shows.
    result = run("logging.basicConfig(level=logging.WARNING)")
    assert result.returncode == 0, result.stderr
    assert "WARNING:lpwa." in result.stderr


def test_the_lpwa_logger_has_a_null_handler_and_keeps_propagating() -> None:
    code = (
        "import logging, lpwa; log = logging.getLogger('lpwa'); "
        "print([type(h).__name__ for h in log.handlers], log.propagate)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.stdout == "['NullHandler'] True\n"
