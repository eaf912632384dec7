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

    def test_resize_upsampling_has_no_transposed_convolution_and_keeps_the_default_keys(self):
        resize = ResnetGenerator(ngf=4, n_blocks=1, upsampling="resize")
        self.assertFalse(any(isinstance(m, torch.nn.ConvTranspose2d) for m in resize.modules()))
        self.assertEqual(sum(isinstance(m, torch.nn.Upsample) for m in resize.modules()), 2)
        with torch.no_grad():
            self.assertEqual(resize(torch.zeros(2, 1, 40, 48)).shape, (2, 1, 40, 48))
        # the default stays CycleGAN's, so existing weights keep loading
        transpose = ResnetGenerator(ngf=4, n_blocks=1)
        self.assertEqual(sum(isinstance(m, torch.nn.ConvTranspose2d) for m in transpose.modules()), 2)
        transpose.load_state_dict(ResnetGenerator(ngf=4, n_blocks=1, upsampling="transpose").state_dict())
        with self.assertRaisesRegex(ValueError, "upsampling must be one of"):
            ResnetGenerator(upsampling="bicubic")

    def test_size_not_divisible_by_4(self):
        with self.assertRaisesRegex(ValueError, "divisible by 4"):
            ResnetGenerator(ngf=4, n_blocks=1)(torch.zeros(1, 1, 66, 64))


if __name__ == "__main__":
    unittest.main()
