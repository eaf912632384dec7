"""Adversarial loss for the generators and discriminators (LSGAN or BCE on raw logits).

Written here rather than using MONAI's ``PatchAdversarialLoss``: that one applies a sigmoid followed by ``BCELoss``,
which is less stable than BCE-with-logits and is refused inside ``torch.autocast``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["GAN_MODES", "AdversarialLoss", "discriminator_logits"]

GAN_MODES = ("lsgan", "bce")


def discriminator_logits(prediction: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The logits of a discriminator output.

    That is the output itself, or the last element of the list of feature maps MONAI's ``PatchDiscriminator`` returns.
    """
    return prediction[-1] if isinstance(prediction, (list, tuple)) else prediction


class AdversarialLoss(nn.Module):
    """GAN objective on discriminator logits against an all-real or all-fake target.

    Args:
        gan_mode: ``"lsgan"`` (mean squared error to 1/0, as in CycleGAN) or ``"bce"`` (binary cross-entropy on logits).
        real_label: target value for real images.
        fake_label: target value for fake images.
    """

    def __init__(self, gan_mode: str = "lsgan", real_label: float = 1.0, fake_label: float = 0.0) -> None:
        super().__init__()
        if gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode must be one of {GAN_MODES}, got {gan_mode!r}.")
        self.gan_mode = gan_mode
        self.real_label = real_label
        self.fake_label = fake_label
        self.criterion = nn.MSELoss() if gan_mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, prediction: torch.Tensor | Sequence[torch.Tensor], target_is_real: bool) -> torch.Tensor:
        """Loss of ``prediction`` against the real or fake target.

        Args:
            prediction: discriminator logits, or the list MONAI's ``PatchDiscriminator`` returns (logits last).
            target_is_real: whether the target is the real label.
        """
        logits = discriminator_logits(prediction)
        target = torch.full_like(logits, self.real_label if target_is_real else self.fake_label)
        return self.criterion(logits, target)
