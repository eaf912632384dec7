from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from monai_cyclegan.cli import main
from monai_cyclegan.evaluation import combine_results

BASELINES = {
    m: {d: {"psnr": 10.0, "ssim": 0.1, "mae": 0.2} for d in ("t1_to_t2", "t2_to_t1")} for m in ("identity", "x")
}


def _run(psnr: float, contrast: float, minutes: float = 40.0, commit: str = "a" * 40) -> dict:
    lesions = {
        d: {
            "model": {"contrast": contrast, "conspicuous": 0.5, "truth_contrast": 2.0, "truth_conspicuous": 0.9},
            "intensity_mapping": {"contrast": 1.5, "conspicuous": 0.8, "truth_contrast": 2.0, "truth_conspicuous": 0.9},
        }
        for d in ("t1_to_t2", "t2_to_t1")
    }
    entry = {"psnr": psnr, "ssim": psnr / 30, "mae": 1 / psnr}
    return {
        "t1_to_t2": entry,
        "t2_to_t1": dict(entry),
        "baselines": BASELINES,
        "lesions": lesions,
        "train_minutes": minutes,
        "commit": commit,
    }


class TestCombineResults(unittest.TestCase):
    def test_means_spreads_and_runs(self):
        runs = [_run(20.0, 1.8, 40.0), _run(22.0, 2.0, 44.0), _run(21.5, 1.9, 42.0)]
        record = combine_results(runs, seeds=[0, 1, 2])
        psnrs = np.array([20.0, 22.0, 21.5])
        self.assertAlmostEqual(record["t1_to_t2"]["psnr"], psnrs.mean())
        self.assertAlmostEqual(record["t1_to_t2"]["psnr_spread"], psnrs.std(ddof=1))
        self.assertAlmostEqual(record["t2_to_t1"]["mae"], np.mean(1 / psnrs))
        self.assertAlmostEqual(record["lesions"]["t1_to_t2"]["model"]["contrast"], 1.9)
        self.assertEqual(record["lesions"]["t1_to_t2"]["model"]["truth_contrast_spread"], 0.0)
        self.assertEqual(record["lesions"]["t1_to_t2"]["intensity_mapping"]["contrast"], 1.5)
        self.assertEqual(record["baselines"], BASELINES)
        self.assertAlmostEqual(record["train_minutes"], 42.0)
        self.assertEqual([r["seed"] for r in record["runs"]], [0, 1, 2])
        self.assertEqual(record["runs"][1]["t1_to_t2"]["psnr"], 22.0)

    def test_refused_combinations(self):
        with self.assertRaisesRegex(ValueError, "one clean commit"):
            combine_results([_run(20, 2, commit="a" * 40), _run(21, 2, commit="b" * 40)])
        with self.assertRaisesRegex(ValueError, "one clean commit"):
            combine_results([_run(20, 2, commit="a" * 40 + "-dirty")])
        other = _run(21, 2)
        other["baselines"] = {**BASELINES, "identity": {}}
        with self.assertRaisesRegex(ValueError, "baselines differ"):
            combine_results([_run(20, 2), other])
        with self.assertRaisesRegex(ValueError, "no runs"):
            combine_results([])

    def test_combine_verb(self):
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for seed, psnr in enumerate((19.0, 21.0)):
                files.append(Path(tmp) / f"s{seed}.json")
                files[-1].write_text(json.dumps(_run(psnr, 2.0)))
            out = Path(tmp) / "combined.json"
            self.assertEqual(
                main(["combine", "--results", *map(str, files), "--seeds", "0", "1", "--out", str(out)]), 0
            )
            self.assertAlmostEqual(json.loads(out.read_text())["t1_to_t2"]["psnr"], 20.0)
            self.assertEqual(main(["combine", "--results", str(Path(tmp) / "none.json"), "--out", str(out)]), 1)


if __name__ == "__main__":
    unittest.main()
