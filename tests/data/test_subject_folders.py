from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.cli import main
from monai_cyclegan.data import detect_layout, split_named
from monai_cyclegan.data.splits import load_splits
from monai_cyclegan.data.subject_folders import list_subject_folders
from tests.shared_data import shared_data


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


class TestSubjectFolders(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_files_are_found_by_role_in_any_case(self):
        _touch(self.root / "s01/T1.nii.gz")
        _touch(self.root / "s01/t2w.nii")
        _touch(self.root / "s01/Lesions.nii.gz")
        _touch(self.root / "s01/notes.txt")
        _touch(self.root / "s02/T1.nii.gz")  # one contrast only: listed without T2
        _touch(self.root / "docs/readme.md")  # no volume: not a subject
        entries = list_subject_folders(self.root)
        self.assertEqual([e["subject"] for e in entries], ["s01", "s02"])
        self.assertEqual(Path(entries[0]["t2"]).name, "t2w.nii")
        self.assertEqual(Path(entries[0]["lesions"]).name, "Lesions.nii.gz")
        self.assertNotIn("t2", entries[1])

    def test_two_files_of_one_role_are_refused(self):
        _touch(self.root / "s01/T1.nii.gz")
        _touch(self.root / "s01/t1w.nii.gz")
        with self.assertRaisesRegex(ValueError, "s01.*two t1 files"):
            list_subject_folders(self.root)

    def test_layout_trains_each_contrast_on_its_own_and_uses_masks_only_when_complete(self):
        for subject in ("a", "b"):
            _touch(self.root / subject / "T1.nii.gz")
            _touch(self.root / subject / "T2.nii.gz")
        _touch(self.root / "a/mask.nii.gz")
        layout = detect_layout(self.root)
        self.assertEqual((layout.name, layout.kind), ("subject_folders", "volume"))
        self.assertEqual([e["subject"] for e in layout.t2], ["a", "b"])
        self.assertNotIn("mask", layout.t1[0])  # b has no mask, so no slab is chosen by masks
        _touch(self.root / "b/mask.nii.gz")
        self.assertTrue(all("mask" in e for e in detect_layout(self.root).t1))

    def test_one_sided_subject_folders(self):
        _touch(self.root / "a/T1.nii.gz")
        with self.assertRaisesRegex(ValueError, "one-sided.*no T2"):
            detect_layout(self.root)

    def test_named_split(self):
        for subject in ("p07", "p19", "p26"):
            _touch(self.root / "data" / subject / "T1.nii.gz")
            _touch(self.root / "data" / subject / "T2.nii.gz")
        splits = split_named(self.root / "data", self.root / "split.json", test=["p19"])
        self.assertEqual(splits, {"train": ["p07", "p26"], "validation": [], "test": ["p19"]})
        self.assertEqual(load_splits(self.root / "split.json"), splits)
        with self.assertRaisesRegex(ValueError, r"\['p99'\] are not part"):
            split_named(self.root / "data", self.root / "x.json", test=["p99"])
        with self.assertRaisesRegex(ValueError, "both test and validation"):
            split_named(self.root / "data", self.root / "x.json", test=["p19"], validation=["p19"])
        with self.assertRaisesRegex(ValueError, "left for training"):
            split_named(self.root / "data", self.root / "x.json", test=["p07", "p19"], validation=["p26"])

    def test_split_verb_names_the_test_subjects(self):
        for subject in ("p07", "p19"):
            _touch(self.root / "data" / subject / "T1.nii.gz")
            _touch(self.root / "data" / subject / "T2.nii.gz")
        args = ["split", "--dataset_dir", str(self.root / "data"), "--out", str(self.root / "s.json"), "--test", "p19"]
        self.assertEqual(main(args), 0)
        self.assertEqual(load_splits(self.root / "s.json")["train"], ["p07"])
        self.assertEqual(main([*args, "--pairs", "pairs.csv"]), 1)  # --pairs and --test exclude each other

    def test_real_ms_patients(self):
        root = shared_data("ljubljana_ms")
        layout = detect_layout(root)
        self.assertEqual([e["subject"] for e in layout.t1], ["patient07", "patient19", "patient26"])
        self.assertTrue(all(Path(e["lesions"]).is_file() for e in list_subject_folders(root)))


if __name__ == "__main__":
    unittest.main()
