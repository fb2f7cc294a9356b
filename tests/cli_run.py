"""Run the ``lpwa`` command as a subprocess, as a user would: bounded, no stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TIMEOUT = 60


def lpwa(
    *args: str, cwd: Path | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[bytes]:
    """``python -m lpwa ARGS`` to completion; stdout and stderr as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "lpwa", *args],
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
