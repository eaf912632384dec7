"""Fault injection into the bundle's training: a config merged over train.json that adds one expression."""

from __future__ import annotations

import json
from pathlib import Path

from monai_cyclegan.bundle import bundle_dir

TRAIN = bundle_dir() / "configs" / "train.json"


def fault_config(path: Path, expression: str) -> Path:
    """Write a config that, merged over train.json, also runs ``expression`` in ``initialize``.

    The expression sees train.json's imports plus ``os``, ``signal``, ``ignite`` and ``torch``; it typically attaches
    a handler to ``@train#trainer`` that breaks something at a chosen iteration.
    """
    train = json.loads(TRAIN.read_text())
    extra_imports = ["$import signal", "$import ignite"]
    overlay = {"imports": train["imports"] + extra_imports, "initialize": train["initialize"] + [expression]}
    path.write_text(json.dumps(overlay, indent=1))
    return path
