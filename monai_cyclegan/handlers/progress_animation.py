"""An animated GIF of training progress and the loss-curve PNGs, written when training completes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from PIL import Image, ImageDraw
from torch import nn

from monai_cyclegan.evaluation.training_curves import save_loss_curves
from monai_cyclegan.files import write_atomically
from monai_cyclegan.handlers.image_panels import FixedSamples, on_first_epoch

__all__ = ["TrainingProgressHandler", "progress_frame"]


def progress_frame(panels: dict[str, torch.Tensor], epoch: int) -> Image.Image:
    """One frame: per sample, ``real A | fake B | rec A`` over ``real B | fake A | rec B``, with the epoch written."""
    rows = [torch.cat([panels["A2B"][i], panels["B2A"][i]], dim=-2) for i in range(panels["A2B"].shape[0])]
    grey = (torch.cat(rows, dim=-2)[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    frame = Image.fromarray(np.ascontiguousarray(grey), mode="L")
    ImageDraw.Draw(frame).text((4, 2), f"epoch {epoch}", fill=255)
    return frame


class TrainingProgressHandler:
    """Renders fixed samples through both generators every ``interval`` epochs; at the end writes the animation.

    Each frame is written when it is rendered, to ``output_dir/training_progress/epoch_<n>.png``, so that frames cost
    no memory and outlive an interruption. When training completes, ``output_dir/training_progress.gif`` gets one
    frame per rendered epoch (the original CycleGAN work's signature figure) and, with ``log_dir``,
    ``losses_generator.png`` and ``losses_discriminator.png`` are drawn from the TensorBoard logs.

    A resumed run keeps the frames up to the epoch it resumes from and the samples they show (stored beside them), so
    its animation covers the whole training, as an uninterrupted run's does. A run that starts at epoch 1 removes the
    frames of any earlier run in ``output_dir``.

    Args:
        g_ab: generator A -> B.
        g_ba: generator B -> A.
        output_dir: where the GIF, its frames and the loss curves go.
        num_images: samples per direction in each frame.
        interval: epochs between frames.
        log_dir: the training's TensorBoard folder, for the loss curves; None draws none.
        summary_writer: the writer of ``log_dir``, flushed before its logs are read.
        frame_ms: display time of a frame.
    """

    GIF_NAME = "training_progress.gif"
    FRAMES_DIR = "training_progress"

    def __init__(
        self,
        g_ab: nn.Module,
        g_ba: nn.Module,
        output_dir: str | Path,
        num_images: int = 2,
        interval: int = 1,
        log_dir: str | Path | None = None,
        summary_writer: Any = None,
        frame_ms: int = 250,
    ) -> None:
        self.g_ab, self.g_ba = g_ab, g_ba
        self.output_dir = Path(output_dir)
        self.frames_dir = self.output_dir / self.FRAMES_DIR
        self.samples = FixedSamples(num_images, store=self.frames_dir / "samples.pt")
        self.interval = interval
        self.log_dir = log_dir
        self.summary_writer = summary_writer
        self.frame_ms = frame_ms

    def attach(self, engine: Engine) -> None:
        """Drop stale frames at the start, collect samples, render every ``interval`` epochs, write at the end."""
        on_first_epoch(engine, self.drop_stale_frames)
        self.samples.attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.interval), self.render)
        engine.add_event_handler(Events.COMPLETED, self.write)

    def frames(self) -> dict[int, Path]:
        """The frame files on disk, by epoch, in epoch order."""
        found = {int(p.stem[6:]): p for p in self.frames_dir.glob("epoch_*.png") if p.stem[6:].isdigit()}
        return dict(sorted(found.items()))

    def drop_stale_frames(self, engine: Engine) -> None:
        """Remove the frames of epochs this run will render again (all of them when it starts at epoch 1)."""
        for epoch, path in self.frames().items():
            if epoch >= engine.state.epoch:
                path.unlink()

    def render(self, engine: Engine) -> None:
        """Write the frame of the current epoch."""
        if self.samples:
            frame = progress_frame(self.samples.panels(self.g_ab, self.g_ba), engine.state.epoch)
            self.frames_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(self.frames_dir / f"epoch_{engine.state.epoch:05d}.png", frame.save)

    def write(self, engine: Engine) -> None:
        """Write the GIF and the loss curves."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        frames = [Image.open(path) for path in self.frames().values()]
        if frames:
            first, *rest = frames
            write_atomically(
                self.output_dir / self.GIF_NAME,
                lambda path: first.save(path, save_all=True, append_images=rest, duration=self.frame_ms, loop=0),
            )
            for frame in frames:
                frame.close()
        if self.log_dir is not None:
            if self.summary_writer is not None:
                self.summary_writer.flush()
            save_loss_curves(self.log_dir, self.output_dir)
