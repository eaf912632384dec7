from __future__ import annotations

import unittest

import torch
from torch import nn

from monai_cyclegan.networks import patch_discriminator


class TestPatchDiscriminator(unittest.TestCase):
    def test_30x30_logits_at_256(self):
        logits = patch_discriminator()(torch.zeros(1, 1, 256, 256))[-1]
        self.assertEqual(logits.shape, (1, 1, 30, 30))

    def test_receptive_field_is_70(self):
        net = patch_discriminator(ndf=8)
        for m in list(net.modules()):
            if isinstance(m, nn.Conv2d):  # every path counts, so the gradient footprint is the receptive field
                nn.init.constant_(m.weight, 0.01)
            if hasattr(m, "N"):  # instance norm couples all pixels via its statistics; convolutions set the field
                m.N = nn.Identity()
        x = torch.zeros(1, 1, 256, 256, requires_grad=True)
        logits = net(x)[-1]
        logits[0, 0, 15, 15].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1))
        cols = torch.nonzero(x.grad[0, 0].abs().sum(dim=0))
        self.assertEqual(int(rows.max() - rows.min() + 1), 70)
        self.assertEqual(int(cols.max() - cols.min() + 1), 70)

    def test_instance_norm_not_batch_norm(self):
        net = patch_discriminator()
        self.assertTrue(any(isinstance(m, nn.InstanceNorm2d) for m in net.modules()))
        self.assertFalse(any(isinstance(m, nn.BatchNorm2d) for m in net.modules()))


def _largest_singular_values(network: nn.Module) -> list[float]:
    convolutions = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
    return [float(torch.linalg.matrix_norm(m.weight.flatten(1), ord=2)) for m in convolutions]


class TestSpectralNorm(unittest.TestCase):
    def test_each_convolution_is_scaled_to_a_largest_singular_value_of_one(self):
        torch.manual_seed(0)
        plain, normed = patch_discriminator(ndf=8), patch_discriminator(ndf=8, spectral_norm=True)
        x = torch.rand(2, 1, 64, 64)
        for _ in range(20):  # one power iteration per training-mode call
            normed(x)
        normed.eval()
        self.assertEqual(normed(x)[-1].shape, plain(x)[-1].shape)
        values = _largest_singular_values(normed)
        self.assertEqual(len(values), 5)
        for value in values:
            self.assertAlmostEqual(value, 1.0, delta=0.05)
        self.assertTrue(all(v < 0.8 for v in _largest_singular_values(plain)))  # N(0, 0.02) weights: far below 1
        self.assertTrue(any("parametrizations" in k for k in normed.state_dict()))

    def test_a_spectrally_normed_discriminator_learns_to_tell_real_from_fake(self):
        torch.manual_seed(0)
        d = patch_discriminator(ndf=8, spectral_norm=True)
        optimizer = torch.optim.Adam(d.parameters(), lr=2e-3, betas=(0.5, 0.999))
        coarse = torch.rand(8, 1, 4, 4) * 2 - 1
        real = torch.nn.functional.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
        fake = torch.rand(8, 1, 32, 32) * 2 - 1  # noise: the texture real images lack

        def loss() -> torch.Tensor:  # LSGAN
            return ((d(real)[-1] - 1) ** 2).mean() + (d(fake)[-1] ** 2).mean()

        first = float(loss())
        for _ in range(40):
            optimizer.zero_grad()
            value = loss()
            value.backward()
            optimizer.step()
        self.assertLess(float(loss()), 0.5 * first)


if __name__ == "__main__":
    unittest.main()
