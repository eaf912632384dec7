"""CycleGAN's learning-rate schedule: constant, then linear decay to zero."""

from __future__ import annotations

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["LinearDecayLR"]


class LinearDecayLR(LRScheduler):
    """Keep the initial learning rate for ``constant_epochs``, then decay it linearly over ``decay_epochs``.

    Stepped once per epoch (``monai.handlers.LrScheduleHandler(epoch_level=True)``). Uses the CycleGAN formula, in
    which the last decay epoch still trains with a small non-zero rate: ``factor = 1 - max(0, e + 1 - C) / (D + 1)``
    for epoch ``e`` (0-based), ``C`` constant and ``D`` decay epochs.

    Args:
        optimizer: the wrapped optimizer.
        constant_epochs: epochs at the initial rate.
        decay_epochs: epochs of linear decay after them.
        last_epoch: index of the last epoch when resuming (-1 to start).
    """

    def __init__(self, optimizer: Optimizer, constant_epochs: int, decay_epochs: int, last_epoch: int = -1) -> None:
        if constant_epochs < 0 or decay_epochs < 0:
            raise ValueError(f"epochs must be >= 0, got constant={constant_epochs}, decay={decay_epochs}.")
        self.constant_epochs = constant_epochs
        self.decay_epochs = decay_epochs
        super().__init__(optimizer, last_epoch)

    def factor(self, epoch: int) -> float:
        """Multiplier of the initial learning rate during 0-based ``epoch``."""
        return max(0.0, 1.0 - max(0, epoch + 1 - self.constant_epochs) / (self.decay_epochs + 1))

    def get_lr(self) -> list[float]:
        """Learning rates of the current epoch."""
        return [base_lr * self.factor(self.last_epoch) for base_lr in self.base_lrs]
