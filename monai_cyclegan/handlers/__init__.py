"""Ignite/MONAI handlers for CycleGAN training: TensorBoard panels and learning rates, checkpoints, run records."""

from __future__ import annotations

from monai_cyclegan.handlers.checkpoints import latest_checkpoint
from monai_cyclegan.handlers.image_panels import CycleGANImageHandler, translation_panels
from monai_cyclegan.handlers.learning_rate import LearningRateHandler
from monai_cyclegan.handlers.run_record import RunRecordHandler, source_commit

__all__ = [
    "CycleGANImageHandler",
    "LearningRateHandler",
    "RunRecordHandler",
    "latest_checkpoint",
    "source_commit",
    "translation_panels",
]
