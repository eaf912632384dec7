"""Head (foreground) masks of MR volumes."""

from __future__ import annotations

import itk
import numpy as np

__all__ = ["foreground_mask", "otsu_threshold"]


def otsu_threshold(image: np.ndarray) -> float:
    """Otsu's threshold of an image's intensities (the level that best splits them into two classes).

    Args:
        image: an array of any shape.

    Returns:
        The threshold; voxels above it are the bright class.
    """
    otsu = itk.OtsuThresholdImageFilter[itk.Image[itk.F, 3], itk.Image[itk.UC, 3]].New()
    otsu.SetInput(itk.image_from_array(np.ascontiguousarray(image, dtype=np.float32).reshape(1, 1, -1)))
    otsu.Update()
    return float(otsu.GetThreshold())


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest face-connected component of a boolean volume (all False if there is none)."""
    labels = itk.relabel_component_image_filter(itk.connected_component_image_filter(itk.image_from_array(mask)))
    return itk.array_from_image(labels) == 1  # relabelling sorts the components by size, largest first


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background region that does not touch the volume border filled in."""
    filled = itk.binary_fillhole_image_filter(itk.image_from_array(mask), foreground_value=1)
    return itk.array_from_image(filled).astype(bool)


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """Mask of the head in an MR volume: Otsu threshold, largest connected component, holes filled.

    The dark structures inside the head (skull, CSF on T1, air in the sinuses) fall below the threshold but are
    enclosed by the scalp, so filling the holes puts them back; background noise above the threshold forms small
    separate components that the largest-component step drops.

    Args:
        image: a 3D intensity volume (any numeric dtype).

    Returns:
        A boolean array of the image's shape; all False for a constant image.

    Raises:
        ValueError: the image is not 3D.
    """
    # C order: itk.image_from_array reads a Fortran-ordered array (as nibabel returns) with its axes reversed.
    image = np.ascontiguousarray(image)
    if image.ndim != 3:
        raise ValueError(f"foreground_mask expects a 3D volume, got shape {image.shape}")
    bright = (image > otsu_threshold(image)).astype(np.uint8)
    if not bright.any():
        return np.zeros(image.shape, dtype=bool)
    return _fill_holes(_largest_component(bright).astype(np.uint8))
