"""Non-learned translations that every result is compared with.

Both work on images in the evaluation convention, [0, 1] with 0 for air. MONAI's ``HistogramNormalize`` equalises to a
range rather than matching a reference histogram, so the matching is written here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["BASELINES", "FOREGROUND_THRESHOLD", "identity_baseline", "intensity_mapping_baseline"]

BASELINES = ("identity", "intensity_mapping")
"""Names of the baselines, as in every results table."""

FOREGROUND_THRESHOLD = 0.1
"""Intensity (of [0, 1]) above which a voxel counts as head rather than air, for the intensity mapping."""


def identity_baseline(image: torch.Tensor) -> torch.Tensor:
    """The input itself: what a model that learned nothing would output."""
    return image.clone()


def intensity_mapping_baseline(
    image: torch.Tensor, reference: Sequence[torch.Tensor], threshold: float = FOREGROUND_THRESHOLD
) -> torch.Tensor:
    """Histogram matching of the inverted input to the target contrast, inside the head only.

    T1 and T2 roughly invert each other's tissue order (CSF dark in T1, bright in T2), so the inverted input's head
    voxels are mapped, rank for rank, onto the pooled head intensities of ``reference`` images of the target contrast.
    Air (input <= ``threshold``) stays 0: inverting it as well would turn the background white.

    Args:
        image: input image in [0, 1], any shape.
        reference: images of the target contrast in [0, 1], never the input's own ground truth.
        threshold: head/air threshold of both the input and the reference images.

    Raises:
        ValueError: when the reference images hold no voxel above ``threshold``.
    """
    pooled = torch.cat([r.flatten().float() for r in reference]) if reference else torch.empty(0)
    pooled = pooled[pooled > threshold].sort().values
    if pooled.numel() == 0:
        raise ValueError(f"the reference images hold no voxel above {threshold}; cannot match a histogram to them.")
    out = torch.zeros_like(image, dtype=torch.float32)
    head = image > threshold
    if not bool(head.any()):
        return out
    inverted = 1.0 - image[head].float()
    # Empirical quantile of each voxel in the inverted input (ties share their mid rank), read off the reference.
    ordered = inverted.sort().values
    below = torch.searchsorted(ordered, inverted, right=False)
    upto = torch.searchsorted(ordered, inverted, right=True)
    quantile = (below + upto).float() / (2 * ordered.numel())
    index = (quantile * (pooled.numel() - 1)).round().long()
    out[head] = pooled[index]
    return out
