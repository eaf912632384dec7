"""How well two volumes on the same grid are aligned: Dice of their head masks and normalised mutual information."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from monai_cyclegan.registration.masks import foreground_mask

__all__ = ["AlignmentQuality", "alignment_quality", "dice_coefficient", "normalized_mutual_information"]

_UPPER_PERCENTILE = 99.5  # top of the histogram range: a few very bright voxels (vessels, fat) would waste bins


@dataclass(frozen=True)
class AlignmentQuality:
    """Alignment measures of a pair of volumes on one grid.

    Attributes:
        dice: Dice overlap of the two head masks (1 is perfect).
        nmi: normalised mutual information ``(H(A) + H(B)) / H(A, B)``, between 1 (independent) and 2 (one
            intensity determines the other).
    """

    dice: float
    nmi: float


def dice_coefficient(mask_a: np.ndarray, mask_b: np.ndarray) -> float:
    """Dice overlap ``2 |A & B| / (|A| + |B|)`` of two boolean masks.

    Two empty masks give 0: in the pairing step an empty mask means something went wrong, not a perfect match.
    """
    mask_a, mask_b = np.asarray(mask_a, dtype=bool), np.asarray(mask_b, dtype=bool)
    total = int(mask_a.sum()) + int(mask_b.sum())
    return 2.0 * int(np.logical_and(mask_a, mask_b).sum()) / total if total else 0.0


def _bin_indices(values: np.ndarray, bins: int) -> np.ndarray:
    """Histogram bin of each value, over the range from the minimum to the upper percentile (values above clipped)."""
    low, high = float(values.min()), float(np.percentile(values, _UPPER_PERCENTILE))
    if high <= low:
        return np.zeros(values.shape, dtype=np.int64)
    return np.clip(((values - low) / (high - low) * bins).astype(np.int64), 0, bins - 1)


def _entropy(counts: np.ndarray) -> float:
    """Shannon entropy (nats) of a histogram."""
    probabilities = counts[counts > 0] / counts.sum()
    return float(-(probabilities * np.log(probabilities)).sum())


def normalized_mutual_information(
    image_a: np.ndarray, image_b: np.ndarray, region: np.ndarray | None = None, bins: int = 32
) -> float:
    """Normalised mutual information ``(H(A) + H(B)) / H(A, B)`` of two images of the same shape.

    Each image's intensities are binned into ``bins`` equal bins from its minimum to its 99.5th percentile inside
    ``region``. Unlike a correlation, NMI does not assume that the contrasts are related linearly, so it suits a
    T1/T2 pair.

    Args:
        image_a: first image.
        image_b: second image, same shape.
        region: boolean mask of the voxels to use; all voxels if None.
        bins: histogram bins per image.

    Returns:
        NMI in [1, 2]; 1 when the region is empty or both images are constant there (no shared information).

    Raises:
        ValueError: the shapes differ.
    """
    if np.shape(image_a) != np.shape(image_b) or (region is not None and np.shape(region) != np.shape(image_a)):
        raise ValueError(f"shapes differ: {np.shape(image_a)}, {np.shape(image_b)}, region {np.shape(region)}")
    selected = np.ones(np.shape(image_a), dtype=bool) if region is None else np.asarray(region, dtype=bool)
    if not selected.any():
        return 1.0
    index_a = _bin_indices(np.asarray(image_a, dtype=np.float32)[selected], bins)
    index_b = _bin_indices(np.asarray(image_b, dtype=np.float32)[selected], bins)
    joint = np.bincount(index_a * bins + index_b, minlength=bins * bins).reshape(bins, bins)
    joint_entropy = _entropy(joint)
    if joint_entropy == 0.0:
        return 1.0
    return (_entropy(joint.sum(axis=1)) + _entropy(joint.sum(axis=0))) / joint_entropy


def alignment_quality(
    fixed: np.ndarray, moving: np.ndarray, fixed_mask: np.ndarray, field_of_view: np.ndarray, bins: int = 32
) -> AlignmentQuality:
    """Dice of the head masks and NMI over the union of the heads, inside the field of view both images cover.

    Restricting both measures to the common field of view keeps anatomy that only one acquisition covers (e.g. the
    neck on a sagittal T1 but not on an axial T2) from counting as misalignment.

    Args:
        fixed: the reference volume.
        moving: the other volume, already resampled onto the reference grid.
        fixed_mask: head mask of ``fixed`` (see :func:`~monai_cyclegan.registration.masks.foreground_mask`).
        field_of_view: voxels of the grid that ``moving`` actually covers.
        bins: histogram bins per image for the NMI.

    Returns:
        The two measures.
    """
    field_of_view = np.asarray(field_of_view, dtype=bool)
    head_fixed = np.logical_and(fixed_mask, field_of_view)
    head_moving = np.logical_and(foreground_mask(moving), field_of_view)
    return AlignmentQuality(
        dice=dice_coefficient(head_fixed, head_moving),
        nmi=normalized_mutual_information(fixed, moving, np.logical_or(head_fixed, head_moving), bins),
    )
