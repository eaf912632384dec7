"""Stopping (or skipping a batch) when a loss or a weight stops being finite."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from torch import nn

from monai_cyclegan.engines.cyclegan_trainer import CycleGANEvents, CycleGANKeys, CycleGANTrainer

__all__ = ["DivergenceGuard", "TrainingDivergedError"]

_PHASE_LOSSES = {
    CycleGANEvents.GENERATOR_LOSS_COMPLETED: (
        CycleGANKeys.G_LOSS,
        CycleGANKeys.G_ADV_A2B,
        CycleGANKeys.G_ADV_B2A,
        CycleGANKeys.CYCLE_A,
        CycleGANKeys.CYCLE_B,
        CycleGANKeys.IDENTITY_A2B,
        CycleGANKeys.IDENTITY_B2A,
    ),
    CycleGANEvents.DISCRIMINATOR_LOSS_COMPLETED: (CycleGANKeys.D_LOSS, CycleGANKeys.D_A, CycleGANKeys.D_B),
}


def _on_any_process(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds in any process of a distributed run (just ``flag`` outside one).

    In data-parallel training every process must take the same decision, or the others would wait forever in the
    gradient all-reduce of an update that one process skipped.
    """
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    agreed = torch.tensor([float(flag)], device=device)
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
    return bool(agreed.item())


class TrainingDivergedError(RuntimeError):
    """A loss or a weight of the training is NaN or infinite."""


class DivergenceGuard:
    """Checks every loss before its backward pass and every weight after each iteration.

    A non-finite loss is caught before it reaches the weights. With ``action="stop"`` training stops with a
    :class:`TrainingDivergedError` naming the loss, epoch and iteration; nothing more is saved, so the last
    full-state checkpoint and ``model.pt`` stay those of the last good epoch (see ``AtomicCheckpointSaver``). With
    ``action="skip"`` the rest of that iteration's update is dropped (:meth:`CycleGANTrainer.skip_update`), the
    ``skipped_batches`` count goes to TensorBoard, and training goes on. A non-finite weight (the step itself
    overflowed) always stops training, since it cannot be undone.

    Args:
        networks: the networks whose weights are checked, by name (e.g. ``{"g_ab": g_ab, ...}``).
        action: ``"stop"`` or ``"skip"``.
        summary_writer: TensorBoard writer for the ``skipped_batches`` count; None logs it only.
        name: logger name; the engine's logger when None.
    """

    ACTIONS = ("stop", "skip")

    def __init__(
        self,
        networks: Mapping[str, nn.Module],
        action: str = "stop",
        summary_writer: object | None = None,
        name: str | None = None,
    ) -> None:
        if action not in self.ACTIONS:
            raise ValueError(f"action must be one of {self.ACTIONS}, got {action!r}.")
        self.networks = dict(networks)
        self.action = action
        self.summary_writer = summary_writer
        self.logger = logging.getLogger(name)
        self._name = name
        self.skipped_batches = 0

    def attach(self, engine: CycleGANTrainer) -> None:
        """Check the losses of both phases and the weights after every iteration."""
        if self._name is None:
            self.logger = engine.logger
        for event in _PHASE_LOSSES:
            engine.add_event_handler(event, self._check_losses, event)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._check_weights)

    def _where(self, engine: Engine) -> str:
        return f"epoch {engine.state.epoch}, iteration {engine.state.iteration}"

    def _check_losses(self, engine: CycleGANTrainer, event: CycleGANEvents) -> None:
        output = engine.state.output
        bad = [key for key in _PHASE_LOSSES[event] if key in output and not torch.isfinite(output[key]).all()]
        if not _on_any_process(bool(bad), output[CycleGANKeys.REAL_A].device):
            return
        losses = ", ".join(f"{key} = {float(output[key])}" for key in bad) or "in another process"
        message = f"non-finite loss at {self._where(engine)}: {losses}"
        if self.action == "stop":
            raise TrainingDivergedError(
                f"training diverged, {message}. The last checkpoint is kept: resume from it (resume=true), perhaps "
                "with a lower learning rate, or set nonfinite='skip' to drop such batches."
            )
        self.skipped_batches += 1
        self.logger.warning(f"skipping the update of this batch, {message} ({self.skipped_batches} skipped so far).")
        if self.summary_writer is not None:
            self.summary_writer.add_scalar("skipped_batches", self.skipped_batches, engine.state.iteration)
        engine.skip_update()

    def _check_weights(self, engine: Engine) -> None:
        for net_name, network in self.networks.items():
            for param_name, param in network.named_parameters():
                if not torch.isfinite(param).all():
                    raise TrainingDivergedError(
                        f"training diverged, weight {net_name}.{param_name} is not finite after {self._where(engine)}. "
                        "The last checkpoint is kept: resume from it (resume=true), perhaps with a lower learning rate."
                    )
