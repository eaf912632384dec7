from __future__ import annotations

import unittest

import numpy as np

from monai_cyclegan.data.phantom import simulate_subject
from monai_cyclegan.registration import dice_coefficient, foreground_mask, otsu_threshold


class TestOtsuThreshold(unittest.TestCase):
    def test_splits_two_levels(self):
        image = np.r_[np.full(500, 10.0), np.full(500, 90.0)]
        threshold = otsu_threshold(image)
        self.assertGreaterEqual(threshold, 10.0)
        self.assertLess(threshold, 90.0)


class TestForegroundMask(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.subject = simulate_subject(1, seed=0, scale=0.25)

    def test_matches_phantom_head_on_both_contrasts(self):
        head = self.subject.labels > 0
        for contrast in ("paired_t1", "paired_t2"):
            mask = foreground_mask(getattr(self.subject, contrast))
            self.assertEqual(mask.dtype, bool)
            self.assertGreater(dice_coefficient(mask, head), 0.97, contrast)

    def test_keeps_largest_component_and_fills_holes(self):
        image = np.zeros((30, 30, 30), dtype=np.float32)
        image[5:25, 5:25, 5:25] = 100.0
        image[10:20, 10:20, 10:20] = 0.0  # dark inside, like the skull and CSF within the scalp
        image[1, 1, 1] = 100.0  # a bright noise voxel outside the head
        mask = foreground_mask(image)
        expected = np.zeros_like(mask)
        expected[5:25, 5:25, 5:25] = True
        np.testing.assert_array_equal(mask, expected)

    def test_fortran_ordered_input_keeps_axes(self):
        image = np.asfortranarray(self.subject.t1)  # nibabel returns Fortran-ordered arrays
        mask = foreground_mask(image)
        self.assertEqual(mask.shape, image.shape)
        np.testing.assert_array_equal(mask, foreground_mask(np.ascontiguousarray(image)))

    def test_constant_image_has_no_foreground(self):
        for value in (0.0, 7.0):
            self.assertFalse(foreground_mask(np.full((8, 8, 8), value)).any())

    def test_rejects_non_3d(self):
        with self.assertRaisesRegex(ValueError, "3D"):
            foreground_mask(np.zeros((8, 8)))


if __name__ == "__main__":
    unittest.main()
