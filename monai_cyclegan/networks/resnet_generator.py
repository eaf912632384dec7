"""The ResNet generator of CycleGAN (``resnet_9blocks``); MONAI has no equivalent."""

from __future__ import annotations

import torch
from torch import nn

from monai_cyclegan.networks.init import init_weights

__all__ = ["UPSAMPLING", "ResnetGenerator"]

UPSAMPLING = ("transpose", "resize")
"""How the generator doubles its resolution: a stride-2 transposed convolution (CycleGAN's), or nearest-neighbour
resizing followed by a 3x3 convolution, which cannot produce the checkerboard of uneven kernel overlap (Odena et al.,
Distill 2016)."""


class _ResidualBlock(nn.Module):
    """Two reflection-padded 3x3 convolutions with instance norm, added to the input."""

    def __init__(self, channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=False),
            nn.InstanceNorm2d(channels),
            nn.ReLU(True),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=False),
            nn.InstanceNorm2d(channels),
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """CycleGAN ResNet generator: 7x7 stem, two stride-2 downsamplings, residual blocks, two upsamplings, Tanh.

    Works for any image size divisible by 4. Instance norm, reflection padding, weights from N(0, 0.02).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        ngf: channels of the stem; the bottleneck has ``4 * ngf``.
        n_blocks: number of residual blocks (9 for 256x256 images in the paper, 6 for 128x128).
        dropout: dropout probability inside the residual blocks (0 as in CycleGAN).
        upsampling: one of :data:`UPSAMPLING`.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        ngf: int = 64,
        n_blocks: int = 9,
        dropout: float = 0.0,
        upsampling: str = "transpose",
    ) -> None:
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}.")
        if upsampling not in UPSAMPLING:
            raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}.")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, kernel_size=7, bias=False),
            nn.InstanceNorm2d(ngf),
            nn.ReLU(True),
        ]
        channels = ngf
        for _ in range(2):
            layers += [
                nn.Conv2d(channels, channels * 2, kernel_size=3, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(channels * 2),
                nn.ReLU(True),
            ]
            channels *= 2
        layers += [_ResidualBlock(channels, dropout) for _ in range(n_blocks)]
        for _ in range(2):
            if upsampling == "transpose":
                layers.append(
                    nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1, bias=False)
                )
            else:
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(channels, channels // 2, 3, padding=1, padding_mode="reflect", bias=False),
                ]
            layers += [
                nn.InstanceNorm2d(channels // 2),
                nn.ReLU(True),
            ]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch ``(N, in_channels, H, W)`` with H and W divisible by 4."""
        height, width = x.shape[-2], x.shape[-1]  # no tuple of a shape slice, which TorchScript cannot compile
        if height % 4 or width % 4:
            raise ValueError(f"ResnetGenerator needs H and W divisible by 4, got {height}x{width}.")
        return self.model(x)
