"""TensorBoard image panels of both translation directions, from samples fixed at the start of training."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from monai.handlers import TensorBoardHandler
from torch import nn

from monai_cyclegan.engines.cyclegan_trainer import CycleGANKeys
from monai_cyclegan.files import load_checkpoint, write_atomically
from monai_cyclegan.visualization import axial_display, to_unit_range

__all__ = ["CycleGANImageHandler", "FixedSamples", "on_first_epoch", "translation_panels"]


def on_first_epoch(engine: Engine, handler: Callable[[Engine], None]) -> None:
    """Call ``handler(engine)`` at the first epoch start of every ``engine.run``.

    Unlike ``Events.STARTED``, this comes after a checkpoint loader has restored the engine's epoch (it also runs at
    ``STARTED``, but may be attached later), so ``engine.state.epoch - 1`` is the epoch the run resumes from.
    """
    first = [True]

    def reset(_: Engine) -> None:
        first[0] = True

    def call(e: Engine) -> None:
        if first[0]:
            first[0] = False
            handler(e)

    engine.add_event_handler(Events.STARTED, reset)
    engine.add_event_handler(Events.EPOCH_STARTED, call)


def _real_images(output: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    return output[CycleGANKeys.REAL_A], output[CycleGANKeys.REAL_B]


@torch.no_grad()
def translation_panels(
    g_ab: nn.Module, g_ba: nn.Module, real_a: torch.Tensor, real_b: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Render ``real A | fake B | reconstructed A`` and ``real B | fake A | reconstructed B`` rows.

    Returns ``{"A2B": (N, 1, H, 3W), "B2A": (N, 1, H, 3W)}`` in [0, 1], in display orientation. The generators are
    run in eval mode and put back into their previous mode.
    """
    modes = (g_ab.training, g_ba.training)
    g_ab.eval()
    g_ba.eval()
    try:
        device = next(g_ab.parameters(), real_a).device
        real_a, real_b = real_a.to(device), real_b.to(device)
        fake_b, fake_a = g_ab(real_a), g_ba(real_b)
        rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
    finally:
        g_ab.train(modes[0])
        g_ba.train(modes[1])

    def row(*images: torch.Tensor) -> torch.Tensor:
        return torch.cat([axial_display(to_unit_range(i.float().cpu())) for i in images], dim=-1)

    return {"A2B": row(real_a, fake_b, rec_a), "B2A": row(real_b, fake_a, rec_b)}


class FixedSamples:
    """The first ``num_images`` finite real A and real B images a trainer sees, kept to show progress on.

    Picking them costs nothing and draws no extra random numbers. An image with a NaN or infinite pixel is left out.
    With a ``store`` file the samples are saved there as they are picked, and a resumed run (one whose first epoch
    is not epoch 1) takes them back, so that its pictures show the same slices as the interrupted run's; a run that
    starts at epoch 1 forgets the stored ones.

    Args:
        num_images: samples per domain.
        output_transform: ``output -> (real_a, real_b)`` batches.
        store: file that keeps the samples across a resume; None keeps them in memory only.
    """

    def __init__(
        self,
        num_images: int,
        output_transform: Callable[[Any], tuple[torch.Tensor, torch.Tensor]] = _real_images,
        store: str | Path | None = None,
    ) -> None:
        self.num_images = num_images
        self.output_transform = output_transform
        self.store = None if store is None else Path(store)
        self.a: list[torch.Tensor] = []
        self.b: list[torch.Tensor] = []

    def __bool__(self) -> bool:
        return bool(self.a) and bool(self.b)

    def attach(self, engine: Engine) -> None:
        """Take back stored samples when the run starts (see the class docstring), then collect after iterations."""
        on_first_epoch(engine, self.start)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.collect)

    def start(self, engine: Engine) -> None:
        """A resumed run takes the stored samples; a new run (at epoch 1) removes them."""
        self.a, self.b = [], []
        if self.store is None:
            return
        if engine.state.epoch > 1 and self.store.is_file():
            try:
                state = load_checkpoint(self.store)
                self.a, self.b = list(state["a"]), list(state["b"])
                return
            except (RuntimeError, KeyError, TypeError) as e:
                # a damaged store only costs the pictures' continuity; load_checkpoint's errors name the file
                problem = e if isinstance(e, RuntimeError) else f"{self.store}: holds no samples ({e!r})."
                warnings.warn(f"{problem} Picking new samples.", stacklevel=1)
        self.store.unlink(missing_ok=True)

    def collect(self, engine: Engine) -> None:
        """Keep copies of the engine's current real images until ``num_images`` of each domain are kept."""
        if len(self.a) >= self.num_images and len(self.b) >= self.num_images:
            return
        kept = len(self.a) + len(self.b)
        real = self.output_transform(engine.state.output)
        for samples, images in zip((self.a, self.b), real, strict=True):
            finite = [x for x in images if torch.isfinite(x).all()]
            samples.extend(x.detach().cpu().clone() for x in finite[: self.num_images - len(samples)])
        if self.store is not None and len(self.a) + len(self.b) > kept and self:
            state = {"a": torch.stack(self.a), "b": torch.stack(self.b)}
            self.store.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.store, lambda path: torch.save(state, path))

    def panels(self, g_ab: nn.Module, g_ba: nn.Module) -> dict[str, torch.Tensor]:
        """:func:`translation_panels` of the kept samples."""
        return translation_panels(g_ab, g_ba, torch.stack(self.a), torch.stack(self.b))


class CycleGANImageHandler(TensorBoardHandler):
    """Every ``interval`` epochs, translate fixed samples with both generators and add them to TensorBoard.

    The samples are the first ``num_images`` real A and real B images the trainer sees (:class:`FixedSamples`). Tags:
    ``A2B`` (real A | fake B | rec A) and ``B2A`` (real B | fake A | rec B).

    Args:
        g_ab: generator A -> B.
        g_ba: generator B -> A.
        summary_writer: a shared ``SummaryWriter``; one is created in ``log_dir`` otherwise.
        log_dir: directory of the created writer.
        num_images: samples per direction.
        interval: epochs between panels.
        output_transform: ``output -> (real_a, real_b)`` batches.
        samples_file: keeps the samples across a resume (:class:`FixedSamples` ``store``); None: memory only.
    """

    def __init__(
        self,
        g_ab: nn.Module,
        g_ba: nn.Module,
        summary_writer: Any = None,
        log_dir: str = "./runs",
        num_images: int = 4,
        interval: int = 1,
        output_transform: Callable[[Any], tuple[torch.Tensor, torch.Tensor]] = _real_images,
        samples_file: str | Path | None = None,
    ) -> None:
        super().__init__(summary_writer=summary_writer, log_dir=log_dir)
        self.g_ab, self.g_ba = g_ab, g_ba
        self.interval = interval
        self.samples = FixedSamples(num_images, output_transform, store=samples_file)

    def attach(self, engine: Engine) -> None:
        """Collect samples after each iteration until enough, and write panels every ``interval`` epochs."""
        self.samples.attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self)

    def __call__(self, engine: Engine) -> None:
        """Write the panels of the current epoch."""
        if not self.samples:
            return
        for tag, images in self.samples.panels(self.g_ab, self.g_ba).items():
            self._writer.add_images(tag, images, engine.state.epoch)
        self._writer.flush()
