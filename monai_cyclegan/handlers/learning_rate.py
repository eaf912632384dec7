"""Learning rates in TensorBoard (MONAI's ``LrScheduleHandler`` only prints them)."""

from __future__ import annotations

from typing import Any

from ignite.engine import Engine, Events
from monai.handlers import TensorBoardHandler
from torch.optim import Optimizer

__all__ = ["LearningRateHandler"]


class LearningRateHandler(TensorBoardHandler):
    """At the start of every epoch, write the learning rate each optimizer will use as ``lr/<name>``.

    Args:
        optimizers: optimizers by name, e.g. ``{"generators": g_opt, "discriminators": d_opt}``.
        summary_writer: a shared ``SummaryWriter``; one is created in ``log_dir`` otherwise.
        log_dir: directory of the created writer.
    """

    def __init__(self, optimizers: dict[str, Optimizer], summary_writer: Any = None, log_dir: str = "./runs") -> None:
        super().__init__(summary_writer=summary_writer, log_dir=log_dir)
        self.optimizers = optimizers

    def attach(self, engine: Engine) -> None:
        """Write at the start of every epoch."""
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        """Write the current learning rates."""
        for name, optimizer in self.optimizers.items():
            self._writer.add_scalar(f"lr/{name}", optimizer.param_groups[0]["lr"], engine.state.epoch)
