"""Turning [-1, 1] axial slices into pictures: orientation for display, panels, PNG files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from monai_cyclegan.files import write_atomically

__all__ = ["axial_display", "save_panel_png", "to_unit_range"]


def to_unit_range(image: torch.Tensor) -> torch.Tensor:
    """Map model values in [-1, 1] to [0, 1], clipped."""
    return ((image + 1) / 2).clamp(0, 1)


def axial_display(image: torch.Tensor) -> torch.Tensor:
    """Reorient RAS axial slices ``(..., X, Y)`` for viewing: anterior at the top, patient left on the image right.

    This is the radiological convention of clinical viewers.
    """
    return image.transpose(-1, -2).flip(-2, -1)


def save_panel_png(
    rows: Sequence[Sequence[np.ndarray]], path: str | Path, titles: Sequence[str] | None = None, scale: int = 1
) -> Path:
    """Write a grid of grayscale images in [0, 1] (all of one size) as an 8-bit PNG, with optional column titles.

    The file is written under a temporary name and renamed, so a failure never leaves a partial PNG.

    Args:
        rows: images of each row, each a 2D array in display orientation.
        path: the PNG file to write.
        titles: one title per column, drawn above the grid.
        scale: integer upsampling factor (nearest neighbour) for small images.
    """
    height, width = rows[0][0].shape
    title_h = 16 if titles else 0
    canvas = np.zeros((title_h + len(rows) * height, max(len(r) for r in rows) * width), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            canvas[title_h + i * height : title_h + (i + 1) * height, j * width : (j + 1) * width] = image
    picture = Image.fromarray(np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8), mode="L")
    if titles:
        draw = ImageDraw.Draw(picture)
        for j, title in enumerate(titles):
            draw.text((j * width + 4, 2), title, fill=255)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: picture.save(temporary, format="PNG"))
    return path
