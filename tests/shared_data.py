"""Real example data for tests: ``../shared/data`` beside the repository, used in place and never copied into it.

Tests that need a folder skip cleanly when it is absent (e.g. in a fresh clone elsewhere). The environment variable
``MONAI_CYCLEGAN_SHARED_DATA`` points at another copy.
"""

from __future__ import annotations

import os
import unittest
from pathlib import Path

import numpy as np

from monai_cyclegan.files import save_volume

__all__ = ["shared_data", "stacked_volume", "syndiff_slices", "write_nifti", "write_syndiff_ixi_tree"]

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(name: str) -> Path:
    """The shared data folder ``name``; raises ``unittest.SkipTest`` when it is absent."""
    root = Path(os.environ.get("MONAI_CYCLEGAN_SHARED_DATA", _DEFAULT))
    folder = root / name
    if not folder.is_dir():
        raise unittest.SkipTest(f"shared data {str(folder)!r} is not present")
    return folder


def syndiff_slices(contrast: str) -> np.ndarray:
    """The 25 real axial slices of ``contrast`` (``"T1"`` or ``"T2"``), shape (25, 256 rows, 152 columns), in [0, 1].

    Rows run anterior to posterior and columns from the patient's right to left (radiological display).
    """
    import h5py  # a test-only dependency (the dev extra)

    with h5py.File(shared_data("syndiff_sample") / f"{contrast}.mat", "r") as f:
        data = np.asarray(f["data_fs"], dtype=np.float32)  # (25, 152, 256): each slice transposed
    return np.clip(data.transpose(0, 2, 1), 0, None)


def write_nifti(array: np.ndarray, affine: np.ndarray, path: Path) -> Path:
    """Save a NIfTI image with qform and sform set to ``affine``, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_volume(array, affine, path)
    return path


def stacked_volume(slices: np.ndarray, acquisition: str, spacing: tuple[float, float, float]) -> tuple:
    """Real axial slices ``(k, row, column)`` stored like an IXI acquisition, with the affine that says so.

    ``acquisition`` ``"sagittal"`` stores array axes (left, superior, posterior) like IXI T1; ``"axial"`` stores
    (left, posterior, superior) like IXI T2. ``spacing`` is (left-right, anterior-posterior, slice) in mm.

    Returns:
        ``(array, affine)``.
    """
    lr, ap, si = spacing
    if acquisition == "sagittal":
        array = slices.transpose(2, 0, 1)  # [column, k, row] = (L, S, P)
        linear = np.array([[-lr, 0, 0], [0, 0, -ap], [0, si, 0]])
    elif acquisition == "axial":
        array = slices.transpose(2, 1, 0)  # [column, row, k] = (L, P, S)
        linear = np.array([[-lr, 0, 0], [0, -ap, 0], [0, 0, si]])
    else:
        raise ValueError(acquisition)
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = -linear @ ((np.asarray(array.shape) - 1) / 2.0)
    return np.ascontiguousarray(array), affine


def write_syndiff_ixi_tree(out: Path) -> Path:
    """An IXI-shaped tree of real NIfTI files: the real T1 slices as a sagittal volume, the T2 ones as axial.

    Each contrast's 25 slices are split into two "subjects" (slices 0-12 and 13-24), stored with IXI's grids:
    T1 at 1.2 x 0.9375 mm in-plane and the T2 at 0.9375 mm, both 5 mm apart.
    """
    for contrast, acquisition, spacing in (
        ("T1", "sagittal", (1.2, 0.9375, 5.0)),
        ("T2", "axial", (0.9375, 0.9375, 5.0)),
    ):
        slices = syndiff_slices(contrast)
        for index, part in enumerate((slices[:13], slices[13:]), start=1):
            array, affine = stacked_volume(part, acquisition, spacing)
            write_nifti(array, affine, out / f"IXI-{contrast}" / f"SD{index:03d}-SynDiff-{index:04d}-{contrast}.nii.gz")
    return out
