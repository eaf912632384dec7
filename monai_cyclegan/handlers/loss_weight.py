"""A loss weight that fades out over the first epochs: a warm start that the rest of training is free to leave."""

from __future__ import annotations

from ignite.engine import Engine, Events

__all__ = ["LossWeightDecay"]


class LossWeightDecay:
    """Set a trainer's loss weight to ``start * (1 - (epoch - 1) / epochs)`` at the start of every epoch, then 0.

    E.g. ``lambda_prior`` of :class:`~monai_cyclegan.engines.CycleGANTrainer`: the translations begin at the
    non-learned intensity mapping and are released from it by epoch ``epochs + 1``. The weight is a function of the
    epoch alone, so a resumed run continues the schedule where it stopped.

    Args:
        name: the trainer attribute holding the weight.
        start: the weight of epoch 1.
        epochs: epochs over which it falls to 0 (0 keeps it at ``start`` throughout).

    Raises:
        ValueError: for a negative ``start`` or ``epochs``.
    """

    def __init__(self, name: str, start: float, epochs: int) -> None:
        if start < 0 or epochs < 0:
            raise ValueError(f"start and epochs must be >= 0, got {start} and {epochs}.")
        self.name = name
        self.start = start
        self.epochs = epochs

    def weight(self, epoch: int) -> float:
        """The weight of ``epoch`` (counted from 1)."""
        if self.epochs == 0:
            return self.start
        return self.start * max(0.0, 1.0 - (epoch - 1) / self.epochs)

    def attach(self, engine: Engine) -> None:
        """Set the weight at the start of every epoch."""
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        """Set the current epoch's weight.

        Raises:
            ValueError: when the engine has no such weight (checked here: trainers attach their handlers before they
                set their own attributes).
        """
        if not hasattr(engine, self.name):
            raise ValueError(f"{type(engine).__name__} has no loss weight {self.name!r}.")
        setattr(engine, self.name, self.weight(engine.state.epoch))
