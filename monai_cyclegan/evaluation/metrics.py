"""Similarity of a synthetic image to its ground truth, and tissue contrast of a synthetic image."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.metrics import PSNRMetric, SSIMMetric

__all__ = ["similarity_metrics", "tissue_means"]


def similarity_metrics(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> dict[str, float]:
    """PSNR, SSIM (MONAI metrics) and mean absolute error between two images of one shape, 2D or 3D.

    Both images must already share one intensity convention, e.g. [0, 1] with ``data_range=1``.

    Args:
        pred: synthetic image, shape ``(H, W)`` or ``(H, W, D)``.
        target: ground truth of the same shape.
        data_range: intensity range of the convention.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}.")
    p, t = pred.float()[None, None], target.float()[None, None]
    return {
        "psnr": float(PSNRMetric(max_val=data_range)(p, t).mean()),
        "ssim": float(SSIMMetric(spatial_dims=pred.ndim, data_range=data_range)(p, t).mean()),
        "mae": float((p - t).abs().mean()),
    }


def tissue_means(
    image: torch.Tensor, labels: torch.Tensor, tissues: Mapping[str, int], erode: int = 0
) -> dict[str, float]:
    """Mean intensity of ``image`` inside each labelled tissue (NaN where a label is absent).

    Args:
        image: intensities, 2D or 3D.
        labels: integer label map of the same shape.
        tissues: label value of each tissue name.
        erode: voxels to erode each label by first (a cube of side ``2 * erode + 1``), which keeps the cores of the
            tissues and drops partial-volume voxels: thin structures such as sulcal CSF vanish, ventricles remain.
    """
    means = {}
    for name, value in tissues.items():
        mask = labels == value
        if erode > 0:
            pool = torch.nn.functional.max_pool3d if mask.ndim == 3 else torch.nn.functional.max_pool2d
            mask = pool((~mask)[None, None].float(), 2 * erode + 1, 1, erode)[0, 0] < 0.5
        means[name] = float(image[mask].float().mean()) if bool(mask.any()) else float("nan")
    return means
