from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from ignite.engine import Engine, Events
from PIL import Image
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


if __name__ == "__main__":
    unittest.main()
