"""Fit 2D images of any size into the model's square input, invertibly."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import InvertibleTransform, MapTransform, Resize, ResizeWithPadOrCrop

from monai_cyclegan.checks import check_positive_int

__all__ = ["FitToSize", "FitToSized"]


class FitToSize(InvertibleTransform):
    """Shrink an image whose longest side exceeds ``size`` (keeping its aspect ratio), then pad it to ``size``.

    An image that already fits is only padded, so its pixels reach the model untouched (the public 181x217 slices
    in a 256 model); a larger one is shrunk with area averaging. Both steps are MONAI transforms recorded in the
    image's ``applied_operations``, so :meth:`inverse` (and ``Invertd``) brings a prediction back to the original size.

    Args:
        size: side of the square output.
        pad_value: value of the padding; -1 is air once images are scaled to [-1, 1].
    """

    def __init__(self, size: int, pad_value: float = -1.0) -> None:
        check_positive_int("size", size)
        self.size = size
        self.shrink = Resize(size, size_mode="longest", mode="area")
        self.pad = ResizeWithPadOrCrop((size, size), mode="constant", value=pad_value)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        """Fit ``img`` of shape ``(C, H, W)`` into ``(C, size, size)``.

        Raises:
            ValueError: for another number of dimensions, an image with no pixel, or one so elongated that its shorter
                side would shrink to nothing.
        """
        if img.ndim != 3:
            raise ValueError(f"expected a channel-first 2D image (C, H, W), got shape {tuple(img.shape)}.")
        if 0 in img.shape[1:]:
            raise ValueError(f"the image has no pixel (shape {tuple(img.shape)}).")
        longest = max(img.shape[1:])
        if longest > self.size:
            if round(min(img.shape[1:]) * (self.size / longest)) == 0:  # as Resize(size_mode="longest") rounds
                raise ValueError(
                    f"an image of shape {tuple(img.shape)} is too elongated to fit into {self.size}x{self.size}: its "
                    "shorter side would shrink to 0 pixels."
                )
            img = self.shrink(img)
        return self.pad(img)

    def inverse(self, data: torch.Tensor) -> torch.Tensor:
        """Undo the padding, then the shrinking if it was applied."""
        data = self.pad.inverse(data)
        operations = getattr(data, "applied_operations", [])
        if operations and operations[-1].get("id") == id(self.shrink):
            data = self.shrink.inverse(data)
        return data


class FitToSized(MapTransform, InvertibleTransform):
    """Dictionary version of :class:`FitToSize`."""

    def __init__(
        self, keys: KeysCollection, size: int, pad_value: float = -1.0, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.fit = FitToSize(size, pad_value)

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Fit every key."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.fit(d[key])
        return d

    def inverse(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        """Bring every key back to its original size."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.fit.inverse(d[key])
        return d
