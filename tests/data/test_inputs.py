from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.data import list_nifti_files


class TestListNiftiFiles(unittest.TestCase):
    def test_file_and_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for name in ("b.nii.gz", "a.nii", "c.png"):
                (root / name).write_bytes(b"")
            (root / "sub").mkdir()
            self.assertEqual(list_nifti_files(root / "b.nii.gz"), [{"image": str(root / "b.nii.gz")}])
            self.assertEqual([Path(d["image"]).name for d in list_nifti_files(root)], ["a.nii", "b.nii.gz"])

    def test_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            with self.assertRaisesRegex(ValueError, "no NIfTI files"):
                list_nifti_files(root)
            (root / "x.png").write_bytes(b"")
            with self.assertRaisesRegex(ValueError, "x.png.*not a NIfTI"):
                list_nifti_files(root / "x.png")
            with self.assertRaisesRegex(FileNotFoundError, "missing.nii"):
                list_nifti_files(root / "missing.nii")
            with self.assertRaisesRegex(ValueError, "input_path"):
                list_nifti_files("")


if __name__ == "__main__":
    unittest.main()
