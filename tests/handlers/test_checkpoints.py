from __future__ import annotations

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import torch
from ignite.engine import Engine

from monai_cyclegan.files import load_checkpoint
from monai_cyclegan.handlers import AtomicCheckpointSaver, checkpoints_newest_first, latest_checkpoint

_real_save = torch.save


def _save_half_then_fail(obj, path, **kwargs):
    """torch.save that dies halfway through the file, as on a full disk or a killed process."""
    _real_save(obj, path, **kwargs)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 2])
    raise OSError(28, "No space left on device")


def _engine(fail_at_iteration: int | None = None) -> Engine:
    def step(engine: Engine, batch: int) -> None:
        if engine.state.iteration == fail_at_iteration:
            raise RuntimeError("boom")

    return Engine(step)


class TestAtomicCheckpointSaver(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.net = torch.nn.Linear(3, 2)

    def tearDown(self):
        self.tmp.cleanup()

    def _final_saver(self) -> AtomicCheckpointSaver:
        return AtomicCheckpointSaver(str(self.dir), {"model": self.net}, save_final=True, final_filename="model.pt")

    def test_a_crash_during_a_save_keeps_the_previous_file(self):
        engine = _engine()
        self._final_saver().attach(engine)
        engine.run([0], max_epochs=1)
        good = {k: v.clone() for k, v in self.net.state_dict().items()}
        with torch.no_grad():
            self.net.weight.add_(1.0)
        engine = _engine()
        self._final_saver().attach(engine)
        with mock.patch("torch.save", _save_half_then_fail), self.assertRaisesRegex(OSError, "No space left"):
            engine.run([0], max_epochs=1)
        self.assertEqual([p.name for p in self.dir.iterdir()], ["model.pt"])  # no temporary file left behind
        saved = load_checkpoint(self.dir / "model.pt")
        self.assertTrue(all(torch.equal(saved[k], good[k]) for k in good))

    def test_interval_checkpoints_rotate(self):
        engine = _engine()
        saver = AtomicCheckpointSaver(
            str(self.dir), {"model": self.net}, file_prefix="run", save_interval=1, epoch_level=True, n_saved=2
        )
        saver.attach(engine)
        engine.run([0, 1], max_epochs=3)
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["run_model_epoch=2.pt", "run_model_epoch=3.pt"])

    def test_no_final_file_when_training_raises(self):
        """MONAI's saver would write model.pt here: untrained weights over a good file when a resume fails."""
        engine = _engine(fail_at_iteration=1)
        self._final_saver().attach(engine)
        with self.assertRaisesRegex(RuntimeError, "boom"):
            engine.run([0], max_epochs=1)
        self.assertEqual(list(self.dir.iterdir()), [])


class TestFindingCheckpoints(unittest.TestCase):
    def test_highest_epoch_first(self):
        with tempfile.TemporaryDirectory() as tmp:
            names = ("cyclegan_checkpoint_epoch=2.pt", "cyclegan_checkpoint_epoch=10.pt", "model.pt", "x_epoch=3.txt")
            for name in names:
                (Path(tmp) / name).write_bytes(b"")
            found = [p.name for p in checkpoints_newest_first(tmp)]
            self.assertEqual(found, ["cyclegan_checkpoint_epoch=10.pt", "cyclegan_checkpoint_epoch=2.pt"])
            self.assertEqual(Path(latest_checkpoint(tmp)).name, "cyclegan_checkpoint_epoch=10.pt")

    def test_none_found(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(FileNotFoundError, "no checkpoint"):
            latest_checkpoint(tmp)


if __name__ == "__main__":
    unittest.main()
