"""Another program on the module's AT port (ModemManager, on Linux gateways): opening
the port names the process that holds it and says how to exclude the port (issue 12).

The "other program" is a real process holding a real pty open, named through
``prctl(PR_SET_NAME)`` the way ModemManager's own process is named; ``/proc`` is
read as it is on a gateway. Linux only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from cli_run import lpwa
from lpwa.at.transport import Transport, holders_hint, port_holders
from lpwa.errors import ATTimeout, TransportError
from lpwa.modem import Modem
from lpwa.sim import Simulator

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/proc/<pid>/fd is Linux's"
)

UDEV_RULE = 'ENV{ID_MM_PORT_IGNORE}="1"'

HOLDER = """
import ctypes, sys
ctypes.CDLL(None).prctl(15, sys.argv[2].encode(), 0, 0, 0)   # PR_SET_NAME
port = open(sys.argv[1], "rb", buffering=0)
print("holding", flush=True)
sys.stdin.read()                                              # until the test ends
"""


@pytest.fixture
def pty_path() -> Iterator[str]:
    """A pty slave path whose master end (kept here) never answers."""
    master, slave = os.openpty()
    yield os.ttyname(slave)
    os.close(slave)
    os.close(master)


@pytest.fixture
def hold() -> Iterator[Callable[[str, str], int]]:
    """``hold(path, name)``: a process called ``name`` keeps ``path`` open; its pid."""
    procs: list[subprocess.Popen[str]] = []

    def start(path: str, name: str) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, path, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "holding\n"
        return proc.pid

    yield start
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def test_a_port_modemmanager_holds_is_refused_naming_it(
    pty_path: str, hold: Callable[[str, str], int]
) -> None:
    pid = hold(pty_path, "ModemManager")
    with pytest.raises(TransportError) as info:
        Transport(pty_path)
    message = str(info.value)
    assert f"{pty_path} is held by ModemManager (pid {pid})" in message
    assert UDEV_RULE in message


def test_modem_open_says_the_same(pty_path: str, hold: Callable[[str, str], int]) -> None:
    pid = hold(pty_path, "ModemManager")
    with pytest.raises(TransportError, match=rf"ModemManager \(pid {pid}\)"):
        Modem.open(pty_path)


def test_lpwa_info_on_a_port_modemmanager_holds(
    pty_path: str, hold: Callable[[str, str], int]
) -> None:
    pid = hold(pty_path, "ModemManager")
    result = lpwa("info", "--port", pty_path)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lpwa: TransportError: ")
    assert f"ModemManager (pid {pid})" in lines[0]
    assert UDEV_RULE in lines[0]


def test_a_silent_port_held_by_another_program_names_it(
    pty_path: str, hold: Callable[[str, str], int]
) -> None:
    # Not refused (any program may hold a port), but when the module then does not
    # answer, the one-line error says who else has the port open.
    pid = hold(pty_path, "gw-holder")
    result = lpwa("info", "--port", pty_path)
    assert result.returncode == 1
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lpwa: ATTimeout: ")
    # (This test process, which keeps the pty's slave open too, is named as well.)
    assert f"; {pty_path} is also open in " in lines[0]
    assert f"gw-holder (pid {pid})" in lines[0]


def test_modem_open_on_a_silent_port_names_its_other_holders(
    pty_path: str, hold: Callable[[str, str], int]
) -> None:
    # The library's own error, not only the CLI's (issue 12).
    pid = hold(pty_path, "gw-holder")
    with pytest.raises(ATTimeout) as info:
        Modem.open(pty_path)
    assert f"gw-holder (pid {pid})" in str(info.value)


def test_lpwa_info_lists_the_other_holders_of_a_working_port(sim: Simulator) -> None:
    # The simulator (in this test process) keeps its own descriptor on its pty.
    result = lpwa("info", "--port", sim.pty)
    assert result.returncode == 0, result.stderr
    rows = result.stdout.decode().splitlines()
    port_rows = [row for row in rows if row.startswith("port ")]
    assert len(port_rows) == 1, rows
    assert f"{sim.pty} is also open in " in port_rows[0]
    assert f"(pid {os.getpid()})" in port_rows[0]


def test_holders_are_looked_up_only_for_local_devices(pty_path: str) -> None:
    assert port_holders(pty_path) == []  # nobody else: the test's own fds do not count
    assert holders_hint(pty_path) == ""
    assert holders_hint("socket://127.0.0.1:7") == ""
    assert port_holders("/etc/hostname") == []


def test_a_running_modemmanager_whose_fds_are_hidden_is_still_mentioned(
    pty_path: str, hold: Callable[[str, str], int]
) -> None:
    # As for a root ModemManager seen by a user: running, its descriptors unreadable
    # (here: holding something else), so it may be the one on the port.
    pid = hold(os.devnull, "ModemManager")
    hint = holders_hint(pty_path)
    assert hint.startswith(f"ModemManager (pid {pid}) is running and may hold {pty_path}; ")
    assert UDEV_RULE in hint
    transport = Transport(pty_path)  # not refused: nothing shows it holds this port
    transport.close()
    transport.release()
