"""Writing an evaluation: per-image CSV, summary JSON, and one figure per direction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from monai_cyclegan.files import write_csv
from monai_cyclegan.visualization import axial_display, save_panel_png

__all__ = ["ERROR_GAIN", "figure_image", "summarise", "write_metrics_csv", "write_figure"]

ERROR_GAIN = 4.0
"""The absolute-error column of the figures is multiplied by this, so that errors of a few percent are visible."""


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


_LESION_FIELDS = ("contrast", "conspicuous", "truth_contrast", "truth_conspicuous")


def summarise(
    records: Sequence[Mapping[str, Any]],
    metric_names: Sequence[str],
    prefixes: Sequence[str] = ("", "masked_"),
    flags: Sequence[str] = ("identity_like", "inversion_like"),
) -> dict[str, Any]:
    """Mean and standard deviation of every metric per direction and method, per-subject means, and failure counts.

    Args:
        records: one dictionary per image (or slice), direction and method, with the metrics (whole image as
            ``name``, in the mask as ``masked_name``), the failure-mode flags and, for pairs with lesions, the
            ``lesion_*`` fields of the evaluation.
        metric_names: the metrics to summarise.
        prefixes: the metric prefixes present; ``masked_`` metrics go to a ``masked`` block.
        flags: boolean fields to count.
    """
    summary: dict[str, Any] = {}
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["direction"], record["method"]), []).append(record)
    for (direction, method), rows in groups.items():
        entry: dict[str, Any] = {"images": len(rows)}
        for prefix in prefixes:
            target = entry if not prefix else entry.setdefault("masked", {})
            for name in metric_names:
                mean, std = _mean_std([r[prefix + name] for r in rows])
                target[name], target[name + "_std"] = mean, std
        for flag in flags:
            entry[flag] = sum(bool(r[flag]) for r in rows)
        with_lesions = [r for r in rows if "lesion_contrast" in r]
        if with_lesions:
            entry["lesions"] = {k: _mean_std([r["lesion_" + k] for r in with_lesions])[0] for k in _LESION_FIELDS}
        subjects: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            subjects.setdefault(r["subject"], []).append(r)
        entry["per_subject"] = {
            subject: {name: _mean_std([r[name] for r in items])[0] for name in metric_names}
            for subject, items in subjects.items()
        }
        summary.setdefault(direction, {})[method] = entry
    return summary


def write_metrics_csv(path: str | Path, records: Sequence[Mapping[str, Any]]) -> Path:
    """One row per record, columns in first-seen order, numbers to 6 significant digits; written atomically."""
    return write_csv(path, [{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in records])


def figure_image(image: torch.Tensor, kind: str, level: int | None = None) -> np.ndarray:
    """A 2D picture of an evaluation image: a PNG slice upright, or an axial slice of a RAS volume.

    Args:
        image: the image in the evaluation convention.
        kind: ``"slice"`` or ``"volume"``.
        level: the axial slice of a volume to show (default: the middle one).
    """
    if kind == "slice":
        # PIL-loaded arrays run along the width first.
        return image.T.numpy()
    return axial_display(image[..., image.shape[-1] // 2 if level is None else level]).numpy()


def write_figure(path: str | Path, rows: Sequence[Sequence[np.ndarray]], title: str) -> Path:
    """Rows of input | synthetic | ground truth | amplified absolute error, as one PNG."""
    titles = [f"input ({title})", "synthetic", "ground truth", f"|error| x{ERROR_GAIN:g}"]
    return save_panel_png(rows, path, titles=titles)
