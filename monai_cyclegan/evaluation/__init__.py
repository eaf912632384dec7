"""Measuring translation quality."""

from __future__ import annotations

from monai_cyclegan.evaluation.metrics import similarity_metrics, tissue_means

__all__ = ["similarity_metrics", "tissue_means"]
