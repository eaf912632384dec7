"""The quality protocol on the public slice set (shared data): its split, and the baselines of docs/results.md."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.data import split_from_pairs
from monai_cyclegan.evaluation import evaluate_translation, load_pairs
from tests.shared_data import shared_data


class TestCapstoneProtocol(unittest.TestCase):
    def test_split_and_baselines(self):
        root = shared_data("capstone_t1t2")
        with tempfile.TemporaryDirectory() as tmp:
            splits = split_from_pairs(root, root / "pairs.csv", Path(tmp) / "split.json")
            self.assertEqual((len(splits["test"]), len(splits["train"])), (22, 32 + 35))
            pairs = load_pairs(root / "pairs.csv", Path(tmp) / "split.json", "test")
            self.assertEqual(len(pairs.rows), 11)
            metrics = evaluate_translation(pairs, Path(tmp) / "eval")["metrics"]
        # value / 255 at 181x217: the numbers of docs/results.md and of the measured facts
        self.assertAlmostEqual(metrics["t1_to_t2"]["identity"]["psnr"], 10.84, places=2)
        self.assertAlmostEqual(metrics["t1_to_t2"]["intensity_mapping"]["psnr"], 18.57, places=2)
        self.assertAlmostEqual(metrics["t2_to_t1"]["intensity_mapping"]["psnr"], 16.70, places=2)
        self.assertEqual(metrics["t1_to_t2"]["identity"]["identity_like"], 11)
        self.assertEqual(metrics["t2_to_t1"]["intensity_mapping"]["inversion_like"], 11)


if __name__ == "__main__":
    unittest.main()
