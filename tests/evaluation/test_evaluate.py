from __future__ import annotations

import csv
import json
import tempfile
import unittest
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from monai_cyclegan.bundle import translation_inferer
from monai_cyclegan.evaluation import evaluate_translation, evaluation_provenance, load_pairs, results_record
from monai_cyclegan.networks import UNetGenerator
from tests.evaluation.slices import write_slice_pairs


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
        self.assertEqual(results, json.loads(json.dumps(results_record(self.summary, train_minutes=1.5, commit="abc"))))
        self.assertEqual(set(results), {"t1_to_t2", "t2_to_t1", "baselines", "train_minutes", "commit"})
        self.assertEqual(set(results["baselines"]["identity"]["t2_to_t1"]), {"psnr", "ssim", "mae"})
        for direction in ("t1_to_t2", "t2_to_t1"):
            with Image.open(self.out / f"{direction}.png") as figure:
                self.assertEqual(figure.size, (4 * 45, 16 + 3 * 37))  # 4 upright 45x37 columns, a title, 3 rows

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
