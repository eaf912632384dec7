"""Losses for CycleGAN training."""

from __future__ import annotations

from monai_cyclegan.losses.adversarial import GAN_MODES, AdversarialLoss, discriminator_logits
from monai_cyclegan.losses.structure import MINDLoss, mind_descriptor

__all__ = ["GAN_MODES", "AdversarialLoss", "MINDLoss", "discriminator_logits", "mind_descriptor"]
