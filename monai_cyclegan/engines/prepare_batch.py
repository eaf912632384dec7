"""Split an unpaired A/B batch for the CycleGAN trainer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.engines.utils import PrepareBatch
from monai.utils import convert_to_tensor

__all__ = ["PrepareBatchUnpaired"]


class PrepareBatchUnpaired(PrepareBatch):
    """Return the images of domain A and domain B of a collated batch, moved to ``device``.

    Args:
        keys: the keys of the domain-A and domain-B images in the batch dictionary.
    """

    def __init__(self, keys: Sequence[str] = ("A", "B")) -> None:
        if len(keys) != 2:
            raise ValueError(f"PrepareBatchUnpaired needs exactly two keys (domain A, domain B), got {keys}.")
        self.keys = tuple(keys)

    def __call__(
        self,
        batchdata: Mapping[str, Any],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(images_a, images_b)``; extra keyword arguments go to ``Tensor.to``."""
        missing = [k for k in self.keys if k not in batchdata]
        if missing:
            raise KeyError(f"Batch has no {missing}; it holds {sorted(batchdata)}.")
        # Plain tensors: training needs no metadata, and MetaTensor bookkeeping on every operation costs time.
        a, b = (
            convert_to_tensor(batchdata[k], track_meta=False).to(device=device, non_blocking=non_blocking, **kwargs)
            for k in self.keys
        )
        return a, b
