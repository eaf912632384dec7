"""Validation during training: a paired set scored every N epochs, in TensorBoard, with the best weights kept."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.evaluation import direction_output
from monai_cyclegan.networks import BidirectionalTranslator, UNetGenerator
from tests.evaluation.brains import write_subject_folders
from tests.evaluation.slices import write_slice_pairs

TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 2}
METRICS = {"val_psnr", "val_psnr_t1_to_t2", "val_psnr_t2_to_t1", "val_ssim_t1_to_t2", "val_ssim_t2_to_t1"}


class TestValidationDuringTraining(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def _train(self, dataset_dir: Path, **overrides):
        settings = {"output_dir": str(self.root / "out"), "ckpt_dir": str(self.root / "models"), **TINY, **overrides}
        return run_workflow(bundle_dir() / "configs" / "train.json", "train", dataset_dir=str(dataset_dir), **settings)

    def test_slices_are_scored_every_interval_and_the_best_generators_kept(self):
        pairs = write_slice_pairs(self.root / "data", count=3)
        workflow = self._train(pairs.parent, epochs=3, validation_pairs=str(pairs), val_interval=2)
        events = EventAccumulator(str(self.root / "out" / "tensorboard"))
        events.Reload()
        self.assertLessEqual(METRICS, set(events.Tags()["scalars"]))
        self.assertEqual([e.step for e in events.Scalars("val_psnr")], [2])  # epochs 2 only (interval 2 of 3)
        best = {name: torch.load(self.root / "models" / name, weights_only=True) for name in ("model_best.pt",)}
        UNetGenerator(image_size=32, ngf=4).load_state_dict(best["model_best.pt"])
        self.assertTrue((self.root / "models" / "model_t2_to_t1_best.pt").is_file())
        # the key metric is the PSNR of both directions together, computed by the evaluator on its own data
        validator = workflow.parser.get_parsed_content("validate#evaluator")
        self.assertEqual(validator.state.metrics["val_psnr"], events.Scalars("val_psnr")[-1].value)

    def test_volume_pairs_give_every_slab_slice_and_no_validation_by_default(self):
        data = write_subject_folders(self.root / "data")
        workflow = self._train(data, epochs=1, validation_pairs=str(data), val_interval=1, fov_mm=32.0)
        validator = workflow.parser.get_parsed_content("validate#evaluator")
        dataset = validator.data_loader.dataset
        slices = [dataset[i] for i in range(len(dataset))]  # a list of slab slices per volume pair
        self.assertEqual(len(slices), 3)
        self.assertGreater(min(len(s) for s in slices), 10)
        self.assertEqual(tuple(slices[0][0]["image"].shape), (2, 32, 32))
        self.assertEqual(validator.state.epoch, 1)
        plain = self._train(data, epochs=1, output_dir=str(self.root / "plain"), ckpt_dir=str(self.root / "plain"))
        self.assertEqual(len(plain.parser.get_parsed_content("validate#dataset")), 0)
        self.assertFalse((self.root / "plain" / "model_best.pt").exists())


class TestBidirectionalTranslator(unittest.TestCase):
    def test_channels_are_the_two_directions(self):
        translator = BidirectionalTranslator(torch.nn.Identity(), torch.nn.Tanh())
        x = torch.randn(3, 2, 4, 4)
        out = translator(x)
        torch.testing.assert_close(out[:, 0], x[:, 0])
        torch.testing.assert_close(out[:, 1], torch.tanh(x[:, 1]))
        with self.assertRaisesRegex(ValueError, r"\(N, 2, H, W\)"):
            translator(torch.zeros(1, 1, 4, 4))
        output = [{"pred": out[i], "label": -out[i]} for i in range(3)]
        preds, labels = direction_output("t2_to_t1")(output)
        torch.testing.assert_close(preds[0], out[0, 1:2])
        torch.testing.assert_close(labels[2], -out[2, 1:2])


if __name__ == "__main__":
    unittest.main()
