"""The end-to-end demo on the embedded phantom: generate data, train through the bundle, translate, score, picture.

Everything runs through the bundle's own ``train.json`` and ``inference.json`` (``monai.bundle.ConfigWorkflow``) with
a few overrides for a small, fast model, so the demo exercises exactly what users run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.transforms import LoadImage, ResampleToMatch
from torch.nn import functional

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.data.phantom import TISSUE_LABELS, ensure_phantom_dataset
from monai_cyclegan.evaluation import similarity_metrics, tissue_means
from monai_cyclegan.evaluation.baselines import intensity_mapping_baseline
from monai_cyclegan.evaluation.lesions import LESION_MARGIN, lesion_fidelity
from monai_cyclegan.evaluation.report import ERROR_GAIN
from monai_cyclegan.run_bundle import DEPLOYED_IDS
from monai_cyclegan.transforms import RobustScaleIntensity
from monai_cyclegan.visualization import axial_display, save_panel_png

__all__ = ["DEMO_SETTINGS", "run_demo"]

# A model small enough to learn the phantom's contrast in minutes on two CPU cores; docs/demo.md gives the
# measurements behind each choice. The generator is the ResNet kind with 3 blocks: within this budget the U-Net
# (1x1 bottleneck) painted sulcus-like texture instead of keeping anatomy. Identity loss is off: it asks the
# T1->T2 generator to leave T2 intensities alone, which a local intensity mapping cannot square with translating T1.
# The objectives and the test-time averaging are the CPU preset's (configs/cpu.json), with a weaker prior: without
# the prior, MIND alone kept the T1 tissue order inside the phantom's brain; at the preset's 5 the prior darkened the
# scalp (its inverted mapping turns bright fat dark), at 2 it keeps the skull rings (docs/demo.md).
DEMO_SETTINGS: dict[str, Any] = {
    "subjects": 12,
    "phantom_scale": 0.5,
    "lesions": True,
    "image_size": 128,
    "generator_def": {
        "_target_": "monai_cyclegan.networks.ResnetGenerator",
        "_mode_": "callable",
        "ngf": "@ngf",
        "n_blocks": 3,
    },
    "ngf": 16,
    "ndf": 16,
    "epochs": 200,
    "batch_size": 1,
    "slices_per_volume": 2,
    "lr": 0.0002,
    "lambda_identity": 0.0,
    "lambda_structure": 5.0,
    "lambda_prior": 2.0,
    "contrast_prob": 0.0,  # the demo was measured without the contrast augmentation
    "amp": True,
    "tta": True,
}
# Settings that describe the data rather than the bundle's training.
_DATA_SETTINGS = ("subjects", "phantom_scale", "lesions")


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = time.perf_counter() - start


_BRAIN = [TISSUE_LABELS[k] for k in ("csf", "gm", "wm", "lesion")]
_TISSUES = {k: TISSUE_LABELS[k] for k in ("csf", "gm", "wm")}


def _display_range(image: torch.Tensor) -> torch.Tensor:
    """An acquired image scaled like the model's output: 0 = air, 1 = the 99.5th foreground percentile."""
    return torch.as_tensor(RobustScaleIntensity(b_min=0.0, b_max=1.0)(image))


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    pool = functional.max_pool3d if mask.ndim == 3 else functional.max_pool2d
    return pool(mask[None, None].float(), 2 * radius + 1, 1, radius)[0, 0] > 0.5


