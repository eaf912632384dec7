from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from monai_cyclegan.evaluation import head_mask, load_case, load_pairs
from tests.evaluation.slices import write_slice_pairs


class TestLoadCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pairs = load_pairs(write_slice_pairs(Path(cls.tmp.name), count=2))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_slices_are_scored_at_their_own_size_as_value_over_255(self):
        row = self.pairs.rows[0]
        case = load_case("slice", row, image_size=64)
        self.assertEqual(tuple(case.model_inputs["t1"].shape), (1, 64, 64))
        for contrast in ("t1", "t2"):
            raw = np.asarray(Image.open(row[contrast]), dtype=np.float64) / 255
            # PIL-loaded arrays run along the width first
            np.testing.assert_allclose(case.images[contrast].numpy().T, raw, atol=1e-6)

    def test_model_output_is_cropped_back(self):
        case = load_case("slice", self.pairs.rows[1], image_size=64)
        inverted = -case.model_inputs["t1"]  # a fake translation in model space
        out = case.to_evaluation("t1", inverted)
        self.assertEqual(out.shape, case.images["t1"].shape)
        torch.testing.assert_close(out, 1 - case.images["t1"], atol=1e-6, rtol=0)

    def test_head_mask_fills_enclosed_dark_regions(self):
        ring = torch.zeros(20, 20)
        ring[3:17, 3:17] = 0.8
        ring[8:12, 8:12] = 0.0  # dark CSF inside the head
        mask = head_mask(ring)
        self.assertTrue(bool(mask[8:12, 8:12].all()))
        self.assertFalse(bool(mask[:3].any()))

    def test_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, "kind must be"):
            load_case("movie", self.pairs.rows[0])


if __name__ == "__main__":
    unittest.main()
