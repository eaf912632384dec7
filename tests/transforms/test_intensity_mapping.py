from __future__ import annotations

import unittest

import torch
from monai.data import CacheDataset

from monai_cyclegan.transforms import HEAD_THRESHOLD, IntensityMapping, cached_intensities, fit_intensity_mappings


def _tissues(levels: tuple[float, ...], counts: tuple[int, ...]) -> torch.Tensor:
    return torch.cat([torch.full((n,), v) for v, n in zip(levels, counts, strict=True)])


class TestIntensityMapping(unittest.TestCase):
    def setUp(self):
        # "T1": CSF -0.6 (10%), grey matter 0.1 (40%), white matter 0.7 (50%); "T2": the same tissues with the
        # order inverted: white matter -0.4, grey matter 0.0, CSF 0.9
        self.t1 = _tissues((-0.6, 0.1, 0.7), (100, 400, 500))
        self.t2 = _tissues((-0.4, 0.0, 0.9), (500, 400, 100))

    def test_tissues_map_onto_the_inverted_tissues(self):
        mapping = IntensityMapping(self.t1, self.t2)
        out = mapping(torch.tensor([-0.6, 0.1, 0.7]))
        torch.testing.assert_close(out, torch.tensor([0.9, 0.0, -0.4]), atol=0.02, rtol=0)
        back = IntensityMapping(self.t2, self.t1)(out)
        torch.testing.assert_close(back, torch.tensor([-0.6, 0.1, 0.7]), atol=0.02, rtol=0)

    def test_air_stays_air_and_the_ramp_is_continuous(self):
        mapping = IntensityMapping(self.t1, self.t2)
        self.assertEqual(float(mapping(torch.tensor([-1.0]))), -1.0)
        just_below, just_above = mapping(torch.tensor([HEAD_THRESHOLD - 1e-4, HEAD_THRESHOLD + 1e-4]))
        self.assertAlmostEqual(float(just_below), float(just_above), places=2)
        self.assertGreater(float(just_above), 0.5)  # the darkest head voxel maps to the brightest target tissue

    def test_decreasing_in_the_head_and_keeps_shape(self):
        mapping = IntensityMapping(torch.rand(1000) * 1.8 - 0.8, torch.rand(1000) * 1.8 - 0.8)
        x = torch.linspace(-0.85, 1, 50)
        y = mapping(x.reshape(5, 10)).flatten()
        self.assertTrue(bool((y[1:] <= y[:-1] + 1e-6).all()))
        self.assertEqual(tuple(mapping(torch.zeros(2, 1, 4, 4)).shape), (2, 1, 4, 4))

    def test_fit_from_cached_images_leaves_air_out(self):
        def images(values: torch.Tensor) -> CacheDataset:
            image = torch.full((1, 8, 8), -1.0)
            image[0, :4, :4] = values.reshape(4, 4)
            return CacheDataset([{"image": image}], transform=None, progress=False)

        a, b = images(torch.linspace(0, 1, 16)), images(torch.linspace(-0.5, 0.5, 16))
        torch.testing.assert_close(cached_intensities(a).sort().values, torch.linspace(0, 1, 16))
        ab, ba = fit_intensity_mappings(a, b)
        self.assertAlmostEqual(float(ab(torch.tensor([0.0]))), 0.5, places=4)  # darkest A -> brightest B
        self.assertAlmostEqual(float(ba(torch.tensor([0.5]))), 0.0, places=4)
        with self.assertRaisesRegex(ValueError, "no cached images"):
            cached_intensities(CacheDataset([{"image": torch.zeros(1, 2, 2)}], transform=None, cache_rate=0.0))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "needs source and target"):
            IntensityMapping(torch.empty(0), self.t2)
        with self.assertRaisesRegex(ValueError, "threshold"):
            IntensityMapping(self.t1, self.t2, threshold=-1.0)


if __name__ == "__main__":
    unittest.main()
