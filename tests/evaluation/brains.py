"""Tiny skull-stripped "MS patients" for the volume evaluation tests: voxel-aligned T1/T2 with lesions, LAS like MNI."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.shared_data import write_nifti

# LAS, 1 mm: the orientation and spacing of the real MS volumes in ../shared/data/ljubljana_ms
LAS = np.diag([-1.0, 1.0, 1.0, 1.0])


def brain_volumes(seed: int, shape: tuple[int, int, int] = (24, 28, 20)) -> dict[str, np.ndarray]:
    """T1, T2 and lesions of one subject: an ellipsoid brain of CSF, grey and white matter, zero outside."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    t1 = np.where(radius < 0.95, 300.0, 0.0)  # CSF
    t1[radius < 0.8] = 600.0  # grey matter
    t1[radius < 0.68] = 900.0  # white matter: a third of the brain, as in a real one
    lesions = (grid[0] - 0.2) ** 2 + (grid[1] - 0.1) ** 2 + grid[2] ** 2 < 0.04
    t1[lesions] = 500.0
    t2 = np.select([lesions, radius < 0.68, radius < 0.8, radius < 0.95], [700.0, 250.0, 400.0, 900.0], 0.0)
    brain = t1 > 0
    t1 = (t1 + brain * rng.normal(0, 10, shape)).astype(np.float32)
    t2 = (t2 + brain * rng.normal(0, 10, shape)).astype(np.float32)
    return {"T1": t1, "T2": t2, "lesions": lesions.astype(np.uint8)}


def write_subject_folders(root: Path, subjects: tuple[str, ...] = ("p1", "p2", "p3")) -> Path:
    """A folder per subject, each with T1, T2 and lesions NIfTI files (LAS, 1 mm)."""
    for index, subject in enumerate(subjects):
        for name, array in brain_volumes(index).items():
            write_nifti(array, LAS, root / subject / f"{name}.nii.gz")
    return root
