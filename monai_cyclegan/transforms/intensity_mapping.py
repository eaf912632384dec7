"""A fixed, non-learned T1w <-> T2w translation from the two contrasts' intensity histograms alone.

T1w and T2w roughly invert each other's tissue order (CSF dark in one, bright in the other), so mapping the inverted
source intensities, quantile for quantile, onto the target contrast's intensities already gives a plausible image: the
intensity-mapping baseline of the evaluation. Fitted on the two domains' *unpaired* training images, it is a prior an
unpaired model may use (a warm start or an anchor for its intensities) without ever seeing a pair.
"""

from __future__ import annotations

import torch
from monai.data import CacheDataset
from torch import nn

__all__ = ["HEAD_THRESHOLD", "IntensityMapping", "cached_intensities", "fit_intensity_mappings"]

HEAD_THRESHOLD = -0.9
"""Head/air threshold in the model's [-1, 1] range: 5% of the range, below the darkest tissue (CSF in T1w)."""


class IntensityMapping(nn.Module):
    """Monotone mapping of inverted source intensities onto target intensities, quantile for quantile.

    Works in the model's [-1, 1] range, with air at -1. Voxels above ``threshold`` (the head) get the target
    quantile of their inverted source quantile; voxels below ramp linearly from -1 (air stays air) to the mapped value
    at the threshold, so the mapping is continuous. A module with buffers, so it moves with ``.to(device)``.

    Args:
        source: intensities of the source contrast inside the head (any number, any order).
        target: intensities of the target contrast inside the head.
        threshold: head/air threshold in [-1, 1].
        quantiles: resolution of the quantile tables.

    Raises:
        ValueError: for empty intensity sets or a threshold outside (-1, 1).
    """

    def __init__(
        self, source: torch.Tensor, target: torch.Tensor, threshold: float = HEAD_THRESHOLD, quantiles: int = 1024
    ) -> None:
        super().__init__()
        if source.numel() == 0 or target.numel() == 0:
            raise ValueError("an intensity mapping needs source and target intensities.")
        if not -1 < threshold < 1:
            raise ValueError(f"threshold must lie in (-1, 1), got {threshold}.")
        levels = torch.linspace(0, 1, quantiles)
        # quantiles of the *inverted* source (ascending), each paired with the same quantile of the target
        self.register_buffer("source_levels", _quantiles(-source.float().flatten(), levels))
        self.register_buffer("target_levels", _quantiles(target.float().flatten(), levels))
        self.threshold = threshold

    def _lookup(self, inverted: torch.Tensor) -> torch.Tensor:
        """Piecewise-linear interpolation of the quantile tables at ``inverted`` source values."""
        xs, ys = self.source_levels, self.target_levels
        upper = torch.searchsorted(xs, inverted.contiguous()).clamp(1, xs.numel() - 1)
        x0, x1, y0, y1 = xs[upper - 1], xs[upper], ys[upper - 1], ys[upper]
        weight = ((inverted - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0, 1)
        return y0 + weight * (y1 - y0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """The mapped image, of ``image``'s shape, in [-1, 1]."""
        image = image.float()
        mapped = self._lookup(-image)
        at_threshold = self._lookup(torch.full_like(image, -self.threshold))
        ramp = -1 + (at_threshold + 1) * ((image + 1) / (self.threshold + 1)).clamp(0, 1)
        return torch.where(image > self.threshold, mapped, ramp)


def _quantiles(values: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """``values``' quantiles at ``levels`` (sorting, not ``torch.quantile``, which refuses more than 16 M values)."""
    ordered = values.sort().values
    index = (levels * (ordered.numel() - 1)).round().long()
    return ordered[index]


def cached_intensities(
    dataset: CacheDataset, key: str = "image", volumes: int = 16, threshold: float = HEAD_THRESHOLD
) -> torch.Tensor:
    """Head intensities (above ``threshold``) of up to ``volumes`` evenly spaced images of a filled ``CacheDataset``.

    The cache holds the deterministic preprocessing of each image (for volumes, the whole brain slab), so reading it
    costs no loading and leaves the random transforms of training, and their seeded streams, untouched. MONAI's
    ``CacheDataset`` has no public accessor for its cache, hence ``_cache``.

    Raises:
        ValueError: when nothing is cached (``cache_rate`` 0) or no image holds a value above ``threshold``.
    """
    cache = [item for item in getattr(dataset, "_cache", []) if isinstance(item, dict)]
    if not cache:
        raise ValueError("the dataset has no cached images (cache_rate 0?); an intensity mapping needs them.")
    step = max(1, len(cache) // volumes)
    values = [torch.as_tensor(item[key]).float().flatten() for item in cache[::step][:volumes]]
    pooled = torch.cat([v[v > threshold] for v in values])
    if pooled.numel() == 0:
        raise ValueError(f"no cached image holds an intensity above {threshold}; cannot fit an intensity mapping.")
    return pooled


def fit_intensity_mappings(
    dataset_a: CacheDataset, dataset_b: CacheDataset, threshold: float = HEAD_THRESHOLD
) -> tuple[IntensityMapping, IntensityMapping]:
    """The A -> B and B -> A :class:`IntensityMapping` of two domains' (unpaired) cached training images."""
    a, b = cached_intensities(dataset_a, threshold=threshold), cached_intensities(dataset_b, threshold=threshold)
    return IntensityMapping(a, b, threshold), IntensityMapping(b, a, threshold)
