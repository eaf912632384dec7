"""The quality protocol on the public slice set (shared data): its split, and the baselines of docs/results.md."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.data import split_from_pairs
from monai_cyclegan.evaluation import evaluate_translation, load_pairs
from tests.shared_data import shared_data

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "capstone.json"
# decimals docs/results.md prints of each metric
DECIMALS = {"psnr": 2, "ssim": 3, "mae": 4, "nmse": 4}


class TestCapstoneProtocol(unittest.TestCase):
    def test_split_and_baselines(self):
        root = shared_data("capstone_t1t2")
        with tempfile.TemporaryDirectory() as tmp:
            splits = split_from_pairs(root, root / "pairs.csv", Path(tmp) / "split.json")
            self.assertEqual((len(splits["test"]), len(splits["train"])), (22, 32 + 35))
            pairs = load_pairs(root / "pairs.csv", Path(tmp) / "split.json", "test")
            self.assertEqual(len(pairs.rows), 11)
            metrics = evaluate_translation(pairs, Path(tmp) / "eval")["metrics"]
        # value / 255 at 181x217: every baseline figure of docs/results/capstone.json (and so of docs/results.md),
        # to half a unit of the last digit the doc prints
        published = json.loads(RESULTS.read_text())["baselines"]
        compared = 0
        for method, directions in published.items():
            for direction, entry in directions.items():
                for name, value in entry.items():
                    with self.subTest(method=method, direction=direction, metric=name):
                        measured = metrics[direction][method][name]
                        self.assertAlmostEqual(measured, value, delta=0.5 * 10 ** -DECIMALS[name.removesuffix("_std")])
                    compared += 1
        self.assertGreaterEqual(compared, 12)  # PSNR, SSIM and MAE of both baselines in both directions
        self.assertEqual(metrics["t1_to_t2"]["identity"]["identity_like"], 11)
        self.assertEqual(metrics["t2_to_t1"]["intensity_mapping"]["inversion_like"], 11)


if __name__ == "__main__":
    unittest.main()
