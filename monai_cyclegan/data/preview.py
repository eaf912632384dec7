"""A first look at a data set: sample slices of each contrast and their intensity histograms, in one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from monai.transforms import ResizeWithPadOrCrop

from monai_cyclegan.data.layouts import detect_layout
from monai_cyclegan.transforms import inference_preprocessing
from monai_cyclegan.visualization import axial_display, save_panel_png

__all__ = ["preview_dataset"]

_HISTOGRAM_BINS = 64


def _sample_slice(path: str, kind: str, image_size: int) -> np.ndarray:
    """The image as the model sees it, in [0, 1] display orientation: a 2D file whole, a volume's middle axial slice."""
    image = inference_preprocessing(kind, image_size)({"image": path})["image"]
    if kind == "volume":  # the middle axial slice, padded with air (-1) or cropped to the model size
        image = ResizeWithPadOrCrop((image_size, image_size), mode="constant", value=-1.0)(
            image[..., image.shape[-1] // 2]
        )
    return (axial_display(torch.as_tensor(image).float()[None])[0, 0].numpy() + 1) / 2


def _histogram(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """A bar chart of the non-background intensities (above the lowest 1%) in [0, 1], as a ``height x width`` image."""
    foreground = values[values > 0.01]
    counts, _ = np.histogram(foreground, bins=_HISTOGRAM_BINS, range=(0.0, 1.0))
    chart = np.zeros((height, width), dtype=np.float32)
    if counts.max() == 0:
        return chart
    bar = width / _HISTOGRAM_BINS
    for i, count in enumerate(counts):
        top = height - int(round((height - 2) * count / counts.max()))
        chart[top:, int(i * bar) : max(int((i + 1) * bar), int(i * bar) + 1)] = 0.7
    return chart


def preview_dataset(dataset_dir: str | Path, out: str | Path, samples: int = 4, image_size: int = 256) -> Path:
    """Write a PNG with ``samples`` slices of each contrast (a row each) and each row's intensity histogram.

    Files are picked evenly over each contrast's sorted list and prepared as for inference (RAS, model spacing,
    robust scaling for volumes; bit-depth scaling for 2D files), so the picture shows what the model will see. The
    histogram at the end of a row pools the row's pixels above the background, on the model's [0, 1] display scale.

    Args:
        dataset_dir: any supported data set layout (see ``docs/data.md``).
        out: the PNG file to write.
        samples: images per contrast (fewer when a contrast has fewer files).
        image_size: the model size the images are prepared for.

    Raises:
        ValueError: when ``samples`` is below 1, or the data set is empty, one-sided or of no known layout.
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}.")
    layout = detect_layout(dataset_dir)
    rows, labels = [], []
    for contrast, entries in (("T1", layout.t1), ("T2", layout.t2)):
        picks = [entries[i] for i in np.linspace(0, len(entries) - 1, min(samples, len(entries))).round().astype(int)]
        images = [_sample_slice(e["image"], layout.kind, image_size) for e in picks]
        histogram = _histogram(np.concatenate([i.ravel() for i in images]), image_size, image_size)
        rows.append(images + [histogram])
        labels.append(f"{contrast}: {len(entries)} files, {len(picks)} shown; histogram")
    return save_panel_png(rows, out, row_labels=labels)
