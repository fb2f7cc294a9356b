"""lpwa's pytest plugin (``lpwa.pytest_plugin``, entry point ``pytest11``): the
``lpwa_simulator`` and ``lpwa_modem`` fixtures, run the way users run them — in
inner pytest sessions (``pytester``) that load the plugin from its entry point —
and used directly by this suite.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from lpwa.modem import Modem
from lpwa.sim import Simulator

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
BG95 = "BG95M3LAR02A03_01.012.01.012"
AFFECTED_719 = "BG96MAR03A06M1G_01.005.01.005"


# -- packaging and import cost ---------------------------------------------------------


def test_pyproject_declares_the_pytest11_entry_point() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points.pytest11]\nlpwa = "lpwa.pytest_plugin"\n' in text


def test_the_installed_package_registers_the_plugin() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("lpwa") == "lpwa.pytest_plugin"


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    # It loads in every pytest run where lpwa is installed: no AT stack, no
    # simulator, no Rust extension, no pyserial until a fixture is used.
    code = (
        "import sys, lpwa.pytest_plugin; "
        "print(sorted(m for m in sys.modules if m.startswith(('lpwa', 'serial'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "['lpwa', 'lpwa.pytest_plugin']\n"


def test_a_session_that_uses_no_fixture_starts_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys, threading

        def test_untouched():
            assert "lpwa.sim" not in sys.modules and "lpwa.modem" not in sys.modules
            assert not [t for t in threading.enumerate() if t.name.startswith("lpwa")]
        """
    )
    # A fresh interpreter: the plugin comes from the entry point, nothing else.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# -- the fixtures, as a user writes them ------------------------------------------------


def test_the_readme_example_passes(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n# test_gateway.py")
    example = readme[start + len("```python\n") : readme.index("```", start + 3)]
    pytester.makepyfile(test_gateway=example)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=3)


def test_lpwa_modem_is_an_opened_modem_on_the_default_simulator(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_modem(lpwa_simulator, lpwa_modem):
            assert lpwa_modem.model == "BG96"
            assert lpwa_modem.firmware == lpwa_simulator.profile.revision
            assert lpwa_modem.network.sim_status() == "READY"
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_marker_chooses_firmware_and_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.lpwa_simulator(firmware="{BG95}", registered=False, time_scale=0.05)
        def test_bg95(lpwa_simulator, lpwa_modem):
            assert lpwa_modem.model == "BG95"
            assert lpwa_modem.firmware == "{BG95}"
            assert not lpwa_modem.network.registration().registered
        """
    )
    pytester.runpytest("-p", "no:cacheprovider", "--strict-markers").assert_outcomes(passed=1)


def test_indirect_parametrisation_by_firmware_and_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.parametrize(
            "lpwa_simulator",
            ["{AFFECTED_719}", {{"faults": [("reboot_on", "AT+QHTTPGET")]}}],
            indirect=True,
        )
        def test_each(lpwa_simulator, lpwa_modem):
            if lpwa_simulator.faults.armed:
                assert any("AT+QHTTPGET" in fault for fault in lpwa_simulator.faults.armed)
            else:
                assert lpwa_modem.firmware == "{AFFECTED_719}"
                assert lpwa_modem.quirks.https_post_719
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_faults_may_be_callables_on_sim_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.lpwa_simulator(faults=[lambda f: f.truncate_read(100)])
        def test_armed(lpwa_simulator):
            assert len(lpwa_simulator.faults.armed) == 1
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_simulator_is_closed_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import pytest

        seen = []

        def test_use(lpwa_simulator):
            seen.append(lpwa_simulator.address)

        def test_closed_after():
            with pytest.raises(OSError):
                socket.create_connection(seen[0], timeout=2).close()
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('@pytest.mark.lpwa_simulator("BG96")', "keywords only"),
        ('@pytest.mark.lpwa_simulator(faults=[("no_such_fault",)])', "no fault 'no_such_fault'"),
        ("@pytest.mark.lpwa_simulator(faults=[42])", "a fault is ('method', *args)"),
    ],
)
def test_misuse_is_a_clear_error(pytester: pytest.Pytester, source: str, message: str) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        {source}
        def test_x(lpwa_simulator):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


# -- this suite uses the fixtures too ------------------------------------------------


@pytest.mark.lpwa_simulator(firmware=BG95, time_scale=0.05)
def test_our_suite_gets_a_bg95_from_the_plugin(
    lpwa_simulator: Simulator, lpwa_modem: Modem
) -> None:
    assert lpwa_modem.model == "BG95"
    assert lpwa_modem.firmware == BG95
    assert lpwa_modem.command("AT+QGMR").lines == (BG95,)
