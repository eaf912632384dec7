"""Ignite/MONAI handlers for CycleGAN training: TensorBoard panels and learning rates, checkpoint lookup."""

from __future__ import annotations

from monai_cyclegan.handlers.checkpoints import latest_checkpoint
from monai_cyclegan.handlers.image_panels import CycleGANImageHandler, translation_panels
from monai_cyclegan.handlers.learning_rate import LearningRateHandler

__all__ = ["CycleGANImageHandler", "LearningRateHandler", "latest_checkpoint", "translation_panels"]
