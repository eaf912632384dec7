"""Tiny paired 2D slices of a fake head (an ellipse of two tissues in air), written as PNG files with a pairs list."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def fake_slices(index: int, height: int = 37, width: int = 45) -> tuple[np.ndarray, np.ndarray]:
    """A T1-like and a T2-like uint8 image of one anatomy, with a ventricle that moves with ``index``.

    Scalp fat is bright in both, white matter bright in T1 only, CSF bright in T2 only: T2 is not a plain inversion
    of T1, as in real images.
    """
    y, x = np.mgrid[:height, :width]
    radius = ((y - height / 2) / (0.45 * height)) ** 2 + ((x - width / 2) / (0.45 * width)) ** 2
    head, brain = radius < 1, radius < 0.6
    csf = ((y - height / 2) / 4) ** 2 + ((x - width / 2 - index % 5) / (3 + index % 3)) ** 2 < 1
    t1 = np.select([csf, brain, head], [40, 160, 200], 0)
    t2 = np.select([csf, brain, head], [222, 72, 180], 0)
    return t1.astype(np.uint8), t2.astype(np.uint8)


def write_slice_pairs(root: Path, count: int = 4, height: int = 37, width: int = 45) -> Path:
    """``root/t1/s<i>.png``, ``root/t2/s<i>-T2.png`` and ``root/pairs.csv`` (relative paths); returns the CSV."""
    for folder in ("t1", "t2"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        t1, t2 = fake_slices(i, height, width)
        Image.fromarray(t1).save(root / "t1" / f"s{i}.png")
        Image.fromarray(t2).save(root / "t2" / f"s{i}-T2.png")
        rows.append({"t1": f"t1/s{i}.png", "t2": f"t2/s{i}-T2.png"})
    with (root / "pairs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t1", "t2"])
        writer.writeheader()
        writer.writerows(rows)
    return root / "pairs.csv"
