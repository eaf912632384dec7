"""Head (foreground) masks of MR volumes."""

from __future__ import annotations

import itk
import numpy as np
from scipy import ndimage

__all__ = ["HEAD_FRACTION", "foreground_mask", "otsu_threshold"]

HEAD_FRACTION = 0.1
"""The mask threshold is at most this fraction of the volume's 99th percentile."""


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
    """``mask`` with its holes filled: in 3D, then within the slices along each axis.

    A head cut by the field of view (the neck leaving the bottom of the image, as in IXI) has dark regions that reach
    the volume border through the cut, so a 3D fill leaves them out; each of them is still enclosed within most
    slices across it.
    """
    filled = itk.array_from_image(itk.binary_fillhole_image_filter(itk.image_from_array(mask), foreground_value=1))
    filled = filled.astype(bool)
    for axis in range(3):
        in_plane = np.ones((3, 3, 3), dtype=bool)
        in_plane[tuple(slice(None) if a != axis else [0, 2] for a in range(3))] = False  # no links across slices
        filled = ndimage.binary_fill_holes(filled, structure=in_plane)
    return filled


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """Mask of the head in an MR volume: a threshold, the largest connected component, holes filled.

    The threshold is Otsu's, or :data:`HEAD_FRACTION` of the 99th percentile when that is lower.

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
    if image.size == 0 or image.max() <= image.min():
        return np.zeros(image.shape, dtype=bool)  # a constant image shows no head
    # Otsu splits off the brightest class, which in a T1w head with much scalp fat is the fat alone, leaving the brain
    # below the threshold; every tissue of a head lies above a tenth of its 99th percentile, the noise floor below.
    threshold = min(otsu_threshold(image), HEAD_FRACTION * float(np.percentile(image, 99)))
    bright = (image > threshold).astype(np.uint8)
    if not bright.any():
        return np.zeros(image.shape, dtype=bool)
    return _fill_holes(_largest_component(bright).astype(np.uint8))
