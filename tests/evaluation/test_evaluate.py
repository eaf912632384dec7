from __future__ import annotations

import csv
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from monai_cyclegan.bundle import translation_inferer
from monai_cyclegan.evaluation import evaluate_translation, evaluation_provenance, load_pairs
from monai_cyclegan.networks import UNetGenerator
from tests.evaluation.slices import write_slice_pairs

# The evaluator works in float32. MONAI's SSIM (float32 whatever the input) takes E[x^2] - E[x]^2 where this test
# computes in float64: in the flat white background of the negated images that costs up to 1e-4 of SSIM. Its
# tolerance is half the last digit docs/results.md prints of SSIM.
TOLERANCE = {"psnr": 1e-5, "mae": 1e-5, "ssim": 5e-4}


def _grey(path: str) -> np.ndarray:
    """An 8-bit image as float64 in [0, 1] (grey value / 255, the evaluation convention of slices)."""
    with Image.open(path) as image:
        return np.asarray(image, dtype=np.float64) / 255


def _psnr(x: np.ndarray, y: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((x - y) ** 2)))


def _mae(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(x - y)))


def _ssim(x: np.ndarray, y: np.ndarray, size: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM (Wang et al. 2004) with a Gaussian window, over the positions where the whole window fits."""
    offsets = np.arange(size) - (size - 1) / 2
    g = np.exp(-((offsets / sigma) ** 2) / 2)
    g /= g.sum()

    def blur(a: np.ndarray) -> np.ndarray:  # separable "valid" Gaussian filter
        rows = np.stack([np.convolve(r, g, mode="valid") for r in a])
        return np.stack([np.convolve(c, g, mode="valid") for c in rows.T]).T

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim_map = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    return float(ssim_map.mean())


class _Negate(nn.Module):
    """A 'generator' that inverts its input in [-1, 1]: air becomes white, the failure the checks must catch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -x


class TestEvaluateTranslation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        cls.pairs = load_pairs(write_slice_pairs(cls.root / "data", count=3))
        torch.manual_seed(0)
        generators = {"t1_to_t2": UNetGenerator(image_size=32, ngf=4), "t2_to_t1": _Negate()}
        cls.out = cls.root / "eval"
        inferer = translation_inferer("slice", image_size=64, sw_batch_size=4, window_size=32)
        cls.summary = evaluate_translation(
            cls.pairs, cls.out, generators, inferer, image_size=64, provenance={"train_minutes": 1.5, "commit": "abc"}
        )

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_image_direction_and_method_is_scored(self):
        with (self.out / "metrics.csv").open() as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 3 * 2 * 3)
        self.assertEqual({r["method"] for r in rows}, {"model", "identity", "intensity_mapping"})
        for name in ("psnr", "ssim", "mae", "nmse", "masked_psnr", "masked_ssim", "corr_input", "identity_like"):
            self.assertIn(name, rows[0])

    def test_identity_baseline_is_flagged_and_matches_by_hand(self):
        entry = self.summary["metrics"]["t1_to_t2"]["identity"]
        self.assertEqual(entry["identity_like"], 3)
        t1 = torch.tensor(list(Image.open(self.pairs.rows[0]["t1"]).getdata()), dtype=torch.float64) / 255
        t2 = torch.tensor(list(Image.open(self.pairs.rows[0]["t2"]).getdata()), dtype=torch.float64) / 255
        psnr = float(-10 * torch.log10(((t1 - t2) ** 2).mean()))
        with (self.out / "metrics.csv").open() as f:
            row = next(r for r in csv.DictReader(f) if r["method"] == "identity" and r["subject"] == "s0")
        self.assertAlmostEqual(float(row["psnr"]), psnr, places=3)

    def test_inverting_model_is_flagged(self):
        entry = self.summary["metrics"]["t2_to_t1"]["model"]
        self.assertEqual(entry["inversion_like"], 3)
        self.assertEqual(entry["identity_like"], 0)

    def test_summary_results_and_figures(self):
        summary = json.loads((self.out / "summary.json").read_text())
        self.assertEqual(summary["num_pairs"], 3)
        self.assertIn("/ 255", summary["intensity_convention"])
        self.assertEqual(set(summary["metrics"]["t1_to_t2"]["model"]["per_subject"]), {"s0", "s1", "s2"})
        results = json.loads((self.out / "results.json").read_text())
        self.assertEqual(set(results), {"t1_to_t2", "t2_to_t1", "baselines", "train_minutes", "commit"})
        self.assertEqual((results["train_minutes"], results["commit"]), (1.5, "abc"))
        self.assertEqual(set(results["baselines"]["identity"]["t2_to_t1"]), {"psnr", "ssim", "mae"})
        for direction in ("t1_to_t2", "t2_to_t1"):
            with Image.open(self.out / f"{direction}.png") as figure:
                self.assertEqual(figure.size, (4 * 45, 16 + 3 * 37))  # 4 upright 45x37 columns, a title, 3 rows

    def test_results_json_holds_the_metrics_computed_here(self):
        """results.json against PSNR, SSIM and MAE computed in this test with numpy, mean over the three pairs.

        The expected translations are known without the evaluator: the identity baseline is the input, the negating
        model's output is ``1 - input`` (in [0, 1], grey value / 255).
        """
        results = json.loads((self.out / "results.json").read_text())
        images = [(_grey(row["t1"]), _grey(row["t2"])) for row in self.pairs.rows]
        expected = {
            ("identity", "t1_to_t2"): [(t1, t2) for t1, t2 in images],
            ("identity", "t2_to_t1"): [(t2, t1) for t1, t2 in images],
            ("model", "t2_to_t1"): [(1 - t2, t1) for t1, t2 in images],
        }
        for (method, direction), synthetic_and_truth in expected.items():
            entry = results[direction] if method == "model" else results["baselines"][method][direction]
            for name, metric in (("psnr", _psnr), ("ssim", _ssim), ("mae", _mae)):
                value = float(np.mean([metric(x, y) for x, y in synthetic_and_truth]))
                with self.subTest(method=method, direction=direction, metric=name):
                    self.assertAlmostEqual(entry[name], value, delta=TOLERANCE[name] * max(1.0, abs(value)))

    def test_one_pair_is_refused_before_anything_is_written(self):
        single = load_pairs(self.pairs.source)
        single.rows[1:] = []
        with self.assertRaisesRegex(ValueError, "two pairs at least"):
            evaluate_translation(single, self.root / "single")
        self.assertFalse((self.root / "single").exists())

    def test_provenance_from_a_run_record(self):
        record = self.root / "run_record.json"
        record.write_text(json.dumps({"train_seconds": 90.0, "commit": "abc", "settings": {"ngf": 4}}))
        provenance = evaluation_provenance("models", record)
        self.assertEqual((provenance["train_minutes"], provenance["commit"]), (1.5, "abc"))
        record.write_text("{")
        with self.assertRaisesRegex(ValueError, "run_record.json: cannot read it"):
            evaluation_provenance("models", record)


if __name__ == "__main__":
    unittest.main()
