"""Paired evaluation of both translation directions against the two baselines, with failure-mode checks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.inferers import Inferer
from torch import nn
from tqdm import tqdm

from monai_cyclegan.directions import DIRECTION_CONTRASTS
from monai_cyclegan.evaluation.baselines import BASELINES, identity_baseline, intensity_mapping_baseline
from monai_cyclegan.evaluation.cases import EvaluationCase, load_case
from monai_cyclegan.evaluation.failure_modes import failure_mode_checks
from monai_cyclegan.evaluation.lesions import lesion_fidelity
from monai_cyclegan.evaluation.metrics import METRIC_NAMES, similarity_metrics, slice_metrics
from monai_cyclegan.evaluation.pairs import EvaluationPairs
from monai_cyclegan.evaluation.report import ERROR_GAIN, figure_image, summarise, write_figure, write_metrics_csv
from monai_cyclegan.files import write_json

__all__ = [
    "direction_output",
    "evaluate_translation",
    "evaluation_provenance",
    "results_record",
]


INTENSITY_CONVENTION = {
    "slice": "grey value / 255 (8-bit files; / 65535 for 16-bit), data_range 1, at each file's own size",
    "volume": "the pair's own grid in RAS; each volume (synthetic ones too) divided by its 99.5th percentile inside "
    "the mask (the mask file, else voxels where both contrasts are positive), clipped to [0, 1], 0 outside; "
    "data_range 1; scores inside the mask",
}


def direction_output(direction: str) -> Callable[[list[dict[str, torch.Tensor]]], tuple[list, list]]:
    """The ``output_transform`` of a validation metric of one direction.

    Validation runs both generators at once (:class:`~monai_cyclegan.networks.BidirectionalTranslator`): channel 0 of
    ``pred`` and ``label`` is T1w -> T2w, channel 1 T2w -> T1w. Returns a function from a decollated evaluator output
    to the ``(predictions, labels)`` of that direction's channel.

    Raises:
        ValueError: for an unknown direction.
    """
    if direction not in DIRECTION_CONTRASTS:
        raise ValueError(f"direction must be one of {list(DIRECTION_CONTRASTS)}, got {direction!r}.")
    channel = list(DIRECTION_CONTRASTS).index(direction)

    def select(output: list[dict[str, torch.Tensor]]) -> tuple[list, list]:
        return [o["pred"][channel : channel + 1] for o in output], [o["label"][channel : channel + 1] for o in output]

    return select


# Lesions are bright in T2w and dark in T1w: what a target contrast should show.
_BRIGHT_LESIONS = {"t1": False, "t2": True}


def _translate(
    case: EvaluationCase, source: str, network: nn.Module, inferer: Inferer, device: torch.device
) -> torch.Tensor:
    with torch.no_grad():
        output = inferer(case.model_inputs[source][None].to(device), network)
    return case.to_evaluation(source, output[0]).clamp(0, 1)


def _figure_indices(count: int, rows: int) -> list[int]:
    return sorted({int(i) for i in np.linspace(0, count - 1, min(rows, count)).round()})


def _intensity_mapping(
    case: EvaluationCase, source: str, target: str, references: list[EvaluationCase]
) -> torch.Tensor:
    """The intensity-mapping baseline of one case, matched to the target images of ``references``."""
    image = case.images[source]
    if case.kind == "volume":
        return intensity_mapping_baseline(image, [r.images[target][r.mask] for r in references], mask=case.mask)
    return intensity_mapping_baseline(image, [r.images[target] for r in references])


def _lesion_record(case: EvaluationCase, target: str, synthetic: torch.Tensor) -> dict[str, float]:
    """Lesion contrast of the synthetic image, and of the ground truth beside it, as ``lesion_*`` fields."""
    bright = _BRIGHT_LESIONS[target]
    record = {}
    for prefix, image in (("lesion_", synthetic), ("lesion_truth_", case.images[target])):
        fidelity = lesion_fidelity(image, case.lesions, case.white_matter, bright)
        record.update({prefix + k: v for k, v in fidelity.items()})
    return record


def _figure_level(case: EvaluationCase) -> int | None:
    """The axial slice a volume's figure shows: the one with the most lesion, else the middle (None for slices)."""
    if case.kind != "volume":
        return None
    if case.lesions is not None and bool(case.lesions.any()):
        return int(case.lesions.sum(dim=(0, 1)).argmax())
    return case.mask.shape[-1] // 2


