"""The U-Net generator of pix2pix/CycleGAN, with its depth derived from the image size.

MONAI's ``UNet`` uses residual units and normalises every level, including the bottleneck; the classic design needs a
1x1 bottleneck without normalisation (instance norm over a single pixel is undefined), so the network is written here.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from monai_cyclegan.checks import check_positive_int
from monai_cyclegan.networks.init import init_weights

__all__ = ["UNetGenerator", "unet_depth"]


def unet_depth(image_size: int) -> int:
    """Number of stride-2 downsamplings that take ``image_size`` to a 1x1 bottleneck.

    Args:
        image_size: side length of the square input; a power of two of at least 8.

    Raises:
        ValueError: when ``image_size`` is not an integer, not a power of two or smaller than 8.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral):
        raise ValueError(f"image_size must be an integer, got {image_size!r}.")
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"U-Net generator needs a power-of-two image size >= 8, got {image_size}.")
    return int(math.log2(image_size))


class _SkipBlock(nn.Module):
    """One U-Net level: down-convolution, the inner levels, up-convolution, and the skip concatenation."""

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        submodule: nn.Module | None = None,
        in_channels: int | None = None,
        outermost: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_channels = outer_channels if in_channels is None else in_channels
        innermost = submodule is None
        # A bias is redundant right before instance norm; only the outermost down-convolution is not followed by one.
        down_conv = nn.Conv2d(in_channels, inner_channels, kernel_size=4, stride=2, padding=1, bias=outermost)
        up_in = inner_channels if innermost else inner_channels * 2
        if outermost:
            down = [down_conv]
            up = [
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_channels, kernel_size=4, stride=2, padding=1),
                nn.Tanh(),
            ]
        elif innermost:
            # The 1x1 bottleneck: no normalisation on it (a single pixel has no instance statistics).
            down = [nn.LeakyReLU(0.2, True), nn.Conv2d(in_channels, inner_channels, 4, 2, 1)]
            up = [
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_channels, kernel_size=4, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(outer_channels),
            ]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, nn.InstanceNorm2d(inner_channels)]
            up = [
                nn.ReLU(True),
                nn.ConvTranspose2d(up_in, outer_channels, kernel_size=4, stride=2, padding=1, bias=False),
                nn.InstanceNorm2d(outer_channels),
            ]
            if dropout > 0:
                up.append(nn.Dropout(dropout))
        middle = [] if submodule is None else [submodule]
        self.model = nn.Sequential(*down, *middle, *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], dim=1)


class UNetGenerator(nn.Module):
    """U-Net generator (pix2pix/CycleGAN ``unet_256``) for square 2D images with values in [-1, 1].

    The encoder halves the image ``log2(image_size)`` times, down to a 1x1 bottleneck with ``min(ngf * 8, max)``
    channels; the decoder mirrors it with skip connections. Instance norm everywhere except the first down-convolution
    and the bottleneck; Tanh output; weights from N(0, 0.02).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        image_size: side length of the (square) input; a power of two >= 8. 256 gives the classic 8-level network.
        ngf: channels of the first level; deeper levels double it up to ``ngf * 8``.
        dropout: dropout probability in the inner decoder levels (0 as in CycleGAN).

    Raises:
        ValueError: for an ``image_size`` that :func:`unet_depth` refuses, or an ``ngf`` that is not a positive
            integer.
    """

    def __init__(
        self, in_channels: int = 1, out_channels: int = 1, image_size: int = 256, ngf: int = 64, dropout: float = 0.0
    ) -> None:
        super().__init__()
        depth = unet_depth(image_size)
        check_positive_int("ngf", ngf)
        self.image_size = image_size
        # Channels per level, outermost first: ngf, 2ngf, 4ngf, 8ngf, 8ngf, ... (classic schedule).
        channels = [ngf * min(2**level, 8) for level in range(depth)]
        block: nn.Module | None = None
        for level in range(depth - 1, 0, -1):
            block = _SkipBlock(
                channels[level - 1],
                channels[level],
                submodule=block,
                dropout=dropout if level >= 4 and block is not None else 0.0,
            )
        self.model = _SkipBlock(out_channels, channels[0], submodule=block, in_channels=in_channels, outermost=True)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate a batch ``(N, in_channels, S, S)`` into ``(N, out_channels, S, S)``."""
        # written so that TorchScript can compile it (ckpt_export): no tuple of a shape slice
        height, width = x.shape[-2], x.shape[-1]
        if height != self.image_size or width != self.image_size:
            raise ValueError(
                f"UNetGenerator built for {self.image_size}x{self.image_size} inputs got {height}x{width}."
            )
        return self.model(x)
