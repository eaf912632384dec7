from __future__ import annotations

import math
import unittest

import torch

from monai_cyclegan.evaluation import similarity_metrics, tissue_means


class TestSimilarityMetrics(unittest.TestCase):
    def test_identical_and_known_error(self):
        target = torch.rand(24, 24, 16)
        same = similarity_metrics(target, target)
        self.assertTrue(math.isinf(same["psnr"]))
        self.assertAlmostEqual(same["ssim"], 1.0, places=4)
        shifted = similarity_metrics((target + 0.1).clamp(max=1.5), target)
        self.assertAlmostEqual(shifted["mae"], 0.1, places=5)
        self.assertAlmostEqual(shifted["psnr"], 20.0, places=3)  # MSE 0.01 at data range 1
        self.assertLess(similarity_metrics(torch.rand(24, 24, 16), target)["ssim"], 0.5)

    def test_shape_mismatch(self):
        with self.assertRaisesRegex(ValueError, "shapes differ"):
            similarity_metrics(torch.zeros(4, 4), torch.zeros(4, 5))


class TestTissueMeans(unittest.TestCase):
    def test_means_and_cores(self):
        labels = torch.zeros(9, 9, 9, dtype=torch.long)
        labels[2:7, 2:7, 2:7] = 1  # a 5-voxel cube: its core after one voxel of erosion is 3x3x3
        labels[0, 0, 0] = 2  # a single voxel: no core
        image = torch.zeros(9, 9, 9)
        image[2:7, 2:7, 2:7] = 1.0
        image[3:6, 3:6, 3:6] = 3.0  # bright core, dimmer rim (partial volume)
        means = tissue_means(image, labels, {"cube": 1, "dot": 2, "none": 3})
        self.assertAlmostEqual(means["cube"], (27 * 3 + 98 * 1) / 125, places=5)
        self.assertTrue(math.isnan(means["none"]))
        cores = tissue_means(image, labels, {"cube": 1, "dot": 2}, erode=1)
        self.assertAlmostEqual(cores["cube"], 3.0)
        self.assertTrue(math.isnan(cores["dot"]))

    def test_2d(self):
        labels = torch.ones(5, 5, dtype=torch.long)
        self.assertAlmostEqual(tissue_means(torch.full((5, 5), 2.0), labels, {"x": 1}, erode=1)["x"], 2.0)


if __name__ == "__main__":
    unittest.main()


class TestNMSEAndMasks(unittest.TestCase):
    def test_nmse(self):
        target = torch.full((16, 16), 0.5)
        self.assertAlmostEqual(similarity_metrics(target * 1.1, target)["nmse"], 0.01, places=5)

    def test_full_mask_equals_whole_image(self):
        target = torch.rand(32, 32)
        pred = (target + 0.05 * torch.randn(32, 32)).clamp(0, 1)
        whole = similarity_metrics(pred, target)
        masked = similarity_metrics(pred, target, mask=torch.ones(32, 32, dtype=torch.bool))
        for name in whole:
            self.assertAlmostEqual(whole[name], masked[name], places=5)

    def test_mask_ignores_errors_outside(self):
        target = torch.rand(40, 40)
        pred = target.clone()
        pred[:, 30:] = 1 - pred[:, 30:]  # errors only in the right-hand strip
        mask = torch.zeros(40, 40, dtype=torch.bool)
        mask[:, :20] = True
        inside = similarity_metrics(pred, target, mask=mask)
        self.assertTrue(math.isinf(inside["psnr"]))
        self.assertEqual(inside["mae"], 0.0)
        self.assertAlmostEqual(inside["ssim"], 1.0, places=4)
        self.assertLess(similarity_metrics(pred, target)["psnr"], 20)

    def test_bad_masks(self):
        with self.assertRaisesRegex(ValueError, "empty"):
            similarity_metrics(torch.rand(8, 8), torch.rand(8, 8), mask=torch.zeros(8, 8, dtype=torch.bool))
        with self.assertRaisesRegex(ValueError, "mask shape"):
            similarity_metrics(torch.rand(8, 8), torch.rand(8, 8), mask=torch.ones(8, 9, dtype=torch.bool))
