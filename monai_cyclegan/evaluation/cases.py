"""Loading one evaluation pair: the model's inputs, and both images and a head mask in the evaluation convention.

The evaluation convention is [0, 1] intensities with 0 for air and ``data_range`` 1:

* 2D image files (the public slice set): grey value / 255 (8-bit) or / 65535 (16-bit), at the file's own size; the
  model sees the image padded to its square size, and its output is cropped back before scoring;
* volumes: the model grid (RAS, the model's spacing), each volume robust-scaled so that air is 0 and its upper
  foreground percentile 1 (the preprocessing of training and inference), since MRI volumes have no absolute scale.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

import torch
from monai.data import MetaTensor
from monai.transforms import Compose, FillHoles, LoadImage

from monai_cyclegan.evaluation.baselines import FOREGROUND_THRESHOLD
from monai_cyclegan.transforms.pipelines import image_file_preprocessing, volume_preprocessing
from monai_cyclegan.visualization import to_unit_range

__all__ = ["CONTRASTS", "EvaluationCase", "head_mask", "load_case"]

CONTRASTS = ("t1", "t2")


@dataclass
class EvaluationCase:
    """One pair, ready to score.

    Attributes:
        subject: subject id.
        name: the T1 file the pair is named after.
        model_inputs: per contrast, the model's input ``(1, *spatial)`` in [-1, 1].
        images: per contrast, the image in the evaluation convention, spatial dimensions only.
        mask: the head mask (bool) on the evaluation grid.
        to_evaluation: maps a model output for the input contrast given first to the evaluation grid and range.
    """

    subject: str
    name: str
    model_inputs: dict[str, torch.Tensor]
    images: dict[str, torch.Tensor]
    mask: torch.Tensor
    to_evaluation: Callable[[str, torch.Tensor], torch.Tensor]


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


def _volume_case(row: dict[str, str], image_size: int, fov_mm: float) -> EvaluationCase:
    mask_keys = ("mask",) if "mask" in row else ()
    preprocessing: Compose = volume_preprocessing(CONTRASTS, image_size, fov_mm, mask_keys=mask_keys)
    data = preprocessing({k: row[k] for k in (*CONTRASTS, *mask_keys)})
    model_inputs = {c: data[c].as_tensor() for c in CONTRASTS}
    images = {c: to_unit_range(model_inputs[c])[0] for c in CONTRASTS}
    mask = data["mask"][0].as_tensor() > 0 if mask_keys else head_mask(images["t1"], images["t2"])

    def to_evaluation(contrast: str, output: torch.Tensor) -> torch.Tensor:
        return to_unit_range(output.detach().cpu().float())[0]

    return EvaluationCase(row["subject"], row["t1"], model_inputs, images, mask, to_evaluation)


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
