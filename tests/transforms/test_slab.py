from __future__ import annotations

import unittest

import torch
from monai.transforms import CropForeground

from monai_cyclegan.transforms import AxialSlabSelector


class TestAxialSlabSelector(unittest.TestCase):
    def test_keeps_slices_with_large_cross_section(self):
        image = -torch.ones(1, 10, 10, 8)
        areas = [0, 4, 30, 100, 64, 16, 1, 0]  # foreground voxels per axial slice
        for z, area in enumerate(areas):
            image.view(1, 100, 8)[0, :area, z] = 1.0
        mask = AxialSlabSelector(min_area_fraction=0.25)(image)
        self.assertEqual(mask.shape, image.shape)
        self.assertEqual(mask[0, 0, 0].tolist(), [False, False, True, True, True, False, False, False])
        cropped = CropForeground(select_fn=AxialSlabSelector(min_area_fraction=0.25))(image)
        self.assertEqual(tuple(cropped.shape), (1, 10, 10, 3))  # only the slice axis is cropped

    def test_invalid_fraction(self):
        with self.assertRaises(ValueError):
            AxialSlabSelector(min_area_fraction=1.5)


if __name__ == "__main__":
    unittest.main()
