"""The CycleGAN training engine and its components."""

from __future__ import annotations

from monai_cyclegan.engines.cyclegan_trainer import (
    LOSS_KEYS,
    CycleGANEvents,
    CycleGANKeys,
    CycleGANTrainer,
    losses_from_output,
    progress_losses,
)
from monai_cyclegan.engines.image_pool import ImagePool
from monai_cyclegan.engines.lr_scheduler import LinearDecayLR
from monai_cyclegan.engines.prepare_batch import PrepareBatchUnpaired
from monai_cyclegan.engines.random_states import RandomStates, randomizables

__all__ = [
    "LOSS_KEYS",
    "CycleGANEvents",
    "CycleGANKeys",
    "CycleGANTrainer",
    "ImagePool",
    "LinearDecayLR",
    "PrepareBatchUnpaired",
    "RandomStates",
    "losses_from_output",
    "progress_losses",
    "randomizables",
]
