"""Both generators as one network, so that MONAI's ``SupervisedEvaluator`` scores both directions in one pass."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BidirectionalTranslator"]


class BidirectionalTranslator(nn.Module):
    """Translate channel 0 (T1w) with ``g_ab`` and channel 1 (T2w) with ``g_ba``, and stack the results.

    A paired validation item holds ``image`` = (T1w, T2w) and ``label`` = (T2w, T1w), so the output channel ``c`` is
    scored against label channel ``c``: channel 0 is the T1w -> T2w direction, channel 1 the T2w -> T1w one.

    Args:
        g_ab: the A -> B (T1w -> T2w) generator, one channel in and out.
        g_ba: the B -> A generator.
    """

    def __init__(self, g_ab: nn.Module, g_ba: nn.Module) -> None:
        super().__init__()
        self.g_ab = g_ab
        self.g_ba = g_ba

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 2, H, W)`` in, ``(N, 2, H, W)`` out."""
        if x.ndim != 4 or x.shape[1] != 2:
            raise ValueError(f"expected (N, 2, H, W) with the two contrasts as channels, got {tuple(x.shape)}.")
        return torch.cat([self.g_ab(x[:, :1]), self.g_ba(x[:, 1:])], dim=1)
