from __future__ import annotations

import unittest

import torch
from parameterized import parameterized
from torch import nn

from monai_cyclegan.networks import UNetGenerator, unet_depth


class TestUNetGenerator(unittest.TestCase):
    @parameterized.expand([(64, 6), (128, 7), (256, 8)])
    def test_shape_and_depth(self, size, depth):
        self.assertEqual(unet_depth(size), depth)
        net = UNetGenerator(image_size=size, ngf=8)
        x = torch.rand(2, 1, size, size) * 2 - 1
        with torch.no_grad():
            y = net(x)
        self.assertEqual(y.shape, (2, 1, size, size))
        self.assertLessEqual(float(y.abs().max()), 1.0)  # Tanh output

    def test_bottleneck_is_1x1_without_norm(self):
        net = UNetGenerator(image_size=64, ngf=8)
        shapes = []
        convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
        hook = convs[-1].register_forward_hook(lambda m, i, o: shapes.append(o.shape))
        net(torch.zeros(1, 1, 64, 64))
        hook.remove()
        self.assertEqual(shapes[0][-2:], (1, 1))
        self.assertEqual(shapes[0][1], 64)  # ngf * 8
        # Training mode with batch 1 would raise if instance norm saw the 1x1 map.
        net.train()
        net(torch.zeros(1, 1, 64, 64)).sum().backward()

    def test_classic_unet256_parameter_count(self):
        net = UNetGenerator(image_size=256, ngf=64)
        self.assertAlmostEqual(sum(p.numel() for p in net.parameters()) / 1e6, 54.4, delta=0.1)

    def test_weights_initialised_from_n0_002(self):
        net = UNetGenerator(image_size=64, ngf=32)
        weights = torch.cat(
            [m.weight.detach().flatten() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        )
        self.assertAlmostEqual(float(weights.std()), 0.02, delta=0.002)
        self.assertAlmostEqual(float(weights.mean()), 0.0, delta=0.001)

    @parameterized.expand([(100,), (4,)])
    def test_invalid_size(self, size):
        with self.assertRaisesRegex(ValueError, "power-of-two"):
            UNetGenerator(image_size=size)

    @parameterized.expand(
        [
            ({"image_size": "abc"}, "image_size must be an integer, got 'abc'"),
            ({"image_size": 64.0}, "image_size must be an integer"),
            ({"ngf": "abc"}, "ngf must be a positive integer, got 'abc'"),
            ({"ngf": 0}, "ngf must be a positive integer"),
            ({"ngf": True}, "ngf must be a positive integer"),
        ]
    )
    def test_mistyped_settings_are_named(self, settings, message):
        """What a mistyped bundle override (``--ngf abc``) reaches the generator with."""
        with self.assertRaisesRegex(ValueError, message):
            UNetGenerator(**{"image_size": 32, **settings})

    def test_wrong_input_size(self):
        with self.assertRaisesRegex(ValueError, "64x64"):
            UNetGenerator(image_size=64, ngf=4)(torch.zeros(1, 1, 32, 32))


if __name__ == "__main__":
    unittest.main()
