from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
from PIL import Image

from monai_cyclegan.data.phantom import ensure_phantom_dataset
from monai_cyclegan.data.preview import preview_dataset
from tests.evaluation.slices import write_slice_pairs


class TestPreviewDataset(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_volumes_a_row_per_contrast_with_a_histogram(self):
        data = ensure_phantom_dataset(self.root / "phantom", num_subjects=3, scale=0.125)
        out = preview_dataset(data, self.root / "p.png", samples=2, image_size=32)
        picture = np.asarray(Image.open(out))
        self.assertEqual(picture.shape, (2 * 32, 3 * 32))  # 2 samples + a histogram, T1 and T2 rows
        for row in (0, 1):
            sample = picture[row * 32 + 12 : (row + 1) * 32, :32]  # below the label
            histogram = picture[row * 32 + 12 : (row + 1) * 32, 2 * 32 :]
            self.assertGreater(sample.std(), 10)  # a head, not a blank square
            self.assertGreater((histogram > 0).mean(), 0.05)  # bars

    def test_slice_folders_and_fewer_files_than_samples(self):
        write_slice_pairs(self.root, count=2)
        out = preview_dataset(self.root, self.root / "p.png", samples=5, image_size=64)
        self.assertEqual(Image.open(out).size, (3 * 64, 2 * 64))  # only 2 files per contrast

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "samples must be at least 1"):
            preview_dataset(self.root, self.root / "p.png", samples=0)
        with self.assertRaisesRegex(ValueError, "it is empty"):
            preview_dataset(self.root, self.root / "p.png")


if __name__ == "__main__":
    unittest.main()
