"""Collapse colour images to one channel (MONAI has no RGB-to-grayscale transform)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, Transform
from monai.utils import convert_to_tensor

from monai_cyclegan.transforms.errors import naming_source

__all__ = ["Grayscale", "Grayscaled", "decode_pil_mode"]

# ITU-R BT.601 luma weights, the ones PIL's convert("L") uses.
_LUMA = (0.299, 0.587, 0.114)


# PIL modes whose pixel values are not intensities or RGB, and what they decode to
_DECODED_MODES = {"P": "RGB", "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "1": "L"}


def decode_pil_mode(image: Any) -> Any:
    """A ``PILReader`` converter: palette, CMYK, YCbCr, LAB, HSV and 1-bit images as RGB(A) or 8-bit grey.

    MONAI's reader returns a PIL image's raw values, which for these modes are not intensities: a palette image gives
    its palette indices (an adaptive palette can map black to index 255) and a CMYK JPEG its ink amounts. Grey, 16-bit,
    float, RGB and RGBA images pass unchanged, so bit-depth scaling still sees their depth.
    """
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        return image.convert("RGBA")
    return image.convert(_DECODED_MODES[mode]) if mode in _DECODED_MODES else image


class Grayscale(Transform):
    """One-channel version of a channel-first 2D image.

    One channel passes unchanged; two channels (grey + alpha) keep the grey one; three or four channels (RGB, RGBA)
    give the BT.601 luma of RGB, alpha dropped. The output keeps the input's metadata and dtype (integer images are
    rounded).

    Raises:
        ValueError: for any other number of channels.
    """

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Collapse ``img`` of shape ``(C, *spatial)`` to ``(1, *spatial)``."""
        channels = img.shape[0]
        if channels == 1:
            return img
        if channels == 2:
            return img[:1]
        if channels not in (3, 4):
            raise ValueError(f"expected a grey, grey+alpha, RGB or RGBA image, got {channels} channels.")
        image = convert_to_tensor(img, track_meta=True)
        rgb = image[:3].float()
        weights = torch.tensor(_LUMA, dtype=rgb.dtype).reshape(3, *([1] * (rgb.ndim - 1)))
        grey = (rgb * weights).sum(dim=0, keepdim=True)
        # integer input: round like PIL does and keep the dtype, so an RGB copy of a grey image gives back exactly its
        # grey image and bit-depth scaling still sees the range
        return (grey if image.is_floating_point() else grey.round()).to(image.dtype)


class Grayscaled(MapTransform):
    """Dictionary version of :class:`Grayscale`; errors name the offending file when metadata has it."""

    def __init__(self, keys: KeysCollection, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.grayscale = Grayscale()

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Collapse every key to one channel."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = naming_source(self.grayscale, d[key], key)
        return d
