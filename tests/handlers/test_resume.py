from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from ignite.engine import Engine, Events

from monai_cyclegan.handlers import AtomicCheckpointSaver, ResumeCheckpointLoader
from tests.unsafe_checkpoint import write_code_running_checkpoint

LOGGER = "test-resume"


def _training(net: torch.nn.Module) -> Engine:
    """An engine that nudges ``net``'s weights each iteration, so that every epoch's checkpoint differs."""

    def step(engine: Engine, batch: int) -> None:
        with torch.no_grad():
            for p in net.parameters():
                p.add_(1.0)

    return Engine(step)


class TestResumeCheckpointLoader(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        torch.manual_seed(0)
        self.net = torch.nn.Linear(3, 2)
        engine = _training(self.net)
        self.weights = {}
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: self.weights.update({e.state.epoch: self._copy()}))
        saver = AtomicCheckpointSaver(
            str(self.dir), {"net": self.net, "trainer": engine}, file_prefix="run", save_interval=1, n_saved=None
        )
        saver.attach(engine)
        engine.run([0, 1], max_epochs=3)  # run_checkpoint_epoch=1.pt .. =3.pt

    def tearDown(self):
        self.tmp.cleanup()

    def _copy(self) -> torch.Tensor:
        return self.net.weight.detach().clone()

    def _resume(self, net: torch.nn.Module | None = None, max_epochs: int = 4) -> tuple[Engine, ResumeCheckpointLoader]:
        net = net or torch.nn.Linear(3, 2)
        engine = _training(net)
        loader = ResumeCheckpointLoader(self.dir, {"net": net, "trainer": engine}, name=LOGGER)
        loader.attach(engine)
        engine.add_event_handler(Events.STARTED, lambda e: e.terminate())  # stop right after loading
        engine.run([0, 1], max_epochs=max_epochs)
        return engine, loader

    def _path(self, epoch: int) -> Path:
        return self.dir / f"run_checkpoint_epoch={epoch}.pt"

    def test_loads_the_newest(self):
        net = torch.nn.Linear(3, 2)
        engine, loader = self._resume(net)
        self.assertEqual((engine.state.epoch, engine.state.iteration, engine.state.max_epochs), (3, 6, 4))
        self.assertEqual(loader.loaded_path, self._path(3))
        self.assertTrue(torch.equal(net.weight, self.weights[3]))

    def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(self):
        data = self._path(3).read_bytes()
        self._path(3).write_bytes(data[: len(data) // 3])
        net = torch.nn.Linear(3, 2)
        with self.assertLogs(LOGGER, "WARNING") as logs:
            engine, loader = self._resume(net)
        self.assertRegex(logs.output[0], r"run_checkpoint_epoch=3\.pt: cannot be read, it is truncated or corrupt")
        self.assertEqual((loader.loaded_path, engine.state.epoch), (self._path(2), 2))
        self.assertTrue(torch.equal(net.weight, self.weights[2]))

    def test_a_checkpoint_that_would_run_code_is_refused_and_skipped(self):
        marker = self.dir / "code-ran"
        write_code_running_checkpoint(self._path(4), marker, torch.load(self._path(3), weights_only=True))
        with self.assertLogs(LOGGER, "WARNING") as logs:
            _, loader = self._resume(max_epochs=5)
        self.assertRegex(logs.output[0], r"run_checkpoint_epoch=4\.pt: refused")
        self.assertEqual(loader.loaded_path, self._path(3))
        self.assertFalse(marker.exists())

    def test_no_good_checkpoint_names_every_file(self):
        for epoch in (1, 2, 3):
            self._path(epoch).write_bytes(b"\x00" * 10)
        with self.assertLogs(LOGGER, "WARNING"), self.assertRaises(RuntimeError) as caught:
            self._resume()
        message = str(caught.exception)
        self.assertIn("resume failed, no checkpoint loads", message)
        for epoch in (1, 2, 3):
            self.assertIn(f"run_checkpoint_epoch={epoch}.pt: cannot be read", message)

    def test_another_architecture_is_a_clear_error(self):
        with self.assertRaisesRegex(RuntimeError, r"epoch=3\.pt: does not fit this training's configuration.*size"):
            self._resume(torch.nn.Linear(5, 2))

    def test_a_checkpoint_of_other_objects_is_a_clear_error(self):
        torch.save({"net": self.net.state_dict()}, self._path(4))
        with self.assertRaisesRegex(RuntimeError, r"epoch=4\.pt: not a full-state checkpoint.*\['trainer'\]"):
            self._resume(max_epochs=5)

    def test_a_run_shorter_than_the_checkpoint_is_a_clear_error(self):
        with self.assertRaisesRegex(ValueError, r"epoch=3\.pt: holds epoch 3, beyond this run's 2 epochs"):
            self._resume(max_epochs=2)

    def test_an_empty_folder(self):
        self.tmp.cleanup()
        self.dir.mkdir()
        with self.assertRaisesRegex(FileNotFoundError, "holds no checkpoint"):
            self._resume()


if __name__ == "__main__":
    unittest.main()
