from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import numpy as np

from monai_cyclegan.evaluation import load_pairs
from tests.evaluation.slices import write_slice_pairs
from tests.shared_data import write_nifti


class TestLoadPairs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_csv_paths_are_relative_to_the_csv(self):
        csv_path = write_slice_pairs(self.root / "data", count=3)
        pairs = load_pairs(csv_path)
        self.assertEqual(pairs.kind, "slice")
        self.assertEqual([r["subject"] for r in pairs.rows], ["s0", "s1", "s2"])
        self.assertEqual(pairs.rows[1]["t2"], str(self.root / "data" / "t2" / "s1-T2.png"))

    def test_missing_file_names_the_line(self):
        csv_path = write_slice_pairs(self.root / "data", count=3)
        (self.root / "data" / "t2" / "s1-T2.png").unlink()
        with self.assertRaisesRegex(ValueError, r"pairs.csv, line 3: file .*s1-T2.png.* does not exist"):
            load_pairs(csv_path)

    def test_bad_sources(self):
        with self.assertRaisesRegex(ValueError, "does not exist"):
            load_pairs(self.root / "nope.csv")
        with self.assertRaisesRegex(ValueError, "no pairs given"):
            load_pairs("")
        bad = self.root / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        with self.assertRaisesRegex(ValueError, "columns 't1' and 't2'"):
            load_pairs(bad)
        with self.assertRaisesRegex(ValueError, "no paired volumes"):
            load_pairs(self.root)

    def test_mixed_kinds_are_refused(self):
        csv_path = write_slice_pairs(self.root, count=1)
        write_nifti(np.zeros((4, 4, 4), dtype=np.float32), np.eye(4), self.root / "v.nii.gz")
        csv_path.write_text(csv_path.read_text() + "v.nii.gz,t2/s0-T2.png\n")
        with self.assertRaisesRegex(ValueError, "pairs must all be 2D image files or all NIfTI volumes"):
            load_pairs(csv_path)

    def test_directory_of_paired_volumes(self):
        volume = np.zeros((6, 6, 6), dtype=np.float32)
        for name in ("A-T1", "A-T2", "A-mask", "B-T1", "B-T2", "B-labels"):
            write_nifti(volume, np.eye(4), self.root / f"{name}.nii.gz")
        pairs = load_pairs(self.root)
        self.assertEqual(pairs.kind, "volume")
        self.assertEqual([r["subject"] for r in pairs.rows], ["A", "B"])
        self.assertTrue(pairs.rows[0]["mask"].endswith("A-mask.nii.gz"))
        self.assertTrue(pairs.rows[1]["mask"].endswith("B-labels.nii.gz"))
        write_nifti(volume, np.eye(4), self.root / "C-T1.nii.gz")
        with self.assertRaisesRegex(ValueError, "C-T1.nii.gz has no C-T2.nii.gz partner"):
            load_pairs(self.root)

    def test_split_selection_and_leaks(self):
        csv_path = write_slice_pairs(self.root / "data", count=3)
        split_file = self.root / "split.json"
        split_file.write_text(json.dumps({"train": ["s0", "s0-T2"], "validation": [], "test": ["s1", "s1-T2", "s2"]}))
        pairs = load_pairs(csv_path, split_file, "test")
        self.assertEqual([r["subject"] for r in pairs.rows], ["s1", "s2"])
        self.assertEqual([r["subject"] for r in load_pairs(csv_path, split_file, "train").rows], ["s0"])
        split_file.write_text(json.dumps({"train": ["s2-T2"], "validation": [], "test": ["s1", "s2"]}))
        with self.assertRaisesRegex(ValueError, "puts the two images of pair 's2' in different splits"):
            load_pairs(csv_path, split_file, "test")
        with self.assertRaisesRegex(ValueError, "selects none of the pairs"):
            load_pairs(csv_path, split_file, "validation")


if __name__ == "__main__":
    unittest.main()
