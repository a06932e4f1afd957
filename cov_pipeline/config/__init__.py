"""Configuration files shipped with the package (e.g. ``spc.yaml``) and where to find them.

Each file can be replaced without touching the code: an environment variable names an alternative.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent

# Per-measure SPC settings (improvement direction, target, baseline, rebases).
SPC_CONFIG_ENV = "COV_SPC_CONFIG"
DEFAULT_SPC_CONFIG = CONFIG_DIR / "spc.yaml"


def spc_config_path() -> Path:
    """The SPC settings file: ``$COV_SPC_CONFIG`` where set, else the packaged ``spc.yaml``."""
    return Path(os.environ.get(SPC_CONFIG_ENV) or DEFAULT_SPC_CONFIG)
