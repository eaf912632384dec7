from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from monai_cyclegan.data import (
    load_splits,
    select_split,
    split_dataset,
    split_from_pairs,
    split_subjects,
    write_splits,
)
from monai_cyclegan.data.phantom import write_phantom_dataset
from tests.evaluation.slices import write_slice_pairs

SUBJECTS = [f"IXI{i:03d}" for i in range(40)]


class TestSplitSubjects(unittest.TestCase):
    def test_partition_sizes_and_no_overlap(self):
        splits = split_subjects(SUBJECTS, val_fraction=0.1, test_fraction=0.2, seed=0)
        self.assertEqual([len(splits[s]) for s in ("train", "validation", "test")], [28, 4, 8])
        self.assertEqual(sorted(sum(splits.values(), [])), SUBJECTS)

    def test_seeded_and_order_independent(self):
        a = split_subjects(SUBJECTS, seed=3)
        self.assertEqual(a, split_subjects(list(reversed(SUBJECTS)) + SUBJECTS[:5], seed=3))
        self.assertNotEqual(a, split_subjects(SUBJECTS, seed=4))

    def test_small_fraction_still_gets_a_subject(self):
        splits = split_subjects(SUBJECTS[:5], val_fraction=0.01, test_fraction=0.01)
        self.assertEqual((len(splits["validation"]), len(splits["test"]), len(splits["train"])), (1, 1, 3))

    @parameterized.expand([(0.5, 0.5), (1.0, 0.0), (-0.1, 0.1)])
    def test_bad_fractions(self, val, test):
        with self.assertRaises(ValueError):
            split_subjects(SUBJECTS[:4], val_fraction=val, test_fraction=test)

    def test_no_subjects(self):
        with self.assertRaisesRegex(ValueError, "no subjects"):
            split_subjects([])


class TestSplitDataset(unittest.TestCase):
    def test_ixi_tree_with_one_sided_subjects(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            write_phantom_dataset(data, num_subjects=6, scale=0.125)
            next((data / "IXI-T2").glob("PH001-*")).unlink()  # PH001 has only a T1 now
            splits = split_dataset(data, Path(tmp) / "splits.json", val_fraction=0.2, test_fraction=0.2, seed=5)
            self.assertEqual(sorted(sum(splits.values(), [])), [f"PH{i:03d}" for i in range(1, 7)])
            payload = json.loads((Path(tmp) / "splits.json").read_text())
            self.assertEqual((payload["layout"], payload["seed"]), ("ixi", 5))
            self.assertEqual(load_splits(Path(tmp) / "splits.json"), splits)


class TestSplitFile(unittest.TestCase):
    def test_round_trip_and_select(self):
        with tempfile.TemporaryDirectory() as tmp:
            splits = split_subjects(SUBJECTS, seed=1)
            path = write_splits(Path(tmp) / "sub" / "splits.json", splits, seed=1, dataset_dir="/data")
            self.assertEqual(json.loads(path.read_text())["seed"], 1)
            self.assertEqual(load_splits(path), splits)
            self.assertEqual([p.name for p in path.parent.iterdir()], ["splits.json"])  # no temporary left
            entries = [{"image": f"{s}.nii.gz", "subject": s} for s in SUBJECTS]
            chosen = select_split(entries, splits, "test")
            self.assertEqual([e["subject"] for e in chosen], splits["test"])

    def test_subject_in_two_splits(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.json"
            path.write_text(json.dumps({"train": ["a", "b"], "validation": ["b"], "test": []}))
            with self.assertRaisesRegex(ValueError, r"s\.json.*'b' in train and validation"):
                load_splits(path)

    def test_not_a_split_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.json"
            path.write_text("{not json")
            with self.assertRaisesRegex(ValueError, r"s\.json.*not a split file"):
                load_splits(path)
            path.write_text(json.dumps({"train": []}))
            with self.assertRaisesRegex(ValueError, "validation"):
                load_splits(path)

    def test_missing_file(self):
        with self.assertRaisesRegex(FileNotFoundError, "nope.json"):
            load_splits("/tmp/nope.json")

    def test_unknown_split(self):
        with self.assertRaisesRegex(ValueError, "split must be one of"):
            select_split([], {"train": [], "validation": [], "test": []}, "val")


if __name__ == "__main__":
    unittest.main()


class TestSplitFromPairs(unittest.TestCase):
    def test_every_fourth_pair_is_test_and_the_rest_trains(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            pairs = write_slice_pairs(root, count=9)
            (root / "t2" / "extra.png").write_bytes((root / "t2" / "s0-T2.png").read_bytes())  # a T2 without a pair
            splits = split_from_pairs(root, pairs, root / "split.json", test_every=4)
            self.assertEqual(splits["test"], ["s0", "s0-T2", "s4", "s4-T2", "s8", "s8-T2"])
            self.assertEqual(len(splits["train"]), 2 * 9 - 6 + 1)
            self.assertIn("extra", splits["train"])
            self.assertEqual(load_splits(root / "split.json"), splits)
            self.assertEqual(json.loads((root / "split.json").read_text())["test_every"], 4)

    def test_bad_inputs(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            pairs = write_slice_pairs(root / "data", count=3)
            with self.assertRaisesRegex(ValueError, "test_every must be >= 2"):
                split_from_pairs(root / "data", pairs, root / "split.json", test_every=1)
            write_slice_pairs(root / "other", count=1)
            with self.assertRaisesRegex(ValueError, r"images \['s2', 's2-T2'\] are not part of the data set"):
                split_from_pairs(root / "other", pairs, root / "split.json", test_every=2)
            self.assertFalse((root / "split.json").exists())
