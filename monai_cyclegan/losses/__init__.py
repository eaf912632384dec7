"""Losses for CycleGAN training."""

from __future__ import annotations

from monai_cyclegan.losses.adversarial import GAN_MODES, AdversarialLoss, discriminator_logits

__all__ = ["GAN_MODES", "AdversarialLoss", "discriminator_logits"]
