from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import torch
from ignite.engine import Engine

from monai_cyclegan.handlers import RunBundleHandler


def _generator() -> torch.nn.Module:
    return torch.nn.Conv2d(1, 1, 3, padding=1)


class TestRunBundleHandler(unittest.TestCase):
    def test_written_when_training_completes_with_the_trained_weights(self):
        with tempfile.TemporaryDirectory() as tmp:
            g_ab, g_ba = _generator(), _generator()
            engine = Engine(lambda engine, batch: g_ab.weight.data.add_(1.0))  # "training" changes the weights
            engine.state.device = torch.device("cpu")  # as MONAI's workflows have it
            RunBundleHandler(Path(tmp) / "bundle", {"image_size": 32, "lr": 0.1}, g_ab, g_ba).attach(engine)
            engine.run(range(2), max_epochs=3)
            folder = Path(tmp) / "bundle"
            torch.testing.assert_close(torch.load(folder / "models" / "model.pt")["weight"], g_ab.weight.data)
            torch.testing.assert_close(torch.load(folder / "models" / "model_t2_to_t1.pt")["weight"], g_ba.weight.data)
            self.assertEqual(json.loads((folder / "configs" / "inference.json").read_text())["image_size"], 32)
            card = (folder / "docs" / "README.md").read_text()
            self.assertIn("epochs: 3", card)
            self.assertIn("iterations: 6", card)
            self.assertIn("train_minutes: 0.0", card)  # the System Configuration of the model-zoo template
            self.assertIn(f"device: cpu ({torch.get_num_threads()} threads)", card)

    def test_not_written_when_training_raises(self):
        with tempfile.TemporaryDirectory() as tmp:

            def fail(engine, batch):
                raise RuntimeError("diverged")

            engine = Engine(fail)
            RunBundleHandler(Path(tmp) / "bundle", {}, _generator(), _generator()).attach(engine)
            with self.assertRaisesRegex(RuntimeError, "diverged"):
                engine.run(range(2), max_epochs=1)
            self.assertEqual(list(Path(tmp).iterdir()), [])

    def test_a_distributed_wrapper_is_unwrapped(self):
        with tempfile.TemporaryDirectory() as tmp:
            g_ab, g_ba = _generator(), _generator()
            wrapped = torch.nn.DataParallel(
                g_ab
            )  # the same `.module` as DistributedDataParallel, with no process group
            engine = Engine(lambda engine, batch: None)
            RunBundleHandler(Path(tmp) / "bundle", {}, wrapped, g_ba).attach(engine)
            engine.run(range(1), max_epochs=1)
            state = torch.load(Path(tmp) / "bundle" / "models" / "model.pt")
            self.assertEqual(set(state), {"weight", "bias"})  # no "module." prefix


if __name__ == "__main__":
    unittest.main()
