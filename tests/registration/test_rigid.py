from __future__ import annotations

import math
import unittest

import numpy as np

from monai_cyclegan.data.phantom import TISSUE_LABELS, simulate_subject
from monai_cyclegan.registration import (
    Volume,
    bounding_box_corners,
    field_of_view_mask,
    max_displacement_mm,
    register_rigid,
    resample,
    rotation_angle_deg,
    to_itk_image,
)
from tests.registration.motion import rigid_motion


def brain_corners(subject) -> np.ndarray:
    brain = np.isin(subject.labels, [TISSUE_LABELS["gm"], TISSUE_LABELS["wm"]])
    return bounding_box_corners(brain, subject.affines["paired"])


class TestGeometryHelpers(unittest.TestCase):
    def test_rotation_angle(self):
        self.assertAlmostEqual(rotation_angle_deg(rigid_motion((0, 0, 30), (5, 0, 0))), 30.0)
        self.assertAlmostEqual(rotation_angle_deg(np.eye(4)), 0.0)

    def test_bounding_box_corners_are_world_positions(self):
        mask = np.zeros((5, 6, 7), dtype=bool)
        mask[1:3, 2, 4:7] = True
        affine = np.diag([2.0, 3.0, 4.0, 1.0])
        affine[:3, 3] = [10, 20, 30]
        corners = bounding_box_corners(mask, affine)
        self.assertEqual(corners.shape, (8, 3))
        np.testing.assert_allclose(corners.min(axis=0), [12, 26, 46])
        np.testing.assert_allclose(corners.max(axis=0), [14, 26, 54])
        with self.assertRaisesRegex(ValueError, "non-empty"):
            bounding_box_corners(np.zeros((2, 2, 2), dtype=bool), affine)

    def test_max_displacement(self):
        points = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
        self.assertAlmostEqual(max_displacement_mm(rigid_motion((0, 0, 0), (3, 4, 0)), points), 5.0)
        rotation = rigid_motion((0, 0, 90), (0, 0, 0))
        self.assertAlmostEqual(max_displacement_mm(rotation, points), 100.0 * math.sqrt(2))
        self.assertAlmostEqual(max_displacement_mm(rotation, points, reference=rotation), 0.0)


class TestResample(unittest.TestCase):
    def test_identity_onto_own_grid_and_field_of_view(self):
        array = np.random.default_rng(0).random((6, 7, 8)).astype(np.float32)
        affine = np.diag([2.0, 2.0, 3.0, 1.0])
        image = to_itk_image(Volume(array, affine))
        np.testing.assert_allclose(resample(image, image), array, atol=1e-6)
        self.assertTrue(field_of_view_mask(image, image).all())
        # Moved 2 voxels (4 mm) along x: the last two columns of the grid see nothing of it.
        shifted = to_itk_image(Volume(array, rigid_motion((0, 0, 0), (-4, 0, 0)) @ affine))
        np.testing.assert_allclose(resample(shifted, image)[:4], array[2:], atol=1e-6)
        in_view = field_of_view_mask(shifted, image)
        self.assertTrue(in_view[:4].all())
        self.assertFalse(in_view[4:].any())
        self.assertTrue((resample(shifted, image)[4:] == 0).all())


class TestRegisterRigid(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.subject = simulate_subject(1, seed=0, scale=0.5)
        cls.fixed = to_itk_image(Volume(cls.subject.t1.astype(np.float32), cls.subject.affines["t1"]))
        # The T2's header now claims the head is moved by this motion: registration has to find it.
        cls.motion = rigid_motion((3.0, -4.0, 5.0), (6.0, -5.0, 4.0))
        t2 = Volume(cls.subject.t2.astype(np.float32), cls.motion @ cls.subject.affines["t2"])
        cls.moving = to_itk_image(t2)
        cls.result = register_rigid(cls.fixed, cls.moving)

    def test_recovers_a_known_motion_within_1mm(self):
        corners = brain_corners(self.subject)
        self.assertGreater(max_displacement_mm(np.eye(4), corners, self.motion), 15.0)  # what the headers get wrong
        self.assertLess(max_displacement_mm(self.result.matrix, corners, self.motion), 1.0)
        self.assertAlmostEqual(self.result.rotation_deg, rotation_angle_deg(self.motion), delta=0.5)
        grid_centre = self.subject.affines["t1"] @ np.r_[(np.asarray(self.subject.t1.shape) - 1) / 2, 1.0]
        expected_translation = (self.motion @ grid_centre - grid_centre)[:3]
        np.testing.assert_allclose(self.result.translation_mm, expected_translation, atol=0.5)
        self.assertLess(self.result.metric_value, 0.0)

    def test_resampling_through_the_result_matches_the_unmoved_t2(self):
        unmoved = to_itk_image(Volume(self.subject.t2.astype(np.float32), self.subject.affines["t2"]))
        truth = resample(unmoved, self.fixed)
        recovered = resample(self.moving, self.fixed, self.result.transform)
        by_headers = resample(self.moving, self.fixed)
        head = truth > 0.2 * truth.max()
        error, header_error = (np.abs(image - truth)[head].mean() for image in (recovered, by_headers))
        self.assertLess(error, 0.3 * header_error)

    def test_deterministic_and_mismatched_levels(self):
        options = {"shrink_factors": (4, 2), "smoothing_sigmas": (2.0, 1.0), "iterations": 10}
        first, second = (register_rigid(self.fixed, self.moving, **options) for _ in range(2))
        # Same voxel sample each time; only the order of ITK's multi-threaded sums may differ.
        np.testing.assert_allclose(first.matrix, second.matrix, atol=1e-6)
        with self.assertRaisesRegex(ValueError, "differ in length"):
            register_rigid(self.fixed, self.moving, shrink_factors=(4, 2), smoothing_sigmas=(1.0,))


if __name__ == "__main__":
    unittest.main()
