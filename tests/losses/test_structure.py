from __future__ import annotations

import unittest

import numpy as np
import torch

from monai_cyclegan.losses import MINDLoss, mind_descriptor


def _phantom(shift: int = 0) -> torch.Tensor:
    """A 32x32 image with a bright disc and a dark bar, smooth noise-free tissue boundaries."""
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    disc = ((y - 16) ** 2 + (x - 14 - shift) ** 2 < 49).float()
    bar = ((x > 22 + shift) & (x < 26 + shift) & (y > 6) & (y < 26)).float()
    return (0.8 * disc - 0.5 * bar)[None, None]


def _mind_by_definition(image: np.ndarray, radius: int = 1, distance: int = 2, epsilon: float = 1e-6) -> np.ndarray:
    """MIND of one 2D image written out pixel by pixel (float64): the definition the module must compute.

    For each of the four neighbours at ``distance`` (right, left, down, up; borders replicated), the patch distance is
    the mean squared difference over the box of ``radius`` around the pixel, counting only the pixels inside the
    image; the variance estimate is the mean of the four, floored by 1e-3 of its image mean plus ``epsilon``.
    """
    height, width = image.shape
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    distances = []
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        shifted = image[np.clip(rows + dy * distance, 0, height - 1), np.clip(cols + dx * distance, 0, width - 1)]
        squared = (image - shifted) ** 2
        patch = np.empty_like(image)
        for y in range(height):
            for x in range(width):
                box = squared[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
                patch[y, x] = box.mean()
        distances.append(patch)
    distances = np.stack(distances)
    variance = distances.mean(axis=0)
    floor = 1e-3 * variance.mean() + epsilon
    descriptor = np.exp(-distances / (variance + floor))
    return descriptor / descriptor.max(axis=0)


def _two_images() -> torch.Tensor:
    """A batch of two 9x11 images: random in [0, 1], and a faint one (steps of 1e-3, where ``epsilon`` dominates)."""
    generator = torch.Generator().manual_seed(0)
    bright = torch.rand(9, 11, generator=generator)
    faint = 1e-3 * torch.rand(9, 11, generator=generator)
    return torch.stack([bright, faint])[:, None]


class TestMIND(unittest.TestCase):
    def test_descriptor_matches_its_definition(self):
        images = _two_images()
        for kwargs in ({}, {"radius": 2, "distance": 3}):
            with self.subTest(**kwargs):
                result = mind_descriptor(images, **kwargs)
                self.assertEqual(tuple(result.shape), (2, 4, 9, 11))
                for index, image in enumerate(images[:, 0].double().numpy()):
                    expected = torch.from_numpy(_mind_by_definition(image, **kwargs)).float()
                    torch.testing.assert_close(result[index], expected, rtol=0, atol=1e-5)

    def test_loss_is_the_mean_absolute_difference_of_the_descriptors(self):
        images = _two_images()
        translated, source = images[:1], images[1:] * 500  # two different images
        for kwargs in ({}, {"radius": 2, "distance": 3}):
            with self.subTest(**kwargs):
                difference = _mind_by_definition(translated[0, 0].double().numpy(), **kwargs) - _mind_by_definition(
                    source[0, 0].double().numpy(), **kwargs
                )
                loss = MINDLoss(**kwargs)(translated, source)
                self.assertAlmostEqual(float(loss), float(np.abs(difference).mean()), delta=1e-5)

    def test_descriptor_shape_and_range(self):
        descriptor = mind_descriptor(_phantom())
        self.assertEqual(tuple(descriptor.shape), (1, 4, 32, 32))
        self.assertTrue(bool((descriptor > 0).all() and (descriptor <= 1).all()))
        torch.testing.assert_close(descriptor.amax(dim=1), torch.ones(1, 32, 32))

    def test_the_same_structures_in_another_contrast_cost_nothing(self):
        image = _phantom()
        loss = MINDLoss()
        # inverted contrast (T1 -> T2 swaps dark and bright), a linear rescaling, and a shift of the grey levels
        for other in (-image, 3 * image - 0.2, -0.5 * image + 0.4):
            self.assertLess(float(loss(other, image)), 1e-4)

    def test_moved_or_erased_structures_cost(self):
        image, loss = _phantom(), MINDLoss()
        moved = float(loss(_phantom(shift=2), image))
        erased = float(loss(torch.zeros_like(image) + 0.1 * torch.rand_like(image), image))
        self.assertGreater(moved, 0.01)
        self.assertGreater(erased, moved)
        self.assertAlmostEqual(float(loss(image, _phantom(shift=2))), moved, places=6)  # symmetric

    def test_gradient_reaches_the_translation(self):
        translation = torch.zeros(1, 1, 32, 32, requires_grad=True)
        MINDLoss()(translation + 0.01 * _phantom(shift=1), _phantom()).backward()
        self.assertGreater(float(translation.grad.abs().sum()), 0)

    def test_wrong_shape(self):
        with self.assertRaisesRegex(ValueError, r"\(N, 1, H, W\)"):
            mind_descriptor(torch.zeros(1, 2, 8, 8))


if __name__ == "__main__":
    unittest.main()
