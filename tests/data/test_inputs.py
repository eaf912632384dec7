from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.data import list_inference_inputs


class TestListInferenceInputs(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def _touch(self, *names: str) -> None:
        for name in names:
            (self.root / name).write_bytes(b"")

    def test_nifti_file_and_folder(self):
        self._touch("b.nii.gz", "a.nii", "notes.txt")
        (self.root / "sub").mkdir()
        single = list_inference_inputs(self.root / "b.nii.gz")
        self.assertEqual((single.kind, single.files), ("volume", [{"image": str(self.root / "b.nii.gz")}]))
        folder = list_inference_inputs(self.root)
        self.assertEqual(
            (folder.kind, [Path(d["image"]).name for d in folder.files]), ("volume", ["a.nii", "b.nii.gz"])
        )

    def test_image_folder(self):
        self._touch("Image #2.png", "x.JPG", ".hidden.png")
        inputs = list_inference_inputs(self.root)
        self.assertEqual(
            (inputs.kind, [Path(d["image"]).name for d in inputs.files]), ("slice", ["Image #2.png", "x.JPG"])
        )

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "folder with no NIfTI"):
            list_inference_inputs(self.root)
        self._touch("x.txt")
        with self.assertRaisesRegex(ValueError, r"x\.txt.*neither"):
            list_inference_inputs(self.root / "x.txt")
        with self.assertRaisesRegex(FileNotFoundError, "missing.nii"):
            list_inference_inputs(self.root / "missing.nii")
        with self.assertRaisesRegex(ValueError, "input_path is empty"):
            list_inference_inputs("")
        self._touch("a.png", "b.nii.gz")
        with self.assertRaisesRegex(ValueError, "mixes"):
            list_inference_inputs(self.root)


if __name__ == "__main__":
    unittest.main()
