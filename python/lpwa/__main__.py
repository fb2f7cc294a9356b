"""``python -m lpwa``: the ``lpwa`` command."""

from __future__ import annotations

import sys

from lpwa.cli import main

sys.exit(main())
