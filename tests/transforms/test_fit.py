from __future__ import annotations

import unittest

import torch
from monai.data import MetaTensor
from monai.transforms import Compose, Invertd
from parameterized import parameterized

from monai_cyclegan.transforms import FitToSize, FitToSized


class TestFitToSize(unittest.TestCase):
    def test_small_image_is_only_padded_with_air(self):
        img = MetaTensor(torch.rand(1, 181, 217))
        out = FitToSize(256)(img)
        self.assertEqual(tuple(out.shape), (1, 256, 256))
        self.assertEqual(int((out == -1).sum()), 256 * 256 - 181 * 217)
        self.assertTrue(torch.equal(out[0, 37:218, 19:236].as_tensor(), img[0].as_tensor()))  # centred, untouched

    def test_large_image_keeps_its_aspect_ratio(self):
        img = MetaTensor(torch.ones(1, 300, 150))
        out = FitToSize(100)(img)
        self.assertEqual(tuple(out.shape), (1, 100, 100))
        self.assertEqual(int((out == 1).sum()), 100 * 50)  # shrunk to 100 x 50, then padded

    @parameterized.expand([((1, 181, 217), 256), ((1, 181, 217), 64), ((3, 512, 384), 128)])
    def test_invertd_restores_the_original_size(self, shape, size):
        transform = Compose([FitToSized("image", size)])
        img = MetaTensor(torch.rand(*shape))
        data = transform({"image": img})
        data["pred"] = data["image"].clone()
        restored = Invertd("pred", transform, orig_keys="image")(data)["pred"]
        self.assertEqual(tuple(restored.shape), shape)
        if max(shape[1:]) <= size:
            self.assertTrue(torch.equal(restored.as_tensor(), img.as_tensor()))  # padding only: lossless

    def test_rejects_non_2d(self):
        with self.assertRaisesRegex(ValueError, r"\(C, H, W\)"):
            FitToSize(64)(torch.zeros(1, 4, 4, 4))
        with self.assertRaisesRegex(ValueError, "size must be a positive integer, got 0"):
            FitToSize(0)
        with self.assertRaisesRegex(ValueError, "size must be a positive integer, got 'abc'"):
            FitToSize("abc")

    def test_rejects_an_image_with_no_pixel(self):
        for shape in ((1, 0, 5), (1, 40, 0)):
            with self.assertRaisesRegex(ValueError, r"no pixel \(shape"):
                FitToSize(16)(torch.zeros(shape))


if __name__ == "__main__":
    unittest.main()
