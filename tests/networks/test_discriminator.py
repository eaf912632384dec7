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


if __name__ == "__main__":
    unittest.main()