def evaluate_translation(
    pairs: EvaluationPairs,
    output_dir: str | Path,
    generators: Mapping[str, nn.Module] | None = None,
    inferer: Inferer | None = None,
    image_size: int = 256,
    fov_mm: float = 256.0,
    device: str | torch.device = "cpu",
    figure_rows: int = 4,
    provenance: Mapping[str, Any] | None = None,
    reference_pairs: EvaluationPairs | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the model's translations and both baselines on every pair, for both directions, and write the report.

    For each direction (``t1_to_t2``, ``t2_to_t1``) and method (``model`` when its generator is given, ``identity``,
    ``intensity_mapping``), every pair gets PSNR, SSIM, MAE and NMSE on the whole image and inside the mask
    (:func:`~.metrics.similarity_metrics`), and the failure-mode checks (:func:`~.failure_modes.failure_mode_checks`,
    inside the mask). Volumes are scored in the brain convention of :mod:`~.cases` (their "whole image" figures are
    those inside the mask too), and also slice by slice along the axial axis; pairs with a lesion mask also get the
    lesion contrast of the synthetic image against that of the ground truth (:func:`~.lesions.lesion_fidelity`). The
    intensity-mapping baseline of each pair matches to the ground truths of the *other* pairs, never its own, or to
    those of ``reference_pairs`` when given (e.g. the training subjects, for a test set of one subject).

    Writes to ``output_dir``: ``metrics.csv`` (one row per image, direction and method), ``slice_metrics.csv``
    (volumes: one row per axial slice, direction and method), ``summary.json`` (means, standard deviations,
    per-subject means, failure counts, lesion contrasts, the intensity convention, ``provenance``), ``results.json``
    (:func:`results_record`, with ``train_minutes`` and ``commit`` from ``provenance``) and ``<direction>.png`` (rows
    of input | synthetic | ground truth | absolute error, for ``figure_rows`` pairs).

    Args:
        pairs: the paired data (:func:`~.pairs.load_pairs`).
        output_dir: where to write the report.
        generators: ``{"t1_to_t2": G_AB, "t2_to_t1": G_BA}``, either or both; None scores the baselines only.
        inferer: runs a generator on a model input (e.g. :func:`~monai_cyclegan.bundle.translation_inferer`).
        image_size: the generators' square input size.
        fov_mm: field of view of ``image_size`` pixels (volumes only).
        device: device of the generators.
        figure_rows: pairs shown in each figure.
        provenance: extra facts for ``summary.json`` (checkpoint, training time, commit...).
        reference_pairs: pairs whose ground truths the intensity mapping matches to, instead of the other pairs.
        progress: show a progress bar on stderr: each pair loaded, then scored in each direction.

    Returns:
        The summary written to ``summary.json``.

    Raises:
        ValueError: with fewer than two pairs and no ``reference_pairs`` (the intensity mapping needs other pairs), or
            a generator without an inferer.
    """
    generators = dict(generators or {})
    if generators and inferer is None:
        raise ValueError("an inferer is needed to run the generators.")
    if len(pairs.rows) < 2 and reference_pairs is None:
        raise ValueError(
            f"{pairs.source}: two pairs at least are needed (the intensity mapping matches to others), or reference "
            "pairs (e.g. the training split) to match to."
        )
    device = torch.device(device)
    for network in generators.values():
        network.eval()
    started = time.perf_counter()
    steps = len(pairs.rows) * (1 + len(DIRECTION_CONTRASTS)) + (
        len(reference_pairs.rows) if reference_pairs is not None else 0
    )
    with tqdm(total=steps, desc=f"evaluating {len(pairs.rows)} pairs", unit="step", disable=not progress) as bar:

        def load_all(which: EvaluationPairs) -> list[EvaluationCase]:
            loaded = []
            for row in which.rows:
                loaded.append(load_case(which.kind, row, image_size, fov_mm))
                bar.update()
            return loaded

        cases = load_all(pairs)
        references = load_all(reference_pairs) if reference_pairs is not None else None
        records: list[dict[str, Any]] = []
        slice_records: list[dict[str, Any]] = []
        shown = _figure_indices(len(cases), figure_rows)
        panels: dict[str, tuple[list, str]] = {}
        for direction, (source, target) in DIRECTION_CONTRASTS.items():
            rows = []
            for index, case in enumerate(cases):
                image, truth = case.images[source], case.images[target]
                outputs = {}
                if direction in generators:
                    outputs["model"] = _translate(case, source, generators[direction], inferer, device)
                outputs["identity"] = identity_baseline(image)
                others = references if references is not None else [c for c in cases if c is not case]
                outputs["intensity_mapping"] = _intensity_mapping(case, source, target, others)
                for method, synthetic in outputs.items():
                    names = {"direction": direction, "method": method, "subject": case.subject, "image": case.name}
                    record: dict[str, Any] = dict(names)
                    masked = similarity_metrics(synthetic, truth, mask=case.mask)
                    whole = masked if case.kind == "volume" else similarity_metrics(synthetic, truth)
                    record.update(whole)
                    record.update({f"masked_{k}": v for k, v in masked.items()})
                    record.update(failure_mode_checks(image, synthetic, truth, case.mask))
                    if case.lesions is not None:
                        record.update(_lesion_record(case, target, synthetic))
                    records.append(record)
                    if case.kind == "volume":
                        slice_records += [{**names, **row} for row in slice_metrics(synthetic, truth, case.mask)]
                if index in shown:
                    synthetic = outputs.get("model", outputs["intensity_mapping"])
                    error = ((synthetic - truth).abs() * ERROR_GAIN).clamp(0, 1)
                    level = _figure_level(case)
                    rows.append([figure_image(x, pairs.kind, level) for x in (image, synthetic, truth, error)])
                bar.update()
            shown_method = "model" if direction in generators else "intensity mapping"
            panels[direction] = (rows, f"{source.upper()}, {shown_method}")
    # Everything is written only once every pair has been scored, so a failure leaves no partial report.
    output_dir = Path(output_dir)
    figures = {d: str(write_figure(output_dir / f"{d}.png", rows, title)) for d, (rows, title) in panels.items()}
    summary = {
        "pairs": pairs.source,
        "kind": pairs.kind,
        "num_pairs": len(cases),
        "intensity_convention": INTENSITY_CONVENTION[pairs.kind],
        "baseline_references": reference_pairs.source if reference_pairs is not None else "the other pairs",
        "metrics": summarise(records, METRIC_NAMES),
        "figures": figures,
        "seconds": time.perf_counter() - started,
        **dict(provenance or {}),
    }
    if slice_records:
        per_slice = summarise(slice_records, METRIC_NAMES, prefixes=("",), flags=())
        for direction, methods in per_slice.items():
            for method, entry in methods.items():
                summary["metrics"][direction][method]["per_slice"] = {
                    k: v for k, v in entry.items() if k in METRIC_NAMES or k.endswith("_std")
                } | {"slices": entry["images"]}
        write_metrics_csv(output_dir / "slice_metrics.csv", slice_records)
    write_metrics_csv(output_dir / "metrics.csv", records)
    write_json(output_dir / "summary.json", summary)
    extra = {k: summary.get(k) for k in ("train_minutes", "commit")}
    write_json(output_dir / "results.json", results_record(summary, **extra))
    return summary


def evaluation_provenance(checkpoint: str | Path, run_record: str | Path | None = None) -> dict[str, Any]:
    """What an evaluation scored: the checkpoint, and the training time, commit and settings of its run record.

    These come from the training's ``run_record.json`` (:class:`~monai_cyclegan.handlers.RunRecordHandler`) when
    ``run_record`` is given; they are None otherwise.

    Raises:
        ValueError: when ``run_record`` is given but cannot be read.
    """
    provenance: dict[str, Any] = {"checkpoint": str(checkpoint), "train_minutes": None, "commit": None}
    if not run_record:
        return provenance
    try:
        record = json.loads(Path(run_record).read_text())
        provenance.update(
            train_minutes=record["train_seconds"] / 60, commit=record.get("commit"), training=record.get("settings")
        )
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{run_record}: cannot read it as a training run record: {e!r}") from e
    return provenance


def results_record(summary: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """The compact results of an evaluation summary (the schema of ``docs/results/capstone.json``).

    PSNR, SSIM and MAE of the model per direction and of each baseline, a ``lesions`` block where the pairs have
    lesion masks (per direction and method: the synthetic image's lesion contrast and conspicuous share, with the
    ground truth's), plus ``extra`` (e.g. ``train_minutes``, ``commit``).
    """

    def pick(entry: Mapping[str, Any]) -> dict[str, float]:
        return {k: entry[k] for k in ("psnr", "ssim", "mae")}

    metrics = summary["metrics"]
    record: dict[str, Any] = {d: pick(metrics[d]["model"]) for d in DIRECTION_CONTRASTS if "model" in metrics[d]}
    record["baselines"] = {method: {d: pick(metrics[d][method]) for d in DIRECTION_CONTRASTS} for method in BASELINES}
    lesions = {
        d: {method: entry["lesions"] for method, entry in metrics[d].items() if "lesions" in entry}
        for d in DIRECTION_CONTRASTS
    }
    if any(lesions.values()):
        record["lesions"] = lesions
    record.update(extra)
    return record
