from __future__ import annotations

import unittest

import numpy as np

from monai_cyclegan.data.phantom import simulate_subject
from monai_cyclegan.registration import alignment_quality, dice_coefficient, normalized_mutual_information


class TestDiceCoefficient(unittest.TestCase):
    def test_values(self):
        a = np.array([1, 1, 1, 0, 0], dtype=bool)
        b = np.array([0, 1, 1, 1, 0], dtype=bool)
        self.assertAlmostEqual(dice_coefficient(a, b), 2 * 2 / 6)
        self.assertEqual(dice_coefficient(a, a), 1.0)
        self.assertEqual(dice_coefficient(a, ~a), 0.0)

    def test_two_empty_masks_count_as_failure(self):
        empty = np.zeros(4, dtype=bool)
        self.assertEqual(dice_coefficient(empty, empty), 0.0)


class TestNormalizedMutualInformation(unittest.TestCase):
    def setUp(self):
        self.image = np.random.default_rng(0).random((20, 20, 20)).astype(np.float32)

    def test_deterministic_relation_gives_two(self):
        # Any one-to-one intensity mapping, even a non-monotonic one, keeps all the information.
        levels = np.floor(self.image * 8)
        remapped = np.array([3, 7, 0, 5, 1, 6, 2, 4], dtype=np.float32)[levels.astype(int)]
        self.assertAlmostEqual(normalized_mutual_information(levels, remapped, bins=8), 2.0, places=6)

    def test_independent_images_give_about_one(self):
        other = np.random.default_rng(1).random(self.image.shape)
        self.assertLess(normalized_mutual_information(self.image, other, bins=8), 1.01)

    def test_misalignment_lowers_nmi(self):
        subject = simulate_subject(1, seed=0, scale=0.25)
        t1, t2 = subject.paired_t1, subject.paired_t2
        aligned = normalized_mutual_information(t1, t2, subject.labels > 0)
        shifted = normalized_mutual_information(t1, np.roll(t2, 2, axis=0), subject.labels > 0)
        self.assertGreater(aligned, 1.1)
        self.assertLess(shifted, aligned - 0.03)

    def test_region_restricts_the_voxels(self):
        other = self.image.copy()
        region = np.zeros(self.image.shape, dtype=bool)
        region[:10] = True
        other[~region] = np.random.default_rng(2).random(int((~region).sum()))
        self.assertAlmostEqual(normalized_mutual_information(self.image, other, region, bins=16), 2.0, places=6)
        self.assertLess(normalized_mutual_information(self.image, other, bins=16), 1.9)

    def test_degenerate_inputs_give_one(self):
        self.assertEqual(normalized_mutual_information(self.image, self.image, np.zeros(self.image.shape, bool)), 1.0)
        constant = np.ones_like(self.image)
        self.assertEqual(normalized_mutual_information(constant, constant), 1.0)

    def test_shape_mismatch(self):
        with self.assertRaisesRegex(ValueError, "shapes differ"):
            normalized_mutual_information(self.image, self.image[:5])


class TestAlignmentQuality(unittest.TestCase):
    def test_ignores_anatomy_outside_the_common_field_of_view(self):
        subject = simulate_subject(1, seed=0, scale=0.25)
        t1, t2 = subject.paired_t1, subject.paired_t2.astype(np.float32)
        t1_mask = subject.labels > 0
        field_of_view = np.ones(t1.shape, dtype=bool)
        field_of_view[:, :, : t1.shape[2] // 3] = False  # the T2 does not cover the lower third
        cropped = np.where(field_of_view, t2, 0.0)
        full = alignment_quality(t1, cropped, t1_mask, np.ones(t1.shape, dtype=bool))
        restricted = alignment_quality(t1, cropped, t1_mask, field_of_view)
        self.assertGreater(restricted.dice, 0.95)
        self.assertLess(full.dice, restricted.dice - 0.05)
        self.assertGreater(restricted.nmi, full.nmi)


if __name__ == "__main__":
    unittest.main()
