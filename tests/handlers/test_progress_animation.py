from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from ignite.engine import Engine, Events
from PIL import Image, ImageSequence
from torch.utils.tensorboard import SummaryWriter

from monai_cyclegan.handlers import TrainingProgressHandler
from monai_cyclegan.networks import UNetGenerator


def _batches(n: int = 2) -> list[dict[str, torch.Tensor]]:
    return [{"real_a": torch.rand(2, 1, 32, 32) * 2 - 1, "real_b": torch.rand(2, 1, 32, 32) * 2 - 1} for _ in range(n)]


class TestTrainingProgressHandler(unittest.TestCase):
    def test_one_frame_per_interval_and_the_loss_curves(self):
        with tempfile.TemporaryDirectory() as tmp:
            logs = Path(tmp) / "tensorboard"
            writer = SummaryWriter(logs)
            engine = Engine(lambda e, batch: batch)
            engine.add_event_handler(
                Events.ITERATION_COMPLETED,
                lambda e: writer.add_scalar("loss_cycle_a", 1.0 / e.state.iteration, e.state.iteration),
            )
            g = UNetGenerator(image_size=32, ngf=2)  # untrained: frames differ by their epoch label only
            handler = TrainingProgressHandler(g, g, tmp, num_images=2, interval=2, log_dir=logs, summary_writer=writer)
            handler.attach(engine)
            engine.run(_batches(), max_epochs=4)
            writer.close()
            with Image.open(Path(tmp) / "training_progress.gif") as gif:
                self.assertEqual(gif.n_frames, 2)  # epochs 2 and 4
                # per sample: the A row over the B row, each 3 images wide
                self.assertEqual(gif.size, (3 * 32, 2 * 2 * 32))
            self.assertTrue((Path(tmp) / "losses_generator.png").is_file())
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir() if p.name.startswith(".")), [])

    def test_no_samples_no_animation(self):
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(lambda e, batch: {"real_a": torch.full((1, 1, 8, 8), float("nan")), "real_b": batch})
            g = UNetGenerator(image_size=8, ngf=2)
            TrainingProgressHandler(g, g, tmp).attach(engine)
            engine.run([torch.zeros(1, 1, 8, 8)], max_epochs=2)
            self.assertFalse((Path(tmp) / "training_progress.gif").exists())

    def _animate(self, out: Path, g: torch.nn.Module, first: float, max_epochs: int, resume_from: int = 0) -> list:
        """Train-like run of ``max_epochs`` whose batches start at ``first``; the GIF's frames as arrays."""
        engine = Engine(lambda e, batch: batch)
        TrainingProgressHandler(g, g, out, num_images=1).attach(engine)
        if resume_from:  # what a checkpoint loader does at STARTED
            engine.add_event_handler(Events.STARTED, lambda e: setattr(e.state, "epoch", resume_from))
        batches = [
            {"real_a": torch.full((1, 1, 32, 32), first + i), "real_b": torch.zeros(1, 1, 32, 32)} for i in range(2)
        ]
        engine.run(batches, max_epochs=max_epochs)
        with Image.open(out / "training_progress.gif") as gif:
            return [np.asarray(frame.convert("L")) for frame in ImageSequence.Iterator(gif)]

    def test_a_resumed_run_continues_the_animation(self):
        g = torch.nn.Identity()
        with tempfile.TemporaryDirectory() as tmp:
            whole = self._animate(Path(tmp) / "whole", g, first=-0.5, max_epochs=4)
            crashed = Path(tmp) / "crashed"
            self._animate(crashed, g, first=-0.5, max_epochs=3)
            # resumed from epoch 2 (epoch 3 is lost), on other images: the frames still show the first run's samples
            resumed = self._animate(crashed, g, first=0.5, max_epochs=4, resume_from=2)
            self.assertEqual(len(resumed), 4)
            for epoch, (expected, frame) in enumerate(zip(whole, resumed, strict=True), start=1):
                np.testing.assert_array_equal(frame, expected, err_msg=f"epoch {epoch}")
            self.assertEqual(
                sorted(p.name for p in (crashed / "training_progress").glob("*.png"))[-1], "epoch_00004.png"
            )

    def test_a_new_run_replaces_the_frames_of_an_earlier_one(self):
        g = torch.nn.Identity()
        with tempfile.TemporaryDirectory() as tmp:
            self._animate(Path(tmp), g, first=-0.5, max_epochs=5)
            frames = self._animate(Path(tmp), g, first=0.5, max_epochs=2)
            self.assertEqual(len(frames), 2)
            self.assertEqual(len(list((Path(tmp) / "training_progress").glob("epoch_*.png"))), 2)
            self.assertGreater(frames[0][20:32, :].mean(), 100)  # the new, brighter samples


if __name__ == "__main__":
    unittest.main()
