"""docs/results.md and docs/results/capstone.json report the same measured numbers, in the schema of the issue."""

from __future__ import annotations

import json
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIRECTIONS = {"t1_to_t2": "T1→T2", "t2_to_t1": "T2→T1"}


class TestResultsDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.results = json.loads((ROOT / "docs" / "results" / "capstone.json").read_text())
        cls.text = (ROOT / "docs" / "results.md").read_text()

    def test_schema(self):
        self.assertEqual(set(self.results), {*DIRECTIONS, "baselines", "train_minutes", "commit"})
        for entry in [self.results[d] for d in DIRECTIONS] + [
            self.results["baselines"][m][d] for m in ("identity", "intensity_mapping") for d in DIRECTIONS
        ]:
            self.assertEqual(set(entry), {"psnr", "ssim", "mae"})
        self.assertLessEqual(self.results["train_minutes"], 45)
        self.assertRegex(self.results["commit"], r"^[0-9a-f]{40}")

    def test_table_matches_the_json(self):
        names = {"model": "**CycleGAN (this model)**", "identity": "identity baseline"}
        names["intensity_mapping"] = "intensity-mapping baseline"
        for direction, label in DIRECTIONS.items():
            for method, name in names.items():
                entry = self.results[direction] if method == "model" else self.results["baselines"][method][direction]
                row = re.search(
                    rf"^\| {label} \| {re.escape(name)} \| ([-\d.]+) ± [\d.]+ \| ([−\-\d.]+) ±", self.text, re.M
                )
                self.assertIsNotNone(row, f"{label} {name}")
                self.assertEqual(row.group(1), f"{entry['psnr']:.2f}")
                self.assertEqual(row.group(2).replace("−", "-"), f"{entry['ssim']:.3f}")

    def test_figures_exist(self):
        for link in re.findall(r"\]\((results/[^)]+\.png)\)", self.text):
            self.assertTrue((ROOT / "docs" / link).is_file(), link)


if __name__ == "__main__":
    unittest.main()
