from __future__ import annotations

import unittest

import numpy as np
import torch
from monai.data import MetaTensor
from PIL import Image

from monai_cyclegan.transforms import Grayscale, Grayscaled, decode_pil_mode


class TestGrayscale(unittest.TestCase):
    def test_grey_passes_unchanged(self):
        img = torch.randint(0, 255, (1, 5, 6), dtype=torch.uint8)
        self.assertIs(Grayscale()(img), img)

    def test_rgb_matches_pil_luma(self):
        rgb = np.random.default_rng(0).integers(0, 256, (7, 9, 3), dtype=np.uint8)
        expected = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.float32)
        grey = Grayscale()(torch.as_tensor(rgb).permute(2, 0, 1))
        self.assertEqual(tuple(grey.shape), (1, 7, 9))
        self.assertLessEqual(float((grey[0] - torch.as_tensor(expected)).abs().max()), 1.0)  # PIL rounds in fixed point

    def test_rgb_copy_of_grey_gives_the_grey_back(self):
        grey = torch.randint(0, 256, (1, 4, 4), dtype=torch.uint8)
        rgba = torch.cat([grey, grey, grey, torch.full_like(grey, 255)])
        self.assertTrue(torch.equal(Grayscale()(rgba), grey))

    def test_grey_alpha_keeps_grey(self):
        img = torch.stack([torch.ones(3, 3), torch.zeros(3, 3)])
        self.assertTrue(torch.equal(Grayscale()(img), torch.ones(1, 3, 3)))

    def test_bad_channel_count_names_the_file(self):
        img = MetaTensor(torch.zeros(5, 3, 3), meta={"filename_or_obj": "/data/odd.png"})
        with self.assertRaisesRegex(ValueError, r"/data/odd\.png: .*got 5 channels"):
            Grayscaled("image")({"image": img})


class TestDecodePilMode(unittest.TestCase):
    def test_modes(self):
        grey = Image.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16))
        cases = {
            "L": ("L", grey),
            "I;16": ("I;16", grey.convert("I;16")),
            "RGB": ("RGB", grey.convert("RGB")),
            "RGBA": ("RGBA", grey.convert("RGBA")),
            "P": ("RGB", grey.convert("RGB").quantize(colors=16)),
            "CMYK": ("RGB", grey.convert("CMYK")),
            "1": ("L", grey.convert("1")),
        }
        for mode, (expected, image) in cases.items():
            with self.subTest(mode=mode):
                self.assertEqual(image.mode, mode)
                self.assertEqual(decode_pil_mode(image).mode, expected)

    def test_palette_with_transparency_keeps_alpha(self):
        image = Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).convert("P")
        image.info["transparency"] = 0
        self.assertEqual(decode_pil_mode(image).mode, "RGBA")


if __name__ == "__main__":
    unittest.main()
