"""Measuring translation quality: metrics, baselines, failure-mode checks and the paired evaluation report."""

from __future__ import annotations

from monai_cyclegan.evaluation.aggregate import combine_result_files, combine_results
from monai_cyclegan.evaluation.baselines import BASELINES, identity_baseline, intensity_mapping_baseline
from monai_cyclegan.evaluation.cases import EvaluationCase, head_mask, load_case
from monai_cyclegan.evaluation.evaluate import (
    direction_output,
    evaluate_translation,
    evaluation_provenance,
    results_record,
)
from monai_cyclegan.evaluation.failure_modes import failure_mode_checks, pearson
from monai_cyclegan.evaluation.metrics import METRIC_NAMES, similarity_metrics, tissue_means
from monai_cyclegan.evaluation.pairs import EvaluationPairs, baseline_references, load_pairs
from monai_cyclegan.evaluation.training_curves import LOSS_FIGURES, read_scalars, save_loss_curves

__all__ = [
    "BASELINES",
    "LOSS_FIGURES",
    "EvaluationCase",
    "EvaluationPairs",
    "METRIC_NAMES",
    "baseline_references",
    "combine_result_files",
    "combine_results",
    "direction_output",
    "evaluate_translation",
    "evaluation_provenance",
    "failure_mode_checks",
    "head_mask",
    "identity_baseline",
    "intensity_mapping_baseline",
    "load_case",
    "load_pairs",
    "pearson",
    "read_scalars",
    "results_record",
    "save_loss_curves",
    "similarity_metrics",
    "tissue_means",
]
