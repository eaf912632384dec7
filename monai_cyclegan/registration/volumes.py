"""NIfTI volumes for the pairing step: reading with clear errors, conversion to ITK images.

NIfTI headers (as nibabel reads them) map voxels to RAS world coordinates; ITK's physical space is LPS. The
conversions here keep the two in step, so a point has the same meaning (up to the sign flip of x and y) on both sides.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import itk
import nibabel as nib
import numpy as np

__all__ = ["RAS_TO_LPS", "Volume", "load_volume", "to_itk_image"]

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
"""Homogeneous matrix that flips RAS world coordinates to ITK's LPS (it is its own inverse)."""


@dataclass
class Volume:
    """A 3D image and its voxel-to-world (RAS, mm) affine.

    Attributes:
        array: float32 voxel values, indexed like the file's voxel axes.
        affine: 4x4 voxel-to-world matrix.
        path: the file it was read from ("" when built in memory).
    """

    array: np.ndarray
    affine: np.ndarray
    path: str = ""


def _checked_affine(affine: np.ndarray, path: str) -> np.ndarray:
    """``affine`` if it is finite and invertible, else a ValueError naming ``path``."""
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise ValueError(f"cannot use {path!r}: its header affine is not finite and invertible:\n{affine}")
    return affine


def load_volume(path: str | Path) -> Volume:
    """Read a 3D NIfTI volume as float32, with its affine.

    A 4D file with a single volume is accepted (the trailing axes are dropped).

    Args:
        path: the NIfTI file.

    Returns:
        The volume.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded, is not 3D, holds non-finite values or has an unusable affine; the
            message names the file and the problem.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"input volume {path!r} does not exist")
    try:
        image = nib.load(path)
        array = np.ascontiguousarray(image.dataobj, dtype=np.float32)
    # nibabel reports bad headers and truncated or corrupt gzip streams with these.
    except (OSError, EOFError, ValueError, zlib.error, nib.filebasedimages.ImageFileError) as error:
        raise ValueError(f"cannot read {path!r}: {type(error).__name__}: {error}") from error
    while array.ndim > 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"cannot use {path!r}: expected a 3D volume, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"cannot use {path!r}: it holds NaN or infinite values")
    return Volume(array, _checked_affine(np.asarray(image.affine, dtype=np.float64), path), path)


def to_itk_image(volume: Volume) -> itk.Image:
    """The volume as a float ITK image whose physical space is the volume's world space (in LPS).

    Args:
        volume: the volume; its affine must be a rotation times a scaling plus a translation (no shear).

    Returns:
        An ``itk.Image[itk.F, 3]`` whose index ``(i, j, k)`` is the volume's voxel ``[i, j, k]``.
    """
    # ITK indexes arrays in reverse (k, j, i) order, so the transpose keeps voxel [i, j, k] at ITK index (i, j, k).
    image = itk.image_from_array(np.ascontiguousarray(volume.array.T, dtype=np.float32))
    lps = RAS_TO_LPS @ volume.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(lps[:3, :3] / spacing)))
    return image
