"""Helpers the bundle configs call: where the bundle lives, and what each translation direction uses."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from monai.bundle import ConfigWorkflow
from monai.inferers import Inferer, SimpleInferer, SliceInferer

__all__ = ["BUNDLE_NAME", "DIRECTIONS", "bundle_dir", "direction_settings", "run_workflow", "translation_inferer"]

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


def translation_inferer(kind: str, image_size: int = 256, sw_batch_size: int = 8) -> Inferer:
    """The inferer of an input kind (``"volume"`` or ``"slice"``).

    A volume goes through the 2D generator axial slice by axial slice (``SliceInferer``, ``sw_batch_size`` slices at a
    time, padded with air, -1); a 2D image, already fitted to the model size, in one pass.

    Raises:
        ValueError: for a kind other than ``"volume"`` or ``"slice"``.
    """
    if kind == "slice":
        return SimpleInferer()
    if kind == "volume":
        return SliceInferer(
            roi_size=(image_size, image_size),
            spatial_dim=2,
            sw_batch_size=sw_batch_size,
            overlap=0.25,
            padding_mode="constant",
            cval=-1.0,
        )
    raise ValueError(f"kind must be 'volume' or 'slice', got {kind!r}.")
