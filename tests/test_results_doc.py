"""docs/results.md and the result files of docs/results/ report the same measured numbers, in the published schema."""

from __future__ import annotations

import json
import re
import statistics
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
# The result files docs/results.md publishes; the ones with lesion masks carry a lesions block.
FILES = {"ljubljana_ms.json": True, "capstone.json": False}
DIRECTIONS = {"t1_to_t2": "T1→T2", "t2_to_t1": "T2→T1"}
METHODS = {"model": "**CycleGAN, CPU preset**", "identity": "identity baseline"}
METHODS["intensity_mapping"] = "intensity-mapping baseline"
# column of a results table -> field of a JSON entry and the decimals the doc prints
COLUMNS = {"PSNR (dB)": ("psnr", 2), "SSIM": ("ssim", 3), "MAE": ("mae", 4)}
LESION_COLUMNS = {  # column of a lesion table -> (method, field, decimals)
    "truth contrast": ("model", "truth_contrast", 2),
    "CycleGAN contrast": ("model", "contrast", 2),
    "intensity-mapping contrast": ("intensity_mapping", "contrast", 2),
    "truth conspicuous": ("model", "truth_conspicuous", 2),
    "CycleGAN conspicuous": ("model", "conspicuous", 2),
    "intensity-mapping conspicuous": ("intensity_mapping", "conspicuous", 2),
}


def _number(text: str) -> str:
    return text.replace("−", "-").strip()


class TestResultsDoc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = (ROOT / "docs" / "results.md").read_text()
        cls.results = {name: json.loads((RESULTS / name).read_text()) for name in FILES}

    def _table(self, marker: str) -> dict[str, dict[str, str]]:
        """The table right after ``<!-- marker -->`` in docs/results.md: its rows by their first cells' label."""
        lines = self.text.splitlines()
        start = lines.index(f"<!-- {marker} -->") + 1
        header = [cell.strip() for cell in lines[start].strip("|").split("|")]
        rows = {}
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[" | ".join(cells[: 2 if header[1] == "method" else 1])] = dict(zip(header, cells, strict=True))
        return rows

    def test_schema(self):
        """Three or more seeds of one clean commit within the 45-minute budget, means that are the runs' means."""
        for name, has_lesions in FILES.items():
            results = self.results[name]
            with self.subTest(file=name):
                expected = {*DIRECTIONS, "baselines", "train_minutes", "commit", "runs"} | (
                    {"lesions"} if has_lesions else set()
                )
                self.assertEqual(set(results), expected)
                self.assertRegex(results["commit"], r"^[0-9a-f]{40}$")
                runs = results["runs"]
                self.assertGreaterEqual(len({run["seed"] for run in runs}), 3)
                self.assertLessEqual(max(run["train_minutes"] for run in runs), 45)
                for direction in DIRECTIONS:
                    for metric in ("psnr", "ssim", "mae"):
                        values = [run[direction][metric] for run in runs]
                        self.assertAlmostEqual(results[direction][metric], statistics.mean(values), places=9)
                        self.assertAlmostEqual(results[direction][f"{metric}_spread"], statistics.stdev(values), 9)

    def test_tables_match_the_json(self):
        """Every cell of each results table prints its JSON value (mean ± spread for the model), as rounded."""
        for name in FILES:
            results = self.results[name]
            rows = self._table(f"results/{name}")
            for direction, label in DIRECTIONS.items():
                for method, method_label in METHODS.items():
                    entry = results[direction] if method == "model" else results["baselines"][method][direction]
                    row = rows[f"{label} | {method_label}"]
                    for column, (field, decimals) in COLUMNS.items():
                        with self.subTest(file=name, direction=direction, method=method, column=column):
                            mean, _, spread = _number(row[column]).partition(" ± ")
                            self.assertEqual(mean, f"{entry[field]:.{decimals}f}")
                            if method == "model":
                                self.assertEqual(spread, f"{entry[field + '_spread']:.{decimals}f}")

    def test_lesion_tables_match_the_json(self):
        for name, has_lesions in FILES.items():
            if not has_lesions:
                continue
            lesions = self.results[name]["lesions"]
            rows = self._table(f"results/{name} lesions")
            for direction, label in DIRECTIONS.items():
                for column, (method, field, decimals) in LESION_COLUMNS.items():
                    with self.subTest(file=name, direction=direction, column=column):
                        mean, _, spread = _number(rows[label][column]).partition(" ± ")
                        self.assertEqual(mean, f"{lesions[direction][method][field]:.{decimals}f}")
                        if method == "model" and not field.startswith("truth"):
                            self.assertEqual(spread, f"{lesions[direction][method][field + '_spread']:.{decimals}f}")

    def test_figures_exist(self):
        links = re.findall(r"\]\((results/[^)]+\.png)\)", self.text)
        self.assertTrue(links)
        for link in links:
            self.assertTrue((ROOT / "docs" / link).is_file(), link)


if __name__ == "__main__":
    unittest.main()
