"""Lesion fidelity: does a synthetic image keep white-matter lesions as conspicuous as the real one?

Multiple-sclerosis lesions are bright in T2w and dark in T1w against normal-appearing white matter (NAWM). A
translation that paints lesions away (the T1w lesion turned into ordinary grey matter) or invents them changes their
contrast to the NAWM around them, which whole-volume PSNR hardly notices: lesions are well under 1% of the brain.
"""

from __future__ import annotations

import torch
from torch.nn import functional

__all__ = ["LESION_MARGIN", "WHITE_MATTER_PERCENTILE", "lesion_fidelity", "normal_white_matter"]

WHITE_MATTER_PERCENTILE = 75.0
"""Brain voxels at or above this percentile of the real T1w count as white matter (its brightest tissue)."""

LESION_MARGIN = 2
"""Voxels around a lesion left out of the NAWM (partial volume and the perilesional rim)."""


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    pool = functional.max_pool3d if mask.ndim == 3 else functional.max_pool2d
    return pool(mask[None, None].float(), 2 * radius + 1, 1, radius)[0, 0] > 0.5


def normal_white_matter(
    t1: torch.Tensor,
    brain: torch.Tensor,
    lesions: torch.Tensor,
    percentile: float = WHITE_MATTER_PERCENTILE,
    margin: int = LESION_MARGIN,
) -> torch.Tensor:
    """Normal-appearing white matter: the brightest brain voxels of the real T1w, away from any lesion.

    A T1w-intensity threshold is used rather than a segmentation, which the evaluation data do not carry: white matter
    is the brightest tissue of a T1w brain and a quarter of it or more. The same mask scores the real and the
    synthetic images of a subject, in both directions.

    Args:
        t1: the real T1w image (any intensity scale), 2D or 3D.
        brain: brain mask of the same shape.
        lesions: lesion mask of the same shape.
        percentile: brain T1w percentile at and above which a voxel counts as white matter.
        margin: voxels around each lesion left out.

    Raises:
        ValueError: when the brain mask is empty, or no white matter remains.
    """
    brain = brain.bool()
    if not bool(brain.any()):
        raise ValueError("the brain mask is empty.")
    threshold = torch.quantile(t1[brain].float(), percentile / 100)
    nawm = brain & (t1 >= threshold) & ~_dilate(lesions.bool(), margin)
    if not bool(nawm.any()):
        raise ValueError("no normal-appearing white matter is left outside the lesions.")
    return nawm


def lesion_fidelity(image: torch.Tensor, lesions: torch.Tensor, nawm: torch.Tensor, bright: bool) -> dict[str, float]:
    """Contrast of the lesions to normal-appearing white matter in one image.

    Returns:
        ``contrast``: mean lesion intensity over mean NAWM intensity (about 2 in a real T2w, below 1 in a T1w);
        ``conspicuous``: the share of lesion voxels beyond the NAWM's own range, i.e. above its 95th percentile when
        lesions are ``bright`` (T2w), below its 5th percentile otherwise (T1w).

    Args:
        image: the image, real or synthetic, on the grid of the masks.
        lesions: lesion mask.
        nawm: normal-appearing white matter (:func:`normal_white_matter`).
        bright: whether lesions are expected brighter than white matter (a T2w image).

    Raises:
        ValueError: when the lesion mask is empty.
    """
    lesions = lesions.bool()
    if not bool(lesions.any()):
        raise ValueError("the lesion mask is empty.")
    inside, white = image[lesions].float(), image[nawm.bool()].float()
    level = torch.quantile(white, 0.95 if bright else 0.05)
    beyond = inside > level if bright else inside < level
    return {
        "contrast": float(inside.mean() / white.mean().clamp_min(1e-12)),
        "conspicuous": float(beyond.float().mean()),
    }
