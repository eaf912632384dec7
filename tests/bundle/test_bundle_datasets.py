"""The bundle trains one epoch on every data set layout, each selected only through ``dataset_dir``."""

from __future__ import annotations

import math
import tempfile
import unittest
from pathlib import Path

import numpy as np
from PIL import Image

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.data import split_subjects, write_splits
from monai_cyclegan.data.phantom import simulate_subject, write_phantom_dataset
from monai_cyclegan.engines import losses_from_output
from tests.shared_data import shared_data, write_syndiff_ixi_tree

TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 2}


def _train_one_epoch(dataset_dir: Path, out: Path, **overrides):
    return run_workflow(
        bundle_dir() / "configs" / "train.json",
        "train",
        dataset_dir=str(dataset_dir),
        output_dir=str(out / "run"),
        ckpt_dir=str(out / "models"),
        epochs=1,
        **{**TINY, **overrides},
    )


def _write_png_folders(root: Path) -> tuple[int, int]:
    """``t1/`` + ``t2/`` of axial phantom slices as 8-bit PNG: grey and RGB, of two sizes, unpaired subjects."""
    counts = []
    for contrast, index in (("t1", 1), ("t2", 2)):
        volume = getattr(simulate_subject(index, scale=0.25), f"paired_{contrast}").astype(np.float32)
        levels = range(volume.shape[2] // 3, 2 * volume.shape[2] // 3, 4)
        for n, z in enumerate(levels):
            grey = np.clip(volume[:, :, z] / np.percentile(volume, 99.5) * 255, 0, 255).astype(np.uint8).T[::-1]
            image = Image.fromarray(grey) if n % 2 else Image.fromarray(np.stack([grey] * 3, -1))
            (root / contrast).mkdir(parents=True, exist_ok=True)
            image.resize((grey.shape[1] * (1 + n % 3), grey.shape[0] * (1 + n % 3))).save(root / contrast / f"{n}.png")
        counts.append(len(levels))
    return counts[0], counts[1]


class TestBundleOnEveryLayout(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def _check_epoch(self, workflow, iterations: int) -> None:
        trainer = workflow.trainer
        self.assertEqual(trainer.state.epoch, 1)
        self.assertEqual(trainer.state.iteration, iterations)
        losses = losses_from_output(trainer.state.output)
        self.assertTrue(all(math.isfinite(v) for v in losses.values()), losses)
        self.assertTrue((self.tmp / "models" / "model.pt").is_file())

    def test_phantom_ixi_tree(self):
        data = self.tmp / "phantom"
        write_phantom_dataset(data, num_subjects=3, scale=0.125)
        self._check_epoch(_train_one_epoch(data, self.tmp), iterations=2)  # 3 volumes, batch 2

    def test_phantom_ixi_tree_with_a_split_file(self):
        data = self.tmp / "phantom"
        subjects = [r["subject"] for r in write_phantom_dataset(data, num_subjects=5, scale=0.125)]
        splits = split_subjects(subjects, val_fraction=0.2, test_fraction=0.2, seed=0)
        split_file = write_splits(self.tmp / "splits.json", splits, seed=0)
        workflow = _train_one_epoch(data, self.tmp, split_file=str(split_file), batch_size=1)
        self._check_epoch(workflow, iterations=3)  # only the 3 training subjects
        used = {
            Path(d["image"]).name.split("-")[0]
            for d in workflow.parser.get_parsed_content("train#dataset").dataset_a.data
        }
        self.assertEqual(used, set(splits["train"]))

    def test_ixi_tree_of_real_nifti_files(self):
        data = write_syndiff_ixi_tree(self.tmp / "real")
        self._check_epoch(_train_one_epoch(data, self.tmp, batch_size=1), iterations=2)  # 2 volumes per contrast

    def test_public_slice_folder(self):
        workflow = _train_one_epoch(shared_data("capstone_t1t2"), self.tmp, batch_size=8)
        self._check_epoch(workflow, iterations=6)  # 46 T2 slices, the larger domain, in batches of 8

    def test_t1_t2_folders_of_png(self):
        n_t1, n_t2 = _write_png_folders(self.tmp / "pngs")
        self._check_epoch(_train_one_epoch(self.tmp / "pngs", self.tmp), iterations=math.ceil(max(n_t1, n_t2) / 2))

    def test_bad_dataset_dirs_say_what_they_found(self):
        empty = self.tmp / "empty"
        empty.mkdir()
        one_sided = self.tmp / "one_sided"
        _write_png_folders(one_sided)
        for png in (one_sided / "t2").iterdir():
            png.unlink()
        for data, message in ((empty, "it is empty"), (one_sided, "one-sided"), (self.tmp / "missing", "does not")):
            with self.subTest(str(data)), self.assertRaises(Exception) as caught:
                _train_one_epoch(data, self.tmp)
            chain, error = [], caught.exception
            while error is not None:
                chain.append(str(error))
                error = error.__cause__
            self.assertIn(message, " | ".join(chain))
            self.assertIn(str(data), " | ".join(chain))


if __name__ == "__main__":
    unittest.main()
