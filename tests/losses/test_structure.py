from __future__ import annotations

import unittest

import torch

from monai_cyclegan.losses import MINDLoss, mind_descriptor


def _phantom(shift: int = 0) -> torch.Tensor:
    """A 32x32 image with a bright disc and a dark bar, smooth noise-free tissue boundaries."""
    y, x = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    disc = ((y - 16) ** 2 + (x - 14 - shift) ** 2 < 49).float()
    bar = ((x > 22 + shift) & (x < 26 + shift) & (y > 6) & (y < 26)).float()
    return (0.8 * disc - 0.5 * bar)[None, None]


class TestMIND(unittest.TestCase):
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
