from __future__ import annotations

import gzip
import tempfile
import unittest
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_cyclegan.files import save_volume
from monai_cyclegan.registration import Volume, load_volume, to_itk_image

AFFINE = np.array(
    [
        [0.0, 0.0, -1.5, 40.0],  # an oblique-free but permuted, flipped grid like a sagittal acquisition
        [-2.0, 0.0, 0.0, 10.0],
        [0.0, 1.2, 0.0, -30.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


class TestLoadAndSave(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)

    def tearDown(self):
        self._tmp.cleanup()

    def test_round_trip_keeps_values_affine_and_leaves_no_temporary_files(self):
        path = self.root / "a.nii.gz"
        save_volume(self.array, AFFINE, path)
        volume = load_volume(path)
        np.testing.assert_array_equal(volume.array, self.array)
        self.assertEqual(volume.array.dtype, np.float32)
        self.assertTrue(volume.array.flags["C_CONTIGUOUS"])
        np.testing.assert_allclose(volume.affine, AFFINE, atol=1e-5)
        self.assertEqual(volume.path, str(path))
        header = nib.load(path).header
        self.assertEqual((int(header["qform_code"]), int(header["sform_code"])), (1, 1))
        self.assertEqual(sorted(p.name for p in self.root.iterdir()), ["a.nii.gz"])

    def test_single_volume_4d_is_accepted(self):
        path = self.root / "b.nii.gz"
        nib.save(nib.Nifti1Image(self.array[..., None], AFFINE), str(path))
        self.assertEqual(load_volume(path).array.shape, (4, 5, 6))

    def test_missing_file(self):
        with self.assertRaisesRegex(FileNotFoundError, "nothere.nii.gz"):
            load_volume(self.root / "nothere.nii.gz")

    def test_errors_name_the_file_and_the_problem(self):
        corrupt = self.root / "corrupt.nii.gz"
        corrupt.write_bytes(b"this is not a nifti file")
        truncated = self.root / "truncated.nii.gz"
        save_volume(self.array, AFFINE, truncated)
        truncated.write_bytes(truncated.read_bytes()[:200])
        header_only = self.root / "short.nii.gz"
        header_only.write_bytes(gzip.compress(b"\0" * 10))
        two_d = self.root / "slice.nii.gz"
        nib.save(nib.Nifti1Image(self.array[0], np.eye(4)), str(two_d))
        with_nan = self.root / "nan.nii.gz"
        nib.save(nib.Nifti1Image(np.full((3, 3, 3), np.nan, dtype=np.float32), np.eye(4)), str(with_nan))
        singular = self.root / "singular.nii"
        image = nib.Nifti1Image(self.array, np.eye(4))
        image.set_qform(None, code=0)
        image.set_sform(np.diag([1.0, 1.0, 0.0, 1.0]), code=1)
        nib.save(image, str(singular))
        cases = {
            corrupt: "cannot read",
            truncated: "cannot read",
            header_only: "cannot read",
            two_d: r"3D volume, got shape \(5, 6\)",
            with_nan: "NaN",
            singular: "affine",
        }
        for path, problem in cases.items():
            with (
                self.subTest(path=path.name),
                self.assertRaisesRegex(ValueError, f"(?s)(?=.*{path.name})(?=.*{problem})"),
            ):
                load_volume(path)


class TestToItkImage(unittest.TestCase):
    def test_voxels_keep_their_world_position(self):
        array = np.random.default_rng(0).random((4, 5, 6)).astype(np.float32)
        image = to_itk_image(Volume(array, AFFINE))
        self.assertEqual(tuple(image.GetLargestPossibleRegion().GetSize()), (4, 5, 6))
        for index in ((0, 0, 0), (3, 1, 2), (1, 4, 5)):
            ras = AFFINE @ np.r_[index, 1.0]
            lps = np.asarray(image.TransformIndexToPhysicalPoint(index))
            np.testing.assert_allclose(lps, [-ras[0], -ras[1], ras[2]], atol=1e-4)
            self.assertAlmostEqual(float(image.GetPixel(index)), float(array[index]), places=6)


if __name__ == "__main__":
    unittest.main()
