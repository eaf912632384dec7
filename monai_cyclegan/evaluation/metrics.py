"""Similarity of a synthetic image to its ground truth, and tissue contrast of a synthetic image."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from monai.metrics import MAEMetric, PSNRMetric
from monai.metrics.regression import compute_ssim_and_cs

__all__ = ["METRIC_NAMES", "MIN_SLICE_VOXELS", "similarity_metrics", "slice_metrics", "tissue_means"]

METRIC_NAMES = ("psnr", "ssim", "mae", "nmse")

# MONAI's SSIM defaults: an 11-voxel Gaussian window of sigma 1.5.
_SSIM_KERNEL, _SSIM_SIGMA = 11, 1.5


def similarity_metrics(
    pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0, mask: torch.Tensor | None = None
) -> dict[str, float]:
    """PSNR, SSIM, MAE and NMSE between two images of one shape, 2D or 3D, optionally inside a mask.

    PSNR and MAE are MONAI's ``PSNRMetric`` and ``MAEMetric``; SSIM is the mean of MONAI's local SSIM map (what
    ``SSIMMetric`` averages: 11-voxel Gaussian window, sigma 1.5). NMSE is ``sum((pred - target)^2) / sum(target^2)``
    (MONAI has no NMSE metric). Both images must already share one intensity convention, e.g. [0, 1] with
    ``data_range=1``.

    With a ``mask``, PSNR, MAE and NMSE use only the voxels inside it, and SSIM is the mean of MONAI's local SSIM map
    over the mask voxels the 11-voxel window fits around (the map is computed on the whole image, so the window
    still sees the neighbourhood of the mask's border).

    Args:
        pred: synthetic image, shape ``(H, W)`` or ``(H, W, D)``.
        target: ground truth of the same shape.
        data_range: intensity range of the convention.
        mask: optional boolean mask of the same shape.

    Raises:
        ValueError: when the shapes differ or the mask is empty.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}.")
    if mask is not None:
        if mask.shape != pred.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} differs from the images' {tuple(pred.shape)}.")
        if not bool(mask.any()):
            raise ValueError("the mask is empty.")
    p, t = pred.float()[None, None], target.float()[None, None]
    # MONAI's local SSIM map (what SSIMMetric averages); "valid" convolution, so it lacks a half window on every side.
    ssim_map = compute_ssim_and_cs(
        p, t, pred.ndim, [_SSIM_KERNEL] * pred.ndim, [_SSIM_SIGMA] * pred.ndim, data_range=data_range
    )[0][0, 0]
    if mask is not None:
        inside = mask.bool()
        # The masked voxels as a (1, 1, N) batch: MONAI's PSNR and MAE average over every non-batch dimension.
        p, t = pred.float()[inside][None, None], target.float()[inside][None, None]
        half = _SSIM_KERNEL // 2
        valid = inside[tuple(slice(half, s - half) for s in inside.shape)]
        ssim_map = ssim_map[valid] if bool(valid.any()) else ssim_map
    return {
        "psnr": float(PSNRMetric(max_val=data_range)(p, t).mean()),
        "ssim": float(ssim_map.mean()),
        "mae": float(MAEMetric()(p, t).mean()),
        "nmse": float(((p - t) ** 2).sum() / (t**2).sum().clamp_min(1e-12)),
    }


MIN_SLICE_VOXELS = 100
"""Axial slices with fewer mask voxels than this are left out of the per-slice scores (the caps of the brain)."""


def slice_metrics(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, min_voxels: int = MIN_SLICE_VOXELS
) -> list[dict[str, float]]:
    """:func:`similarity_metrics` inside the mask of every axial slice (last axis) of two volumes.

    Returns:
        One dictionary per slice with at least ``min_voxels`` mask voxels, with its index as ``slice``.
    """
    rows = []
    for level in range(mask.shape[-1]):
        inside = mask[..., level]
        if int(inside.sum()) >= min_voxels:
            scores = similarity_metrics(pred[..., level], target[..., level], mask=inside)
            rows.append({"slice": level, **scores})
    return rows


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
