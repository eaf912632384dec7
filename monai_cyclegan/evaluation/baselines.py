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
    image: torch.Tensor,
    reference: Sequence[torch.Tensor],
    threshold: float = FOREGROUND_THRESHOLD,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Histogram matching of the inverted input to the target contrast, inside the head (or a mask) only.

    T1 and T2 roughly invert each other's tissue order (CSF dark in T1, bright in T2), so the inverted input's head
    voxels are mapped, rank for rank, onto the pooled head intensities of ``reference`` images of the target contrast.
    Air (input <= ``threshold``) stays 0: inverting it as well would turn the background white.

    With a ``mask`` (the brain of skull-stripped volumes, where dark CSF lies close to 0), exactly the voxels inside
    it are mapped, and ``reference`` holds the target intensities to match, already restricted to the references'
    own masks; no threshold applies.

    Args:
        image: input image in [0, 1], any shape.
        reference: images of the target contrast in [0, 1] (or, with ``mask``, their voxels inside their masks),
            never the input's own ground truth.
        threshold: head/air threshold of both the input and the reference images, without ``mask``.
        mask: the voxels of ``image`` to map; the others are 0.

    Raises:
        ValueError: when the reference images hold no voxel above ``threshold`` (or none at all, with ``mask``).
    """
    pooled = torch.cat([r.flatten().float() for r in reference]) if reference else torch.empty(0)
    pooled = (pooled if mask is not None else pooled[pooled > threshold]).sort().values
    if pooled.numel() == 0:
        raise ValueError(f"the reference images hold no voxel above {threshold}; cannot match a histogram to them.")
    out = torch.zeros_like(image, dtype=torch.float32)
    head = image > threshold if mask is None else mask.bool()
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
