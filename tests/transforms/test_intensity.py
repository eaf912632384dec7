from __future__ import annotations

import unittest

import numpy as np
import torch
from monai.data import MetaTensor
from parameterized import parameterized

from monai_cyclegan.transforms import (
    BitDepthScaleIntensity,
    BitDepthScaleIntensityd,
    RobustScaleIntensity,
    RobustScaleIntensityd,
)


def _head(bright_outliers: bool = False) -> torch.Tensor:
    """Air (0) around a 'head' of intensities 100..200, optionally with a few extreme voxels."""
    image = torch.zeros(1, 40, 40, 40)
    image[:, 10:30, 10:30, 10:30] = torch.linspace(100, 200, 20).reshape(1, 20, 1, 1).expand(1, 20, 20, 20)
    if bright_outliers:
        image[0, 15, 15, 15:17] = 10_000
    return image


class TestRobustScaleIntensity(unittest.TestCase):
    def test_air_to_minus_one_and_robust_top(self):
        out = RobustScaleIntensity()(_head())
        self.assertAlmostEqual(float(out[0, 0, 0, 0]), -1.0)
        self.assertAlmostEqual(float(out.max()), 1.0, places=5)
        self.assertGreaterEqual(float(out.min()), -1.0)

    def test_outliers_do_not_compress_the_tissue(self):
        clean, noisy = RobustScaleIntensity()(_head()), RobustScaleIntensity()(_head(bright_outliers=True))
        tissue = (slice(None), slice(20, 21), slice(12, 13), slice(12, 13))
        # a max-based scaling would squash the tissue towards -1; the foreground percentile barely moves
        self.assertAlmostEqual(float(clean[tissue]), float(noisy[tissue]), delta=0.02)

    def test_percentile_ignores_air_fraction(self):
        small_fov, large_fov = _head(), torch.zeros(1, 80, 80, 80)
        large_fov[:, 20:60, 20:60, 20:60] = small_fov  # same head, eight times the air
        self.assertAlmostEqual(
            RobustScaleIntensity().upper_bound(small_fov), RobustScaleIntensity().upper_bound(large_fov), places=3
        )

    def test_numpy_input_and_other_range(self):
        out = torch.as_tensor(RobustScaleIntensity(b_min=0.0, b_max=1.0)(_head().numpy()))
        self.assertAlmostEqual(float(out.min()), 0.0)
        self.assertAlmostEqual(float(out.max()), 1.0, places=5)

    def test_bad_volumes_name_the_file(self):
        meta = {"filename_or_obj": "/data/IXI-T1/bad-T1.nii.gz"}
        for image, problem in (
            (torch.zeros(1, 8, 8, 8), "no foreground"),
            (_head().masked_fill(_head() > 150, float("nan")), "NaN or Inf"),
            (_head().masked_fill(_head() > 150, float("inf")), "NaN or Inf"),
        ):
            with self.assertRaisesRegex(ValueError, f"bad-T1.nii.gz: .*{problem}"):
                RobustScaleIntensityd("image")({"image": MetaTensor(image, meta=meta)})

    def test_empty_volume_is_a_clear_error(self):
        with self.assertRaisesRegex(ValueError, r"image is empty \(shape \(1, 0, 4, 4\)\)"):
            RobustScaleIntensity()(torch.zeros(1, 0, 4, 4))

    def test_boolean_volume_scales_like_zero_and_one(self):
        mask = _head() > 0
        out = RobustScaleIntensity()(mask)
        self.assertEqual(out.dtype, torch.float32)
        self.assertTrue(torch.equal(out.as_tensor(), torch.where(mask, 1.0, -1.0)))

    def test_invalid_percentile(self):
        with self.assertRaises(ValueError):
            RobustScaleIntensity(upper_percentile=0)


class TestBitDepthScaleIntensity(unittest.TestCase):
    @parameterized.expand(
        [
            (torch.uint8, 255),
            (torch.int32, 65535),  # PIL's type for 16-bit PNG
            (torch.float32, 1.0),
        ]
    )
    def test_full_range_maps_to_minus_one_one(self, dtype, full_scale):
        img = torch.tensor([[[0, full_scale / 2, full_scale]]]).to(dtype)
        out = BitDepthScaleIntensity()(img)
        self.assertEqual(out.dtype, torch.float32)
        torch.testing.assert_close(out, torch.tensor([[[-1.0, 0.0, 1.0]]]), atol=0.005, rtol=0)  # 8-bit: 127 of 255

    def test_values_beyond_the_bit_depth_name_the_file(self):
        img = MetaTensor(torch.tensor([[[0, 70000]]], dtype=torch.int32), meta={"filename_or_obj": "/x/deep.png"})
        with self.assertRaisesRegex(ValueError, r"/x/deep\.png: values span \[0\.0, 70000\.0\]"):
            BitDepthScaleIntensityd("image")({"image": img})

    def test_float_outside_unit_range_and_nan(self):
        for bad in (torch.tensor([[[0.0, 2.0]]]), torch.tensor([[[0.0, float("nan")]]])):
            with self.assertRaisesRegex(ValueError, "outside"):
                BitDepthScaleIntensity()(bad)

    def test_one_bit_image_is_black_and_white(self):
        """PIL hands a 1-bit PNG over as booleans: true is white (+1), not 1/65535 of a 16-bit range."""
        out = BitDepthScaleIntensity()(np.array([[[True, False]]]))
        torch.testing.assert_close(torch.as_tensor(out), torch.tensor([[[1.0, -1.0]]]))

    def test_empty_image_is_a_clear_error(self):
        with self.assertRaisesRegex(ValueError, r"image is empty \(shape \(1, 0, 3\)\)"):
            BitDepthScaleIntensity()(torch.zeros(1, 0, 3, dtype=torch.uint8))


if __name__ == "__main__":
    unittest.main()
