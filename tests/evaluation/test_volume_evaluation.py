from __future__ import annotations

import csv
import json
import tempfile
import unittest
from pathlib import Path

import numpy as np
import torch

from monai_cyclegan.evaluation import baseline_references, evaluate_translation, load_case, load_pairs
from monai_cyclegan.evaluation.cases import brain_normalise
from monai_cyclegan.evaluation.metrics import MIN_SLICE_VOXELS
from tests.evaluation.brains import brain_volumes, write_subject_folders


class TestVolumeEvaluation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = write_subject_folders(Path(cls.tmp.name) / "data")
        split = {"train": ["p1", "p2"], "validation": [], "test": ["p3"]}
        cls.split = Path(cls.tmp.name) / "split.json"
        cls.split.write_text(json.dumps(split))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_volumes_are_scored_on_their_own_grid_in_ras_divided_by_their_brain_percentile(self):
        pairs = load_pairs(self.root)
        self.assertEqual([r["subject"] for r in pairs.rows], ["p1", "p2", "p3"])
        case = load_case("volume", pairs.rows[2], image_size=32, fov_mm=32.0)
        raw = brain_volumes(2)
        brain = (raw["T1"] > 0) & (raw["T2"] > 0)
        # LAS -> RAS flips the first axis; nothing is resampled
        np.testing.assert_array_equal(case.mask.numpy(), brain[::-1])
        t2 = raw["T2"][::-1] / np.percentile(raw["T2"][brain], 99.5)
        np.testing.assert_allclose(case.images["t2"].numpy(), np.clip(t2, 0, 1) * brain[::-1], atol=1e-5)
        np.testing.assert_array_equal(case.lesions.numpy(), raw["lesions"][::-1] > 0)
        self.assertFalse(bool((case.white_matter & case.lesions).any()))
        self.assertEqual(case.kind, "volume")

    def test_a_model_output_comes_back_onto_the_evaluation_grid(self):
        case = load_case("volume", load_pairs(self.root).rows[0], image_size=32, fov_mm=64.0)  # model grid at 2 mm
        self.assertEqual(tuple(case.model_inputs["t1"].shape), (1, 12, 14, 10))
        back = case.to_evaluation("t1", case.model_inputs["t1"])  # an identity "translation"
        self.assertEqual(back.shape, case.images["t1"].shape)
        self.assertTrue(bool((back[~case.mask] == 0).all()))
        inside = case.mask & (torch.nn.functional.max_pool3d((~case.mask)[None].float(), 3, 1, 1)[0] == 0)
        # down and up again at twice the spacing blurs the edges only
        self.assertLess(float((back - case.images["t1"])[inside].abs().mean()), 0.1)
        same_grid = load_case("volume", load_pairs(self.root).rows[0], image_size=32, fov_mm=32.0)
        back = same_grid.to_evaluation("t1", same_grid.model_inputs["t1"])
        torch.testing.assert_close(back, same_grid.images["t1"], atol=0.02, rtol=0)

    def test_brain_normalise(self):
        image, mask = torch.arange(10.0), torch.ones(10, dtype=torch.bool)
        mask[0] = False
        out = brain_normalise(image, mask, percentile=50)
        self.assertEqual(float(out[0]), 0.0)  # outside the mask
        torch.testing.assert_close(out[1:], (torch.arange(1.0, 10) / 5).clamp(0, 1))
        with self.assertRaisesRegex(ValueError, "nothing to scale"):
            brain_normalise(torch.zeros(4), torch.ones(4, dtype=torch.bool))

    def test_single_test_subject_matches_the_baseline_to_the_training_subjects_and_scores_lesions(self):
        pairs = load_pairs(self.root, self.split, "test")
        references = baseline_references(pairs, self.split)
        self.assertEqual([r["subject"] for r in references.rows], ["p1", "p2"])
        out = Path(self.tmp.name) / "eval"
        summary = evaluate_translation(pairs, out, image_size=32, fov_mm=32.0, reference_pairs=references)
        mapping = summary["metrics"]["t1_to_t2"]["intensity_mapping"]
        identity = summary["metrics"]["t1_to_t2"]["identity"]
        self.assertGreater(mapping["psnr"], identity["psnr"] + 5)  # tissue order inverted, levels matched
        self.assertEqual(mapping["psnr"], mapping["masked"]["psnr"])  # volumes are scored inside the mask only
        slices = int((load_case("volume", pairs.rows[0]).mask.sum(dim=(0, 1)) >= MIN_SLICE_VOXELS).sum())
        self.assertEqual(mapping["per_slice"]["slices"], slices)
        lesions = mapping["lesions"]
        self.assertAlmostEqual(lesions["truth_contrast"], 700 / 250, delta=0.1)
        self.assertEqual(lesions["truth_conspicuous"], 1.0)
        # the input itself as a "T2": its lesions are darker than white matter, none of them conspicuously bright
        self.assertLess(identity["lesions"]["contrast"], 1.0)
        self.assertEqual(identity["lesions"]["conspicuous"], 0.0)
        results = json.loads((out / "results.json").read_text())
        self.assertEqual(set(results["lesions"]["t2_to_t1"]), {"identity", "intensity_mapping"})
        with open(out / "slice_metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 2 * 2 * slices)  # directions x methods x slices
        self.assertEqual(summary["baseline_references"], str(self.root))

    def test_one_pair_without_references(self):
        pairs = load_pairs(self.root, self.split, "test")
        with self.assertRaisesRegex(ValueError, "one pair only; give a split file"):
            baseline_references(pairs)
        with self.assertRaisesRegex(ValueError, "two pairs at least"):
            evaluate_translation(pairs, Path(self.tmp.name) / "none")


if __name__ == "__main__":
    unittest.main()
