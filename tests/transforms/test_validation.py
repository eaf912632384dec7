from __future__ import annotations

import unittest

import numpy as np
import torch
from monai.data import MetaTensor
from parameterized import parameterized

from monai_cyclegan.transforms import ValidateVolume, ValidateVolumed

TEST_CASES_ACCEPTED = [
    ("3d_float", torch.rand(5, 6, 7)),
    ("3d_int16_numpy", np.ones((5, 6, 7), dtype=np.int16)),
    ("single_volume_4d", torch.rand(5, 6, 7, 1)),
    ("one_slice", torch.rand(5, 6, 1)),
]

TEST_CASES_REFUSED = [
    ("2d", torch.rand(5, 6), r"expected a 3D volume, got an array of shape \(5, 6\)"),
    ("4d_series", torch.rand(5, 6, 7, 2), r"expected a 3D volume, got an array of shape \(5, 6, 7, 2\)"),
    ("5d", torch.rand(5, 6, 7, 1, 1), r"expected a 3D volume, got an array of shape \(5, 6, 7, 1, 1\)"),
    ("empty", torch.rand(5, 0, 7), r"the volume is empty \(shape \(5, 0, 7\)\)"),
    ("nan", torch.tensor([1.0, float("nan")]).reshape(1, 1, 2), "NaN or infinite voxels"),
    ("inf", np.array([1.0, -np.inf]).reshape(2, 1, 1), "NaN or infinite voxels"),
]


class TestValidateVolume(unittest.TestCase):
    @parameterized.expand(TEST_CASES_ACCEPTED)
    def test_a_volume_passes_unchanged(self, _, volume):
        self.assertIs(ValidateVolume()(volume), volume)

    @parameterized.expand(TEST_CASES_REFUSED)
    def test_other_arrays_are_refused(self, _, array, message):
        with self.assertRaisesRegex(ValueError, message):
            ValidateVolume()(array)

    def test_dictionary_version_names_the_file(self):
        image = MetaTensor(torch.rand(8, 8), meta={"filename_or_obj": "/data/t1/flat.nii.gz"})
        with self.assertRaisesRegex(ValueError, r"^/data/t1/flat\.nii\.gz: expected a 3D volume"):
            ValidateVolumed(["image", "mask"], allow_missing_keys=True)({"image": image})

    def test_dictionary_version_without_metadata_names_the_key(self):
        with self.assertRaisesRegex(ValueError, r"^mask: the volume holds NaN"):
            ValidateVolumed("mask")({"mask": torch.full((2, 2, 2), float("nan"))})


if __name__ == "__main__":
    unittest.main()
