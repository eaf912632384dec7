"""A CycleGANTrainer for the engine tests: four given networks, Adam (β1 0.5) per pair, no identity loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from monai_cyclegan.engines import CycleGANTrainer, ImagePool


def adam_trainer(
    networks: Sequence[nn.Module],
    data: Sequence[dict[str, torch.Tensor]],
    lr: float,
    pools: tuple[ImagePool, ImagePool],
    **objectives: Any,
) -> CycleGANTrainer:
    """One epoch over ``data`` for ``networks`` (g_ab, g_ba, d_a, d_b), with the trainer options ``objectives``."""
    g_ab, g_ba, d_a, d_b = networks
    return CycleGANTrainer(
        device="cpu",
        max_epochs=1,
        train_data_loader=data,
        g_ab=g_ab,
        g_ba=g_ba,
        d_a=d_a,
        d_b=d_b,
        g_optimizer=torch.optim.Adam([*g_ab.parameters(), *g_ba.parameters()], lr=lr, betas=(0.5, 0.999)),
        d_optimizer=torch.optim.Adam([*d_a.parameters(), *d_b.parameters()], lr=lr, betas=(0.5, 0.999)),
        lambda_identity=0.0,
        pool_a=pools[0],
        pool_b=pools[1],
        **objectives,
    )
