from __future__ import annotations

import unittest

import torch
from parameterized import parameterized
from torch import nn

from monai_cyclegan.networks import PhaseConvTranspose2d, ResnetGenerator, UNetGenerator, phase_convolutions_


class TestPhaseConvTranspose2d(unittest.TestCase):
    @parameterized.expand(
        [
            # kernel, padding, output_padding, bias, input height, input width
            (4, 1, 0, False, 8, 8),  # the U-Net's up-convolution
            (3, 1, 1, False, 7, 5),  # the ResNet generator's
            (4, 1, 0, True, 1, 1),  # the U-Net's bottleneck, with a bias
            (2, 0, 0, True, 5, 6),
            (5, 2, 1, True, 4, 9),
            (3, 0, 0, False, 6, 3),  # an odd output size
            ((4, 3), (1, 0), (0, 1), True, 5, 7),  # anisotropic
        ]
    )
    def test_equals_the_transposed_convolution(self, kernel, padding, output_padding, bias, height, width):
        torch.manual_seed(0)
        conv = nn.ConvTranspose2d(3, 5, kernel, 2, padding, output_padding=output_padding, bias=bias).double()
        x = torch.randn(2, 3, height, width, dtype=torch.double)
        expected = conv(x)
        phase = PhaseConvTranspose2d.from_transposed(conv)
        out = phase(x)
        self.assertEqual(out.shape, expected.shape)
        torch.testing.assert_close(out, expected, rtol=0.0, atol=1e-12)
        with torch.no_grad():  # the kept kernel gives the same
            torch.testing.assert_close(phase(x), expected, rtol=0.0, atol=1e-12)

    def test_shares_the_parameters_and_their_gradients(self):
        torch.manual_seed(0)
        conv = nn.ConvTranspose2d(3, 4, 4, 2, 1).double()
        phase = PhaseConvTranspose2d.from_transposed(conv)
        self.assertIs(phase.weight, conv.weight)
        self.assertEqual(list(phase.state_dict()), list(conv.state_dict()))
        x = torch.randn(2, 3, 5, 5, dtype=torch.double)
        (phase(x) ** 2).sum().backward()
        from_phase = conv.weight.grad.clone(), conv.bias.grad.clone()
        conv.zero_grad()
        (conv(x) ** 2).sum().backward()
        torch.testing.assert_close(from_phase, (conv.weight.grad, conv.bias.grad), rtol=0.0, atol=1e-10)

    def test_the_kept_kernel_follows_a_change_of_the_weights(self):
        torch.manual_seed(0)
        conv = nn.ConvTranspose2d(2, 2, 4, 2, 1).double()
        phase = PhaseConvTranspose2d.from_transposed(conv)
        x = torch.randn(1, 2, 4, 4, dtype=torch.double)
        with torch.no_grad():
            phase(x)
            conv.weight.mul_(-2.0)  # as loading a checkpoint or an optimizer step would
            torch.testing.assert_close(phase(x), conv(x), rtol=0.0, atol=1e-12)
            conv.load_state_dict(nn.ConvTranspose2d(2, 2, 4, 2, 1).double().state_dict())
            torch.testing.assert_close(phase(x), conv(x), rtol=0.0, atol=1e-12)

    def test_under_autocast_the_kernel_is_kept_in_its_precision(self):
        torch.manual_seed(0)
        conv = nn.ConvTranspose2d(4, 4, 4, 2, 1)
        phase = PhaseConvTranspose2d.from_transposed(conv)
        x = torch.randn(1, 4, 6, 6)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = phase(x)
            expected = conv(x)
        self.assertEqual(phase._kept[1].dtype, torch.bfloat16)
        self.assertEqual(out.dtype, expected.dtype)
        torch.testing.assert_close(out.float(), expected.float(), rtol=0.0, atol=0.05)

    @parameterized.expand(
        [
            ("stride 3", dict(stride=3)),
            ("dilation", dict(dilation=2)),
            ("groups", dict(groups=2)),
            ("kernel 1", dict(kernel_size=1, padding=0)),
        ]
    )
    def test_refuses_what_it_cannot_express(self, _, changes):
        settings = dict(in_channels=2, out_channels=2, kernel_size=4, stride=2, padding=1) | changes
        with self.assertRaisesRegex(ValueError, "phase"):
            PhaseConvTranspose2d(**settings)
        conv = nn.ConvTranspose2d(**settings)
        network = nn.Sequential(conv)
        phase_convolutions_(network)
        self.assertIs(network[0], conv)  # left as it is


class TestPhaseConvolutions(unittest.TestCase):
    @parameterized.expand(
        [
            ("unet", lambda: UNetGenerator(image_size=32, ngf=4), 5),
            ("resnet", lambda: ResnetGenerator(ngf=4, n_blocks=1), 2),
        ]
    )
    def test_the_converted_generator_gives_the_same_output_and_state(self, _, build, transposed):
        torch.manual_seed(0)
        network = build().double().eval()
        self.assertEqual(sum(type(m) is nn.ConvTranspose2d for m in network.modules()), transposed)
        state = {k: v.clone() for k, v in network.state_dict().items()}
        x = torch.rand(2, 1, 32, 32, dtype=torch.double) * 2 - 1
        with torch.no_grad():
            expected = network(x)
            converted = phase_convolutions_(network)
            out = converted(x)
        self.assertIs(converted, network)
        self.assertEqual(sum(isinstance(m, PhaseConvTranspose2d) for m in network.modules()), transposed)
        self.assertFalse(any(type(m) is nn.ConvTranspose2d for m in network.modules()))
        self.assertFalse(any(m.training for m in network.modules()))  # eval mode carried over
        torch.testing.assert_close(out, expected, rtol=0.0, atol=1e-10)
        torch.testing.assert_close(network.state_dict(), state, rtol=0.0, atol=0.0)


if __name__ == "__main__":
    unittest.main()
