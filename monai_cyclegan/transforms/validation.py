"""Checks of loaded volumes, so that a wrong file stops at loading with its name rather than deep in the pipeline.

A 2D NIfTI file fails in ``Orientationd`` ("Unable to find out axis 1.0 in start_ornt"); a 4D one becomes a
multi-channel image that reaches the generator ("expected input to have 1 channels, but got 2"); a NaN voxel that
resampling happens to skip vanishes silently. None of these says which file is at fault.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform

from monai_cyclegan.transforms.errors import naming_source

__all__ = ["ValidateVolume", "ValidateVolumed"]


class ValidateVolume(Transform):
    """Pass a volume through unchanged if it is one finite, non-empty 3D volume, as loaded from its file.

    The input is the array as read, before ``EnsureChannelFirst``: shape ``(X, Y, Z)``, or ``(X, Y, Z, 1)`` for a 4D
    file holding a single volume (``EnsureChannelFirst`` makes its last axis the channel).

    Raises:
        ValueError: for another number of axes (a 2D image, a 4D series), an axis of size 0, or a NaN or infinite
            voxel.
    """

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Check ``img``; see the class docstring."""
        shape = tuple(img.shape)
        if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
            raise ValueError(f"expected a 3D volume, got an array of shape {shape}.")
        if 0 in shape:
            raise ValueError(f"the volume is empty (shape {shape}).")
        data = torch.as_tensor(img)
        if data.is_floating_point() and not bool(torch.isfinite(data).all()):
            raise ValueError("the volume holds NaN or infinite voxels.")
        return img


class ValidateVolumed(MapTransform):
    """Dictionary version of :class:`ValidateVolume`; errors name the offending file when metadata has it."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.validate = ValidateVolume()

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Check every key; a failure names the source file."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = naming_source(self.validate, d[key], key)
        return d
