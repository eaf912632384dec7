"""Paired evaluation of both translation directions against the two baselines, with failure-mode checks."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.inferers import Inferer
from torch import nn

from monai_cyclegan.evaluation.baselines import BASELINES, identity_baseline, intensity_mapping_baseline
from monai_cyclegan.evaluation.cases import EvaluationCase, load_case
from monai_cyclegan.evaluation.failure_modes import failure_mode_checks
from monai_cyclegan.evaluation.metrics import METRIC_NAMES, similarity_metrics
from monai_cyclegan.evaluation.pairs import EvaluationPairs
from monai_cyclegan.evaluation.report import ERROR_GAIN, figure_image, summarise, write_csv, write_figure
from monai_cyclegan.files import write_json

__all__ = ["DIRECTION_CONTRASTS", "evaluate_translation", "evaluation_provenance", "results_record"]

DIRECTION_CONTRASTS = {"t1_to_t2": ("t1", "t2"), "t2_to_t1": ("t2", "t1")}

INTENSITY_CONVENTION = {
    "slice": "grey value / 255 (8-bit files; / 65535 for 16-bit), data_range 1, at each file's own size",
    "volume": "model grid (RAS, model spacing), each volume robust-scaled to air 0 and upper foreground percentile 1, "
    "data_range 1",
}


def _translate(
    case: EvaluationCase, source: str, network: nn.Module, inferer: Inferer, device: torch.device
) -> torch.Tensor:
    with torch.no_grad():
        output = inferer(case.model_inputs[source][None].to(device), network)
    return case.to_evaluation(source, output[0]).clamp(0, 1)


def _figure_indices(count: int, rows: int) -> list[int]:
    return sorted({int(i) for i in np.linspace(0, count - 1, min(rows, count)).round()})


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
) -> dict[str, Any]:
    """Score the model's translations and both baselines on every pair, for both directions, and write the report.

    For each direction (``t1_to_t2``, ``t2_to_t1``) and method (``model`` when its generator is given, ``identity``,
    ``intensity_mapping``), every pair gets PSNR, SSIM, MAE and NMSE on the whole image and inside the head mask
    (:func:`~.metrics.similarity_metrics`), and the failure-mode checks (:func:`~.failure_modes.failure_mode_checks`,
    inside the mask). The intensity-mapping baseline of each pair matches to the ground truths of the *other*
    pairs, never its own.

    Writes to ``output_dir``: ``metrics.csv`` (one row per image, direction and method), ``summary.json`` (means,
    standard deviations, per-subject means, failure counts, the intensity convention, ``provenance``),
    ``results.json`` (:func:`results_record`, with ``train_minutes`` and ``commit`` from ``provenance``) and
    ``<direction>.png`` (rows of input | synthetic | ground truth | absolute error, for ``figure_rows`` pairs).

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

    Returns:
        The summary written to ``summary.json``.

    Raises:
        ValueError: with fewer than two pairs (the intensity mapping needs other pairs), or a generator without an
            inferer.
    """
    generators = dict(generators or {})
    if generators and inferer is None:
        raise ValueError("an inferer is needed to run the generators.")
    if len(pairs.rows) < 2:
        raise ValueError(f"{pairs.source}: two pairs at least are needed (the intensity mapping matches to others).")
    device = torch.device(device)
    for network in generators.values():
        network.eval()
    started = time.perf_counter()
    cases = [load_case(pairs.kind, row, image_size, fov_mm) for row in pairs.rows]
    records: list[dict[str, Any]] = []
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
            others = [c.images[target] for c in cases if c is not case]
            outputs["intensity_mapping"] = intensity_mapping_baseline(image, others)
            for method, synthetic in outputs.items():
                record: dict[str, Any] = {
                    "direction": direction,
                    "method": method,
                    "subject": case.subject,
                    "image": case.name,
                }
                record.update(similarity_metrics(synthetic, truth))
                masked = similarity_metrics(synthetic, truth, mask=case.mask)
                record.update({f"masked_{k}": v for k, v in masked.items()})
                record.update(failure_mode_checks(image, synthetic, truth, case.mask))
                records.append(record)
            if index in shown:
                synthetic = outputs.get("model", outputs["intensity_mapping"])
                error = ((synthetic - truth).abs() * ERROR_GAIN).clamp(0, 1)
                rows.append([figure_image(x, pairs.kind) for x in (image, synthetic, truth, error)])
        panels[direction] = (rows, f"{source.upper()}, {'model' if direction in generators else 'intensity mapping'}")
    # Everything is written only once every pair has been scored, so a failure leaves no partial report.
    output_dir = Path(output_dir)
    figures = {d: str(write_figure(output_dir / f"{d}.png", rows, title)) for d, (rows, title) in panels.items()}
    summary = {
        "pairs": pairs.source,
        "kind": pairs.kind,
        "num_pairs": len(cases),
        "intensity_convention": INTENSITY_CONVENTION[pairs.kind],
        "metrics": summarise(records, METRIC_NAMES),
        "figures": figures,
        "seconds": time.perf_counter() - started,
        **dict(provenance or {}),
    }
    write_csv(output_dir / "metrics.csv", records)
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

    Whole-image PSNR, SSIM and MAE of the model per direction and of each baseline, plus ``extra`` (e.g.
    ``train_minutes``, ``commit``).
    """

    def pick(entry: Mapping[str, Any]) -> dict[str, float]:
        return {k: entry[k] for k in ("psnr", "ssim", "mae")}

    metrics = summary["metrics"]
    record: dict[str, Any] = {d: pick(metrics[d]["model"]) for d in DIRECTION_CONTRASTS if "model" in metrics[d]}
    record["baselines"] = {method: {d: pick(metrics[d][method]) for d in DIRECTION_CONTRASTS} for method in BASELINES}
    record.update(extra)
    return record
