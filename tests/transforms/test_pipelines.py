from __future__ import annotations

import tempfile
import unittest

import nibabel as nib
import numpy as np
import torch
from monai.transforms import LoadImage, ResampleToMatch

from monai_cyclegan.data.phantom import write_phantom_dataset
from monai_cyclegan.transforms import model_spacing, slice_training_transforms, volume_preprocessing

SIZE = 64  # with the default 256 mm field of view: 4 mm voxels, about the phantom's spacing at scale 0.25


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


class TestPipelinesOnPhantom(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.subject = write_phantom_dataset(cls.tmp.name, num_subjects=1, scale=0.25, seed=3)[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_acquisition_grids_are_not_ras(self):
        # the premise of the next tests: the phantom's T1/T2 grids need real reorientation and resampling
        self.assertNotEqual(nib.aff2axcodes(nib.load(self.subject["t1"]).affine), ("R", "A", "S"))
        self.assertNotEqual(nib.aff2axcodes(nib.load(self.subject["t2"]).affine), ("R", "A", "S"))

    def test_volume_preprocessing_gives_ras_common_spacing_and_range(self):
        pre = volume_preprocessing(image_size=SIZE)
        for key in ("t1", "t2"):
            image = pre({"image": self.subject[key]})["image"]
            affine = image.affine.numpy()
            self.assertEqual(nib.aff2axcodes(affine), ("R", "A", "S"), key)
            np.testing.assert_allclose(np.linalg.norm(affine[:3, :3], axis=0), model_spacing(SIZE), rtol=1e-4)
            self.assertGreaterEqual(float(image.min()), -1.0)
            self.assertLessEqual(float(image.max()), 1.0)
            border = torch.cat([image[0, [0, -1]].flatten(), image[0, :, [0, -1]].flatten()])
            self.assertLess(float(border.mean()), -0.95)  # air (a Rician noise floor) sits at about -1
            self.assertGreater(float((image > 0.99).float().mean()), 0)  # the bright end reaches +1

    def test_harmonised_volumes_match_the_ground_truth_anatomy(self):
        """T1 (sagittal grid) and T2 (axial grid) land on the anatomy of the paired RAS ground truth."""
        pre = volume_preprocessing(image_size=SIZE)
        load = LoadImage(image_only=True, ensure_channel_first=True)
        for key, paired in (("t1", "paired_t1"), ("t2", "paired_t2")):
            moved = pre({"image": self.subject[key]})["image"]
            truth = load(self.subject[paired])
            on_truth_grid = ResampleToMatch()(moved, img_dst=truth)
            good = _correlation(on_truth_grid, truth)
            self.assertGreater(good, 0.93, key)  # measured: 0.95 for both contrasts
            # the same volume mirrored along any axis (a wrong reorientation) scores clearly lower (measured <= 0.91)
            for axis in (1, 2, 3):
                mirrored = ResampleToMatch()(moved.flip(axis), img_dst=truth)
                self.assertGreater(good - _correlation(mirrored, truth), 0.03, f"{key}, axis {axis}")

    def test_training_slices(self):
        transform = slice_training_transforms(image_size=SIZE, slices_per_volume=6, flip_prob=0.5)
        transform.set_random_state(0)
        slices = transform({"image": self.subject["t1"]})
        self.assertEqual(len(slices), 6)
        full = volume_preprocessing(image_size=SIZE)({"image": self.subject["t1"]})["image"]
        largest_area = int((full > -0.8).sum(dim=(0, 1, 2)).max())
        for item in slices:
            image = item["image"]
            self.assertEqual(tuple(image.shape), (1, SIZE, SIZE))
            self.assertGreaterEqual(float(image.min()), -1.0)
            self.assertLessEqual(float(image.max()), 1.0)
            # every slice cuts through the head, never through the skull cap or the empty field of view
            self.assertGreaterEqual(int((image > -0.8).sum()), 0.25 * largest_area)

    def test_flip_is_left_right(self):
        item = {"image": self.subject["t2"]}
        unflipped = slice_training_transforms(image_size=SIZE, flip_prob=0.0).set_random_state(1)(item)[0]["image"]
        flipped = slice_training_transforms(image_size=SIZE, flip_prob=1.0).set_random_state(1)(item)[0]["image"]
        self.assertTrue(torch.equal(flipped.as_tensor(), unflipped.as_tensor().flip(1)))  # axis 1 = x = left-right


class TestModelSpacing(unittest.TestCase):
    def test_spacing(self):
        self.assertEqual(model_spacing(256), (1.0, 1.0, 1.0))
        self.assertEqual(model_spacing(64, fov_mm=240.0), (3.75, 3.75, 3.75))
        with self.assertRaises(ValueError):
            model_spacing(0)


if __name__ == "__main__":
    unittest.main()
