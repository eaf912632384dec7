"""Faults injected into the bundle's training: a diverging run stops and keeps the last good files; in skip mode a
bad batch is dropped, counted in TensorBoard, and training finishes."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.bundle import run_workflow
from monai_cyclegan.evaluation import read_scalars
from monai_cyclegan.handlers import TrainingDivergedError
from tests.bundle.faults import TRAIN, fault_config

# 2 iterations per epoch: iteration 3 is the first of epoch 2.
TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 1, "phantom_subjects": 2}
TINY |= {"phantom_scale": 0.125, "dataset_dir": ""}


class TestTrainingFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        cls.paths = {"phantom_dir": str(cls.root / "phantom")}

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def _train(self, out: Path, epochs: int, fault: str | None = None, **overrides):
        configs = [TRAIN] if fault is None else [TRAIN, fault_config(out.with_suffix(".json"), fault)]
        return run_workflow(
            configs,
            "train",
            output_dir=str(out),
            ckpt_dir=str(out / "models"),
            epochs=epochs,
            **self.paths,
            **TINY,
            **overrides,
        )

    def test_a_diverging_run_stops_and_keeps_the_last_good_files(self):
        out = self.root / "diverging"
        self._train(out, epochs=1)
        kept = {p: p.read_bytes() for p in [*(out / "checkpoints").glob("*.pt"), *(out / "models").glob("*.pt")]}
        self.assertEqual(len(kept), 3)  # the epoch-1 checkpoint and the two generators
        nan_weight = (
            "$@train#trainer.add_event_handler(ignite.engine.Events.ITERATION_STARTED(once=3), "
            "lambda e: next(@g_ab.parameters()).data.fill_(float('nan')))"
        )
        with self.assertRaises(RuntimeError) as caught:
            self._train(out, epochs=2, fault=nan_weight, resume=True)
        error = caught.exception.__cause__
        self.assertIsInstance(error, TrainingDivergedError)
        self.assertRegex(str(error), r"non-finite loss at epoch 2, iteration 3: loss_g = nan")
        now = [*(out / "checkpoints").glob("*.pt"), *(out / "models").glob("*.pt")]
        self.assertEqual(sorted(now), sorted(kept))  # nothing new, nothing removed
        for path, data in kept.items():
            self.assertEqual(path.read_bytes(), data, path.name)

    def test_skip_mode_drops_a_bad_batch_and_finishes(self):
        out = self.root / "skipping"
        nan_batch = (
            "$@train#trainer.add_event_handler(ignite.engine.Events.ITERATION_STARTED(once=2), "
            "lambda e: e.state.batch['A'].fill_(float('nan')))"
        )
        workflow = self._train(out, epochs=2, fault=nan_batch, nonfinite="skip")
        self.assertEqual(workflow.trainer.state.iteration, 4)
        self.assertTrue((out / "models" / "model.pt").is_file())
        self.assertEqual(read_scalars(out / "tensorboard")["skipped_batches"], [(2, 1.0)])


if __name__ == "__main__":
    unittest.main()
