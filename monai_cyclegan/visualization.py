"""Pictures: [-1, 1] axial slices oriented for display, image panels, and curves, as PNG files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from monai_cyclegan.files import write_atomically

__all__ = ["axial_display", "save_curves_png", "save_panel_png", "to_unit_range"]


def to_unit_range(image: torch.Tensor) -> torch.Tensor:
    """Map model values in [-1, 1] to [0, 1], clipped."""
    return ((image + 1) / 2).clamp(0, 1)


def axial_display(image: torch.Tensor) -> torch.Tensor:
    """Reorient RAS axial slices ``(..., X, Y)`` for viewing: anterior at the top, patient left on the image right.

    This is the radiological convention of clinical viewers.
    """
    return image.transpose(-1, -2).flip(-2, -1)


def save_panel_png(
    rows: Sequence[Sequence[np.ndarray]],
    path: str | Path,
    titles: Sequence[str] | None = None,
    scale: int = 1,
    row_labels: Sequence[str] | None = None,
) -> Path:
    """Write a grid of grayscale images in [0, 1] (all of one size) as an 8-bit PNG, with optional column titles.

    The file is written under a temporary name and renamed, so a failure never leaves a partial PNG.

    Args:
        rows: images of each row, each a 2D array in display orientation.
        path: the PNG file to write.
        titles: one title per column, drawn above the grid.
        scale: integer upsampling factor (nearest neighbour) for small images.
        row_labels: one label per row, drawn at the top left of the row's first image.
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
    if row_labels:
        draw = ImageDraw.Draw(picture)
        for i, label in enumerate(row_labels):
            draw.text((4, title_h + i * height + 2), label, fill=255)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: picture.save(temporary, format="PNG"))
    return path


def save_curves_png(
    curves: Mapping[str, Sequence[tuple[float, float]]],
    path: str | Path,
    title: str = "",
    size: tuple[int, int] = (640, 360),
    smooth: int = 1,
) -> Path:
    """Draw ``(step, value)`` curves on shared axes as an RGB PNG, with a legend and the value range; atomic write.

    Written with PIL rather than matplotlib, which is not a dependency.

    Args:
        curves: points of each named curve.
        path: the PNG file to write.
        title: text above the plot.
        size: width and height in pixels.
        smooth: moving-average window (points) applied to every curve; 1 draws the raw values.

    Raises:
        ValueError: when no curve has a point.
    """
    series = {}
    for name, points in curves.items():
        if points:
            steps, values = np.asarray(points, dtype=np.float64).T
            if smooth > 1 and len(values) >= smooth:
                values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
                steps = steps[smooth - 1 :]
            series[name] = (steps, values)
    if not series:
        raise ValueError("no curve has a point to draw.")
    width, height = size
    left, right, top, bottom = 56, 12, 24, 28
    x_lo = min(s.min() for s, _ in series.values())
    x_hi = max(s.max() for s, _ in series.values())
    y_lo = min(v.min() for _, v in series.values())
    y_hi = max(v.max() for _, v in series.values())
    x_span, y_span = max(x_hi - x_lo, 1e-12), max(y_hi - y_lo, 1e-12)
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
    for i, (name, (steps, values)) in enumerate(series.items()):
        xs = left + (steps - x_lo) / x_span * (width - left - right)
        ys = height - bottom - (values - y_lo) / y_span * (height - top - bottom)
        colour = colours[i % len(colours)]
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=colour, width=1)
        draw.text((left + 6, top + 4 + 12 * i), name, fill=colour)
    draw.text((4, top - 4), f"{y_hi:.3g}", fill="black")
    draw.text((4, height - bottom - 8), f"{y_lo:.3g}", fill="black")
    draw.text((left, height - bottom + 6), f"{x_lo:g}", fill="black")
    draw.text((width - right - 48, height - bottom + 6), f"{x_hi:g}", fill="black")
    draw.text((left, 4), title, fill="black")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: picture.save(temporary, format="PNG"))
    return path
