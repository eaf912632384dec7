"""docs/results.md and docs/results/capstone.json report the same measured numbers, in the schema of the issue."""

from __future__ import annotations

import json
import re
import unittest
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIRECTIONS = {"t1_to_t2": "T1→T2", "t2_to_t1": "T2→T1"}
# column of the results table -> field of a JSON entry (as in the evaluation's summary.json; "masked." for the head
# mask) and the decimals the doc prints (None: a count "n/N"). A column whose field the JSON lacks is not compared.
COLUMNS: dict[str, tuple[str, int | None]] = {
    "PSNR (dB)": ("psnr", 2),
    "SSIM": ("ssim", 3),
    "MAE": ("mae", 4),
    "NMSE": ("nmse", 4),
    "head PSNR": ("masked.psnr", 2),
    "head SSIM": ("masked.ssim", 3),
    "identity-like": ("identity_like", None),
    "inversion-like": ("inversion_like", None),
}


def _field(entry: dict, path: str) -> Any:
    """The value at a dotted ``path`` of ``entry``, or None."""
    for key in path.split("."):
        if not isinstance(entry, dict) or key not in entry:
            return None
        entry = entry[key]
    return entry


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

    def _table(self) -> tuple[list[str], dict[tuple[str, str], list[str]]]:
        """The results table of docs/results.md: its column names and its cells by (direction, method) label."""
        lines = self.text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("| direction | method |"))
        header = [cell.strip() for cell in lines[start].strip("|").split("|")]
        rows = {}
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0], cells[1]] = cells
        return header, rows

    def test_table_matches_the_json(self):
        """Every column of the table that the JSON holds a value for prints that value, rounded as the doc shows."""
        names = {"model": "**CycleGAN (this model)**", "identity": "identity baseline"}
        names["intensity_mapping"] = "intensity-mapping baseline"
        header, rows = self._table()
        unknown = set(header[2:]) - set(COLUMNS)
        self.assertEqual(unknown, set(), "a column of docs/results.md with no JSON field named in COLUMNS")
        compared: set[str] = set()
        for direction, label in DIRECTIONS.items():
            for method, name in names.items():
                entry = self.results[direction] if method == "model" else self.results["baselines"][method][direction]
                self.assertIn((label, name), rows, f"no row {label} | {name}")
                cells = dict(zip(header, rows[label, name], strict=True))
                for column, (field, decimals) in COLUMNS.items():
                    value = _field(entry, field)
                    if value is None:
                        continue  # the JSON does not hold this column
                    cell = cells[column].replace("−", "-")
                    with self.subTest(direction=direction, method=method, column=column):
                        if decimals is None:  # a count of flagged images, printed as "n/N"
                            self.assertEqual(cell.split("/")[0], str(value))
                        else:
                            mean, _, spread = cell.partition(" ± ")
                            self.assertEqual(mean, f"{value:.{decimals}f}")
                            std = _field(entry, field + "_std")
                            if std is not None:
                                self.assertEqual(spread, f"{std:.{decimals}f}")
                    compared.add(field)
                # every metric of the JSON entry has its column
                self.assertEqual({k for k in entry if not k.endswith("_std")} - compared, set())
        self.assertGreaterEqual(compared, {"psnr", "ssim", "mae"})

    def test_figures_exist(self):
        for link in re.findall(r"\]\((results/[^)]+\.png)\)", self.text):
            self.assertTrue((ROOT / "docs" / link).is_file(), link)


if __name__ == "__main__":
    unittest.main()
