from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from monai_cyclegan.evaluation import read_scalars, save_loss_curves


class TestTrainingCurves(unittest.TestCase):
    def test_loss_figures_from_tensorboard_logs(self):
        with tempfile.TemporaryDirectory() as tmp:
            logs = Path(tmp) / "tensorboard"
            with SummaryWriter(str(logs)) as writer:
                for step in range(1, 50):
                    for tag in ("loss_g_adv_a2b", "loss_cycle_a", "loss_d_a", "loss_d_b"):
                        writer.add_scalar(tag, 1 / step, step)
            scalars = read_scalars(logs)
            self.assertEqual(len(scalars["loss_cycle_a"]), 49)
            written = save_loss_curves(logs, Path(tmp) / "out", smooth=5)
            self.assertEqual([p.name for p in written], ["losses_generator.png", "losses_discriminator.png"])
            for path in written:
                with Image.open(path) as picture:
                    self.assertEqual(picture.mode, "RGB")

    def test_empty_log_dir(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(ValueError, "no TensorBoard scalars"):
            read_scalars(tmp)


if __name__ == "__main__":
    unittest.main()
