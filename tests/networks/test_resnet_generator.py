from __future__ import annotations

import unittest

import torch
from parameterized import parameterized

from monai_cyclegan.networks import ResnetGenerator
from monai_cyclegan.networks.resnet_generator import _ResidualBlock


class TestResnetGenerator(unittest.TestCase):
    @parameterized.expand([(64,), (128,), (256,)])
    def test_shape(self, size):
        net = ResnetGenerator(ngf=4, n_blocks=2)
        with torch.no_grad():
            y = net(torch.rand(1, 1, size, size) * 2 - 1)
        self.assertEqual(y.shape, (1, 1, size, size))
        self.assertLessEqual(float(y.abs().max()), 1.0)

    def test_default_has_nine_blocks(self):
        net = ResnetGenerator()
        self.assertEqual(sum(isinstance(m, _ResidualBlock) for m in net.modules()), 9)
        self.assertAlmostEqual(sum(p.numel() for p in net.parameters()) / 1e6, 11.4, delta=0.1)

    def test_size_not_divisible_by_4(self):
        with self.assertRaisesRegex(ValueError, "divisible by 4"):
            ResnetGenerator(ngf=4, n_blocks=1)(torch.zeros(1, 1, 66, 64))


if __name__ == "__main__":
    unittest.main()
