"""Where the shipped files are, decided here only: the repository's `checkpoints/` and
`assets/` in a source checkout, else the copies a wheel installs under
`<prefix>/share/genstudio/` (pyproject's data-files), so `pip install .` runs the app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """`checkpoints` or `assets`: the source checkout's folder, else the installed copy."""
    in_checkout = REPOSITORY / name
    if in_checkout.is_dir() and (REPOSITORY / "pyproject.toml").exists():
        return in_checkout
    return Path(sys.prefix) / "share" / "genstudio" / name


def checkpoints() -> Path:
    """`GENSTUDIO_CHECKPOINTS`, else the shipped checkpoints."""
    env = os.environ.get("GENSTUDIO_CHECKPOINTS")
    return Path(env) if env else shipped("checkpoints")


def assets() -> Path:
    return shipped("assets")