def _outlined(panel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``panel`` with a dotted black-and-white ring drawn just outside ``mask``, visible on any background."""
    ring = _dilate(torch.as_tensor(mask), 1).numpy() & ~mask
    checker = (np.indices(mask.shape).sum(axis=0) % 2).astype(panel.dtype)
    return np.where(ring, checker, panel)


def _lesion_contrasts(images: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, Any] | None:
    """Lesion-to-normal-white-matter contrast of each image (:func:`~.evaluation.lesions.lesion_fidelity`).

    Normal white matter is the true white-matter label minus a margin around the lesions; None without lesions.
    """
    lesions = labels == TISSUE_LABELS["lesion"]
    if not bool(lesions.any()):
        return None
    nawm = (labels == TISSUE_LABELS["wm"]) & ~_dilate(lesions, LESION_MARGIN)
    contrasts: dict[str, Any] = {
        name: lesion_fidelity(image, lesions, nawm, bright=True) for name, image in images.items()
    }
    contrasts["synthetic_relative_error"] = abs(contrasts["synthetic"]["contrast"] / contrasts["truth"]["contrast"] - 1)
    contrasts["lesion_voxels"] = int(lesions.sum())
    return contrasts


def evaluate_translation(
    synthetic_path: Path, t1_path: Path, paired_t2: Path, labels_path: Path, references: list[Path], png_path: Path
) -> dict[str, Any]:
    """Compare a synthetic T2 and the inverted-histogram-match baseline with the phantom's truth; draw the result.

    The synthetic image and the input T1 (both on the T1 acquisition grid) are resampled onto the phantom's common
    grid, where the true T2 and the labels live, and every image is scaled to [0, 1] (0 = air, 1 = the 99.5th
    percentile of the head). The baseline maps the inverted input, rank for rank, onto the head intensities of the
    ``references`` (true T2 images of the training subjects, never the held-out one). Tissue means are reported over
    whole labels and over their cores (labels eroded by one voxel): at the demo's 2 mm, most CSF voxels are thin
    sulci mixed with grey matter, so the cores say whether CSF comes out bright and white matter dark. The lesion
    contrast is the mean lesion intensity over the mean of normal white matter.

    The picture shows input T1 | synthetic T2 | true T2 | absolute error (times ``ERROR_GAIN``) at three axial
    levels, the middle one through the most lesion voxels, with the lesions outlined on the input and the error.
    """
    load = LoadImage(image_only=True, ensure_channel_first=True)
    t2, labels = load(paired_t2), load(labels_path)
    synthetic = ResampleToMatch(mode="bilinear")(load(synthetic_path), img_dst=t2)[0]
    t1 = _display_range(ResampleToMatch(mode="bilinear")(load(t1_path), img_dst=t2))[0]
    t2, labels = _display_range(t2)[0], labels[0].round().long()
    baseline = intensity_mapping_baseline(t1, [_display_range(load(path))[0] for path in references])

    lesions = labels == TISSUE_LABELS["lesion"]
    brain_slices = torch.nonzero(torch.isin(labels, torch.tensor(_BRAIN)).sum(dim=(0, 1))).flatten()
    low, high = int(brain_slices.min()), int(brain_slices.max())
    through_lesions = int(lesions.sum(dim=(0, 1)).argmax()) if bool(lesions.any()) else round((low + high) / 2)
    levels = [round(low + 0.4 * (high - low)), through_lesions, round(low + 0.8 * (high - low))]
    error = ((synthetic - t2).abs() * ERROR_GAIN).clamp(0, 1)
    rows = []
    for z in levels:
        outline = axial_display(lesions[..., z]).numpy()
        panels = [axial_display(image[..., z]).numpy() for image in (t1, synthetic, t2, error)]
        rows.append([_outlined(panels[0], outline), panels[1], panels[2], _outlined(panels[3], outline)])
    titles = ["T1 input", "synthetic T2", "true T2", f"|error| x{ERROR_GAIN:g}"]
    save_panel_png(rows, png_path, titles=titles, scale=2)

    cores = tissue_means(synthetic, labels, _TISSUES, erode=1)
    metrics, baseline_metrics = similarity_metrics(synthetic, t2), similarity_metrics(baseline, t2)
    return {
        "metrics": metrics,
        "baseline_metrics": baseline_metrics,
        "psnr_over_baseline_db": metrics["psnr"] - baseline_metrics["psnr"],
        "lesion_contrast": _lesion_contrasts({"synthetic": synthetic, "truth": t2, "baseline": baseline}, labels),
        "synthetic_tissue_means": tissue_means(synthetic, labels, _TISSUES),
        "synthetic_tissue_core_means": cores,
        "ground_truth_tissue_means": tissue_means(t2, labels, _TISSUES),
        "ground_truth_tissue_core_means": tissue_means(t2, labels, _TISSUES, erode=1),
        "csf_bright_wm_dark": bool(cores["csf"] > cores["wm"]),
        "slices": levels,
    }


def run_demo(output_dir: str | Path = "runs/demo", seed: int = 0, **settings: Any) -> dict[str, Any]:
    """Generate a phantom, train a small CycleGAN through the bundle, translate a held-out T1 volume, draw it.

    Writes under ``output_dir``: ``phantom/`` and ``holdout/`` (data), ``train/tensorboard`` (logs),
    ``train/checkpoints`` (full state), ``train/bundle`` (the trained model as a bundle that ``monai-cyclegan translate
    --checkpoint`` takes with no other setting), ``models/model.pt`` (T1->T2 generator), ``translated/`` (synthetic T2
    NIfTI), ``demo.png`` (input | synthetic | truth | error) and ``summary.json`` (timings, metrics of the model and of
    the inverted-histogram-match baseline, lesion contrasts).

    Args:
        output_dir: where everything goes.
        seed: seed of the phantom and the training.
        settings: overrides of :data:`DEMO_SETTINGS`.
    """
    unknown = set(settings) - set(DEMO_SETTINGS)
    if unknown:
        raise ValueError(f"unknown demo settings {sorted(unknown)}; known: {sorted(DEMO_SETTINGS)}")
    s = {**DEMO_SETTINGS, **settings}
    out = Path(output_dir).resolve()
    configs = bundle_dir() / "configs"
    timings: dict[str, float] = {}

    with _timed(timings, "phantom_s"):
        phantom = {"scale": s["phantom_scale"], "seed": seed, "lesions": s["lesions"]}
        data = ensure_phantom_dataset(out / "phantom", num_subjects=s["subjects"], **phantom)
        holdout = ensure_phantom_dataset(  # a subject the model never sees
            out / "holdout", num_subjects=1, first_index=s["subjects"] + 1, **phantom
        )

    deployed = {k: s[k] for k in DEPLOYED_IDS if k in s}  # how the trained model translates
    with _timed(timings, "train_s"):
        run_workflow(
            configs / "train.json",
            "train",
            **{k: v for k, v in s.items() if k not in _DATA_SETTINGS},
            dataset_dir=str(data),
            output_dir=str(out / "train"),
            ckpt_dir=str(out / "models"),
            num_workers=0,  # two cores: worker processes would compete with the training threads
            seed=seed,
        )

    t1_input = next((holdout / "IXI-T1").glob("*-T1.nii.gz"))
    with _timed(timings, "translate_s"):
        run_workflow(
            configs / "inference.json",
            "infer",
            **deployed,
            input_path=str(t1_input),
            output_dir=str(out / "translated"),
            checkpoint=str(out / "models" / "model.pt"),
        )
    synthetic = next((out / "translated").glob("*_synT2.nii.gz"))

    subject = t1_input.name.split("-")[0]
    report = evaluate_translation(
        synthetic,
        t1_input,
        holdout / "paired" / f"{subject}-T2.nii.gz",
        holdout / "paired" / f"{subject}-labels.nii.gz",
        sorted((data / "paired").glob("*-T2.nii.gz")),
        out / "demo.png",
    )
    summary = {
        "settings": s,
        "seed": seed,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "input": str(t1_input),
        "synthetic": str(synthetic),
        "picture": str(out / "demo.png"),
        "model": str(out / "models" / "model.pt"),
        "bundle": str(out / "train" / "bundle"),
        "tensorboard": str(out / "train" / "tensorboard"),
        **report,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    return summary


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
