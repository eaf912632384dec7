"""Structure consistency between an image and its translation, independent of their contrasts (MIND descriptors).

A T1w->T2w translation must move tissue intensities but keep every edge and fold where it is. Comparing the images
themselves cannot check that, since the contrasts differ (CSF dark in one, bright in the other). The modality
independent neighbourhood descriptor (MIND; Heinrich et al., Medical Image Analysis 16(7), 2012) describes each pixel
by how similar its small patch is to the patches next to it, normalised by the local variance: the same in any
contrast where the same structures appear. Structure-constrained CycleGAN (Yang et al., DLMIA 2018) adds the L1
distance between the MIND of the input and that of the output to the generator loss. MONAI has no MIND; it is written
here in a few convolutions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional

__all__ = ["MINDLoss", "mind_descriptor"]

# The four direct neighbours (2D): right, left, down, up, each as a (dy, dx) shift.
_SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def _shifted(image: torch.Tensor, dy: int, dx: int, distance: int) -> torch.Tensor:
    """``image`` moved by ``distance * (dy, dx)`` pixels, with replicated borders (no structure made up at the edge)."""
    d = distance
    padded = functional.pad(image, (d, d, d, d), mode="replicate")
    height, width = image.shape[-2:]
    return padded[..., d + dy * d : d + dy * d + height, d + dx * d : d + dx * d + width]


def mind_descriptor(image: torch.Tensor, radius: int = 1, distance: int = 2, epsilon: float = 1e-6) -> torch.Tensor:
    """The MIND descriptor of a batch of 2D images, one channel per neighbour.

    For each of the four neighbours at ``distance`` pixels, the patch distance ``D`` is the mean squared difference
    between the image and its shifted copy over a ``(2 * radius + 1)``-pixel box; the descriptor is
    ``exp(-D / V)``, with ``V`` the mean of the four distances (the local variance estimate, kept above ``epsilon``
    and a small fraction of its image mean so that flat regions stay defined), normalised so that each pixel's
    largest entry is 1.

    Args:
        image: ``(N, 1, H, W)``.
        radius: half-size of the patch.
        distance: how far the neighbours lie.
        epsilon: floor of the variance estimate.

    Returns:
        ``(N, 4, H, W)`` in (0, 1].

    Raises:
        ValueError: for an input that is not ``(N, 1, H, W)``.
    """
    if image.ndim != 4 or image.shape[1] != 1:
        raise ValueError(f"MIND needs a batch of one-channel 2D images (N, 1, H, W), got {tuple(image.shape)}.")
    image = image.float()
    size = 2 * radius + 1
    distances = torch.cat(
        [
            functional.avg_pool2d(
                (image - _shifted(image, dy, dx, distance)) ** 2, size, 1, radius, count_include_pad=False
            )
            for dy, dx in _SHIFTS
        ],
        dim=1,
    )
    variance = distances.mean(dim=1, keepdim=True)
    floor = 1e-3 * variance.mean(dim=(2, 3), keepdim=True) + epsilon
    descriptor = torch.exp(-distances / variance.clamp_min(0).add(floor))
    return descriptor / descriptor.amax(dim=1, keepdim=True)


class MINDLoss(nn.Module):
    """L1 distance between the MIND descriptors of a translation and of its input.

    Zero when the translation has the input's structures, whatever their contrast; it grows when an edge moves,
    blurs or appears. Symmetric in its arguments.

    Args:
        radius: patch half-size of :func:`mind_descriptor`.
        distance: neighbour distance of :func:`mind_descriptor`.
    """

    def __init__(self, radius: int = 1, distance: int = 2) -> None:
        super().__init__()
        self.radius = radius
        self.distance = distance

    def forward(self, translated: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """Mean absolute difference of the two images' MIND descriptors."""
        return (
            (
                mind_descriptor(translated, self.radius, self.distance)
                - mind_descriptor(source, self.radius, self.distance)
            )
            .abs()
            .mean()
        )
