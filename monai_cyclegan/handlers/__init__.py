"""Ignite/MONAI handlers for CycleGAN training: TensorBoard, checkpoints and resuming, divergence guard, run records."""

from __future__ import annotations

from monai_cyclegan.handlers.checkpoints import (
    AtomicCheckpointSaver,
    checkpoints_newest_first,
    latest_checkpoint,
)
from monai_cyclegan.handlers.divergence import DivergenceGuard, TrainingDivergedError
from monai_cyclegan.handlers.image_panels import CycleGANImageHandler, FixedSamples, translation_panels
from monai_cyclegan.handlers.learning_rate import LearningRateHandler
from monai_cyclegan.handlers.loss_weight import LossWeightDecay
from monai_cyclegan.handlers.progress_animation import TrainingProgressHandler
from monai_cyclegan.handlers.resume import ResumeCheckpointLoader
from monai_cyclegan.handlers.run_bundle import RunBundleHandler
from monai_cyclegan.handlers.run_record import RunRecordHandler, source_commit

__all__ = [
    "AtomicCheckpointSaver",
    "CycleGANImageHandler",
    "DivergenceGuard",
    "FixedSamples",
    "LearningRateHandler",
    "LossWeightDecay",
    "ResumeCheckpointLoader",
    "RunBundleHandler",
    "RunRecordHandler",
    "TrainingDivergedError",
    "TrainingProgressHandler",
    "checkpoints_newest_first",
    "latest_checkpoint",
    "source_commit",
    "translation_panels",
]
