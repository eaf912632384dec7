from __future__ import annotations

import unittest

import torch
from torch import nn

from monai_cyclegan.losses import AdversarialLoss


class TestAdversarialLoss(unittest.TestCase):
    def test_lsgan_targets(self):
        loss = AdversarialLoss("lsgan")
        ones = torch.ones(2, 1, 30, 30)
        self.assertAlmostEqual(float(loss(ones, True)), 0.0)
        self.assertAlmostEqual(float(loss(ones, False)), 1.0)
        self.assertAlmostEqual(float(loss(torch.full((1, 1, 4, 4), 0.5), True)), 0.25)

    def test_default_is_lsgan(self):
        loss = AdversarialLoss()
        self.assertEqual(loss.gan_mode, "lsgan")
        self.assertAlmostEqual(float(loss(torch.full((1, 1, 4, 4), 0.5), False)), 0.25)
        self.assertEqual(AdversarialLoss("bce").gan_mode, "bce")

    def test_bce_on_logits(self):
        logits = torch.randn(2, 1, 8, 8)
        expected = nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        self.assertAlmostEqual(float(AdversarialLoss("bce")(logits, False)), float(expected), places=6)

    def test_patch_discriminator_list_uses_last(self):
        loss = AdversarialLoss("lsgan")
        features = [torch.full((1, 4, 8, 8), 5.0), torch.ones(1, 1, 4, 4)]
        self.assertAlmostEqual(float(loss(features, True)), 0.0)
        # MONAI's PatchDiscriminator returns every layer's features: the last one, not the second, holds the logits
        features = [torch.full((1, 4, 8, 8), 5.0), torch.full((1, 8, 4, 4), 3.0), torch.ones(1, 1, 2, 2)]
        self.assertAlmostEqual(float(loss(features, True)), 0.0)

    def test_bce_under_autocast(self):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            value = AdversarialLoss("bce")(torch.randn(1, 1, 4, 4), True)
        self.assertTrue(torch.isfinite(value))

    def test_unknown_mode(self):
        with self.assertRaisesRegex(ValueError, "gan_mode"):
            AdversarialLoss("wgan")


if __name__ == "__main__":
    unittest.main()
