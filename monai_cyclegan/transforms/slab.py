"""Selection of the axial slab that contains brain, for MONAI's ``CropForegroundd``."""

from __future__ import annotations

import torch
from monai.config import NdarrayOrTensor

__all__ = ["AxialSlabSelector"]


class AxialSlabSelector:
    """``select_fn`` for ``CropForegroundd`` that keeps the axial slices with a substantial head cross-section.

    A slice counts when its foreground area (voxels above ``threshold``) reaches ``min_area_fraction`` of the largest
    slice's; the returned mask marks whole slices, so ``CropForegroundd`` crops only along the slice axis, from the
    first to the last slice that counts. This drops the caps of the skull and the empty slices around the head, whose
    translation teaches the model nothing. A picklable class, so it works in DataLoader worker processes.

    Args:
        threshold: foreground threshold, in the units of the (already scaled) image; -0.8 is 10% of the [-1, 1] range.
        min_area_fraction: minimum foreground area of a kept slice relative to the largest slice.
        axis: spatial axis across slices (2 is superior-inferior once the volume is in RAS).
    """

    def __init__(self, threshold: float = -0.8, min_area_fraction: float = 0.25, axis: int = 2) -> None:
        if not 0 <= min_area_fraction <= 1:
            raise ValueError(f"min_area_fraction must be in [0, 1], got {min_area_fraction}.")
        self.threshold = threshold
        self.min_area_fraction = min_area_fraction
        self.axis = axis

    def __call__(self, img: NdarrayOrTensor) -> torch.Tensor:
        """Boolean mask of ``img``'s shape ``(C, *spatial)``, true on every voxel of the kept slices."""
        foreground = torch.as_tensor(img) > self.threshold
        slice_dim = self.axis + 1  # after the channel dimension
        other_dims = [d for d in range(foreground.ndim) if d != slice_dim]
        area = foreground.sum(dim=other_dims)
        keep = area >= max(1, self.min_area_fraction * int(area.max()))
        shape = [1] * foreground.ndim
        shape[slice_dim] = -1
        return keep.reshape(shape).expand_as(foreground)
