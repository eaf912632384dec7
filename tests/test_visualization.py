from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
from PIL import Image

from monai_cyclegan.visualization import save_curves_png, save_panel_png


class TestPictures(unittest.TestCase):
    def test_panel_layout(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows = [[np.zeros((5, 7)), np.ones((5, 7))]] * 3
            with Image.open(save_panel_png(rows, Path(tmp) / "p.png", titles=["a", "b"])) as picture:
                self.assertEqual(picture.size, (14, 16 + 15))
                self.assertEqual(picture.getpixel((10, 20)), 255)  # second column is white

    def test_row_labels_are_drawn_on_their_rows(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows = [[np.zeros((40, 80))]] * 2
            path = save_panel_png(rows, Path(tmp) / "p.png", row_labels=["", "T2"])
            with Image.open(path) as picture:
                pixels = np.asarray(picture)
        self.assertEqual(pixels.shape, (80, 80))
        self.assertEqual(pixels[:40].max(), 0)  # the first row's label is empty
        self.assertGreater(pixels[40:55, :30].max(), 200)  # "T2" (antialiased) at the top left of the second row

    def test_curves_are_drawn_in_their_colours(self):
        with tempfile.TemporaryDirectory() as tmp:
            rising = [(i, i / 10) for i in range(100)]
            falling = [(i, 10 - i / 10) for i in range(100)]
            path = save_curves_png({"up": rising, "down": falling, "none": []}, Path(tmp) / "c.png", smooth=5)
            with Image.open(path) as picture:
                self.assertEqual(picture.size, (640, 360))
                pixels = {tuple(p) for p in np.asarray(picture.convert("RGB")).reshape(-1, 3)}
            self.assertIn((0x1F, 0x77, 0xB4), pixels)  # first curve
            self.assertIn((0xD6, 0x27, 0x28), pixels)  # second curve

    def test_no_points(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(ValueError, "no curve"):
            save_curves_png({"empty": []}, Path(tmp) / "c.png")
        self.assertFalse(Path(tmp, "c.png").exists())


if __name__ == "__main__":
    unittest.main()
