"""Loading one evaluation pair: the model's inputs, and both images and a mask in the evaluation convention.

The evaluation convention is [0, 1] intensities with 0 for air and ``data_range`` 1:

* 2D image files (the public slice set): grey value / 255 (8-bit) or / 65535 (16-bit), at the file's own size; the
  model sees the image padded to its square size, and its output is cropped back before scoring;
* volumes: the pair's own voxel grid, reoriented to RAS (a lossless permutation, so that axis 2 runs along the axial
  slices); the model's output is brought back onto that grid from the model grid. Every volume, the synthetic one
  included, is divided by its own :data:`BRAIN_PERCENTILE` th percentile inside the mask and clipped to [0, 1], since
  MRI volumes have no absolute scale; the mask is the pair's mask file, or else the voxels where both contrasts are
  positive (the brain of skull-stripped data). Voxels outside the mask are 0.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

import torch
from monai.data import MetaTensor
from monai.transforms import Compose, EnsureChannelFirst, FillHoles, LoadImage, Orientation

from monai_cyclegan.evaluation.baselines import FOREGROUND_THRESHOLD
from monai_cyclegan.evaluation.lesions import normal_white_matter
from monai_cyclegan.transforms.pipelines import image_file_preprocessing, volume_preprocessing
from monai_cyclegan.visualization import to_unit_range

__all__ = ["BRAIN_PERCENTILE", "CONTRASTS", "EvaluationCase", "brain_normalise", "head_mask", "load_case"]

CONTRASTS = ("t1", "t2")

BRAIN_PERCENTILE = 99.5
"""The percentile inside the mask that a volume is divided by (a robust maximum: vessels and artefacts stay above)."""


@dataclass
class EvaluationCase:
    """One pair, ready to score.

    Attributes:
        subject: subject id.
        name: the T1 file the pair is named after.
        model_inputs: per contrast, the model's input ``(1, *spatial)`` in [-1, 1].
        images: per contrast, the image in the evaluation convention, spatial dimensions only.
        mask: the head mask (slices) or brain mask (volumes), bool, on the evaluation grid.
        to_evaluation: maps a model output for the input contrast given first to the evaluation grid and range.
        kind: ``"slice"`` or ``"volume"``.
        lesions: the lesion mask (bool) where the pair has one, else None.
        white_matter: normal-appearing white matter (:func:`~.lesions.normal_white_matter`) where the pair has lesions.
    """

    subject: str
    name: str
    model_inputs: dict[str, torch.Tensor]
    images: dict[str, torch.Tensor]
    mask: torch.Tensor
    to_evaluation: Callable[[str, torch.Tensor], torch.Tensor]
    kind: str = "slice"
    lesions: torch.Tensor | None = None
    white_matter: torch.Tensor | None = None


def head_mask(*images: torch.Tensor, threshold: float = FOREGROUND_THRESHOLD) -> torch.Tensor:
    """Voxels above ``threshold`` in any of ``images`` (in [0, 1]), with enclosed holes (dark CSF, bone) filled."""
    above = torch.stack([image > threshold for image in images]).any(0)
    return FillHoles()(above[None].to(torch.uint8))[0].bool()


def _slice_case(row: dict[str, str], image_size: int) -> EvaluationCase:
    preprocessing = image_file_preprocessing(("image",), image_size)
    model_inputs = {c: preprocessing({"image": row[c]})["image"] for c in CONTRASTS}

    def to_evaluation(contrast: str, output: torch.Tensor) -> torch.Tensor:
        # The output inherits its input's record of transforms, so that the padding (or shrinking) is undone.
        template = model_inputs[contrast]
        tracked = MetaTensor(output.detach().cpu(), meta=deepcopy(template.meta))
        tracked.applied_operations = deepcopy(template.applied_operations)
        return to_unit_range(preprocessing.inverse({"image": tracked})["image"].as_tensor())[0]

    images = {c: to_evaluation(c, model_inputs[c]) for c in CONTRASTS}
    if "mask" in row:
        mask = LoadImage(reader="PILReader", image_only=True)(row["mask"]).as_tensor() > 0
        mask = mask if mask.ndim == 2 else mask.any(-1)
    else:
        mask = head_mask(images["t1"], images["t2"])
    return EvaluationCase(row["subject"], row["t1"], model_inputs, images, mask, to_evaluation)


def brain_normalise(image: torch.Tensor, mask: torch.Tensor, percentile: float = BRAIN_PERCENTILE) -> torch.Tensor:
    """``image`` divided by its ``percentile`` th percentile inside ``mask``, clipped to [0, 1], and 0 outside.

    Raises:
        ValueError: when the mask is empty or the image holds nothing positive inside it.
    """
    mask = mask.bool()
    if not bool(mask.any()):
        raise ValueError("the mask is empty.")
    upper = float(torch.quantile(image[mask].float(), percentile / 100))
    if upper <= 0:
        raise ValueError(f"the image's {percentile}th percentile inside the mask is {upper:g}: nothing to scale.")
    return (image.float() / upper).clamp(0, 1) * mask


def _volume_case(row: dict[str, str], image_size: int, fov_mm: float) -> EvaluationCase:
    preprocessing: Compose = volume_preprocessing(("image",), image_size, fov_mm)
    model_inputs = {c: preprocessing({"image": row[c]})["image"] for c in CONTRASTS}
    to_ras = Compose(
        [LoadImage(reader="NibabelReader", image_only=True), EnsureChannelFirst(), Orientation("RAS", labels=None)]
    )
    native = {key: to_ras(row[key])[0] for key in (*CONTRASTS, "mask", "lesions") if key in row}
    grids = {key: tuple(volume.shape) for key, volume in native.items()}
    if len(set(grids.values())) > 1:
        raise ValueError(f"pair {row['t1']} / {row['t2']}: the volumes are not on one grid ({grids}).")
    mask = native["mask"] > 0 if "mask" in native else (native["t1"] > 0) & (native["t2"] > 0)
    mask = mask.as_tensor()

    def to_evaluation(contrast: str, output: torch.Tensor) -> torch.Tensor:
        # The output inherits its input's record of transforms, so that the resampling is undone.
        template = model_inputs[contrast]
        tracked = MetaTensor(output.detach().cpu().float(), meta=deepcopy(template.meta))
        tracked.applied_operations = deepcopy(template.applied_operations)
        back = Orientation("RAS", labels=None)(preprocessing.inverse({"image": tracked})["image"])
        return brain_normalise(to_unit_range(back.as_tensor())[0], mask)

    images = {c: brain_normalise(native[c].as_tensor(), mask) for c in CONTRASTS}
    lesions = native["lesions"].as_tensor() > 0 if "lesions" in native else None
    white_matter = normal_white_matter(images["t1"], mask, lesions) if lesions is not None else None
    return EvaluationCase(
        row["subject"], row["t1"], model_inputs, images, mask, to_evaluation, "volume", lesions, white_matter
    )


def load_case(kind: str, row: dict[str, str], image_size: int = 256, fov_mm: float = 256.0) -> EvaluationCase:
    """Load one pair of ``kind`` ``"slice"`` or ``"volume"`` (a row of :class:`~.pairs.EvaluationPairs`).

    Raises:
        ValueError: for another kind, or images of one pair on different grids.
    """
    if kind not in ("slice", "volume"):
        raise ValueError(f"kind must be 'slice' or 'volume', got {kind!r}.")
    case = _slice_case(row, image_size) if kind == "slice" else _volume_case(row, image_size, fov_mm)
    shapes = {name: tuple(image.shape) for name, image in {**case.images, "mask": case.mask}.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"pair {row['t1']} / {row['t2']}: the images are not on one grid ({shapes}).")
    return case
