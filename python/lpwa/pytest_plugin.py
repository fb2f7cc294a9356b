"""lpwa's pytest plugin (entry point ``pytest11``): test your code on the simulator.

Fixtures:

- ``lpwa_simulator``: a running ``lpwa.sim.Simulator``, closed at teardown.
- ``lpwa_modem``: an opened ``lpwa.Modem`` on it (``socket://``), closed at teardown.

Choose the simulated module with the ``lpwa_simulator`` marker or by indirect
parametrisation; both take the ``Simulator`` keywords (``firmware``, ``time_scale``,
``hosts``, ``sim_ready``, ``registered``, ...) plus ``faults``, a list of
``("method", *args)`` tuples or callables run on ``sim.faults`` once it is up::

    @pytest.mark.lpwa_simulator(firmware="BG95M3LAR02A03_01.012.01.012", time_scale=0.1)
    def test_identity(lpwa_modem): ...

    @pytest.mark.parametrize("lpwa_simulator", ["BG96MAR03A06M1G_01.005.01.005",
                                                {"faults": [("reboot_on", "AT+QHTTPGET")]}],
                             indirect=True)
    def test_get(lpwa_modem): ...

A string parameter is a firmware revision; a dict is keywords (they override the
marker's). This plugin loads in every pytest run where lpwa is installed, so it
imports nothing of lpwa's at import time and starts nothing until a fixture is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lpwa.modem import Modem
    from lpwa.sim import Simulator
    from lpwa.sim.faults import Faults

__all__ = ["lpwa_modem", "lpwa_simulator"]

MARKER = "lpwa_simulator"


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): Simulator keywords (firmware=..., time_scale=..., "
        "faults=[('reboot_on', 'AT+QHTTPGET')], ...) for the lpwa_simulator fixture",
    )


def simulator_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The keywords for this test's simulator: the closest marker, then the parameter."""
    options: dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes keywords only, e.g. firmware=...; got {marker.args!r}"
            )
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, str):
        options["firmware"] = param
    elif isinstance(param, Mapping):
        options.update(param)
    elif param is not None:
        raise pytest.UsageError(
            f"lpwa_simulator parameter must be a firmware string or a dict, not {param!r}"
        )
    return options


def _arm(faults: Faults, spec: Any) -> None:
    if callable(spec):
        spec(faults)
        return
    if isinstance(spec, (tuple, list)) and spec and isinstance(spec[0], str):
        method = getattr(faults, spec[0], None)
        if spec[0].startswith("_") or not callable(method):
            raise pytest.UsageError(f"lpwa_simulator: no fault {spec[0]!r} on sim.faults")
        method(*spec[1:])
        return
    raise pytest.UsageError(
        f"lpwa_simulator: a fault is ('method', *args) or a callable, not {spec!r}"
    )


@pytest.fixture
def lpwa_simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A running simulated module (default BG96 firmware, real timers), closed at teardown."""
    from lpwa.sim import Simulator

    options = simulator_options(request)
    faults = options.pop("faults", ())
    sim = Simulator(**options).start()
    try:
        for spec in faults:
            _arm(sim.faults, spec)
        yield sim
    finally:
        sim.close()


@pytest.fixture
def lpwa_modem(lpwa_simulator: Simulator) -> Iterator[Modem]:
    """An opened ``Modem`` on ``lpwa_simulator``, closed at teardown."""
    from lpwa.modem import Modem

    with Modem.open(lpwa_simulator.url) as modem:
        yield modem
