"""Helpers the bundle configs call: where the bundle lives, and what each translation direction uses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from monai.bundle import ConfigWorkflow

__all__ = ["BUNDLE_NAME", "DIRECTIONS", "bundle_dir", "direction_settings", "run_workflow"]

BUNDLE_NAME = "ixi_t1t2_cyclegan"

# Per direction: the network key in a full-state checkpoint, the deployed weights file, the output name postfix.
DIRECTIONS: dict[str, dict[str, str]] = {
    "t1_to_t2": {"network": "g_ab", "weights": "model.pt", "postfix": "synT2"},
    "t2_to_t1": {"network": "g_ba", "weights": "model_t2_to_t1.pt", "postfix": "synT1"},
}


def bundle_dir(name: str = BUNDLE_NAME) -> Path:
    """Directory of a bundle shipped with the package.

    Looks in the source checkout (``<repo>/bundles/<name>``, used by editable installs) and then in the installed
    data files (``<prefix>/share/monai_cyclegan/bundles/<name>``).

    Raises:
        FileNotFoundError: when neither holds the bundle's ``configs/``.
    """
    candidates = [
        Path(__file__).resolve().parents[1] / "bundles" / name,
        Path(sys.prefix) / "share" / "monai_cyclegan" / "bundles" / name,
    ]
    for candidate in candidates:
        if (candidate / "configs").is_dir():
            return candidate
    raise FileNotFoundError(f"bundle {name!r} not found in {[str(c) for c in candidates]}.")


def run_workflow(config_file: str | Path, workflow_type: str, **overrides: Any) -> ConfigWorkflow:
    """Initialise a bundle config, check its required properties, run it and finalise it.

    Args:
        config_file: e.g. ``bundle_dir() / "configs" / "train.json"``.
        workflow_type: ``"train"`` or ``"infer"``.
        overrides: config IDs and values, as on the command line.

    Raises:
        RuntimeError: when the config lacks a property MONAI requires of that workflow type.
    """
    workflow = ConfigWorkflow(config_file=str(config_file), workflow_type=workflow_type, **overrides)
    workflow.initialize()
    missing = workflow.check_properties()
    if missing:
        raise RuntimeError(f"{config_file} lacks required bundle properties: {missing}")
    workflow.run()
    workflow.finalize()
    return workflow


def direction_settings(direction: str) -> dict[str, str]:
    """Settings of a translation direction (``"t1_to_t2"`` or ``"t2_to_t1"``); see :data:`DIRECTIONS`.

    Raises:
        ValueError: for any other direction.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}.")
    return DIRECTIONS[direction]
