"""Intensity scaling: robust per-volume scaling of MR volumes, and fixed bit-depth scaling of 2D image files.

MONAI's ``ScaleIntensityRangePercentiles`` takes percentiles over every voxel. In a head MRI most voxels are air, so the
percentiles track the field of view rather than the tissue; and its lower bound would map dark tissue (CSF in T1w) onto
the background value. This transform keeps 0 (air) at the lower bound and takes the upper bound from the foreground.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection, NdarrayOrTensor
from monai.transforms import MapTransform, ScaleIntensityRange, Transform
from monai.transforms.utils_pytorch_numpy_unification import percentile
from monai.utils import convert_data_type

from monai_cyclegan.transforms.errors import naming_source

__all__ = ["BitDepthScaleIntensity", "BitDepthScaleIntensityd", "RobustScaleIntensity", "RobustScaleIntensityd"]


def _numeric(img: NdarrayOrTensor) -> NdarrayOrTensor:
    """``img`` as float32 if it is boolean (MONAI's intensity transforms cannot subtract booleans), else unchanged."""
    if torch.as_tensor(img[:0]).dtype == torch.bool:
        return convert_data_type(img, dtype=torch.float32)[0]
    return img


class RobustScaleIntensity(Transform):
    """Map ``[0, p_upper(foreground)]`` linearly to ``[b_min, b_max]``, clipping outside.

    The foreground is every voxel above ``foreground_fraction`` times the 99th percentile of the whole volume (which
    excludes air and its noise floor); ``p_upper`` is its ``upper_percentile``-th percentile, robust to a few very
    bright voxels (vessels, fat, artefacts) where a max-based scaling is not.

    Args:
        upper_percentile: percentile of the foreground mapped to ``b_max``.
        foreground_fraction: foreground threshold as a fraction of the volume's 99th percentile.
        b_min: output value of intensity 0 (air).
        b_max: output value of the upper percentile.

    Raises:
        ValueError: at call time, for an empty volume, or one with non-finite values or no foreground (e.g. all zero).
    """

    def __init__(
        self,
        upper_percentile: float = 99.5,
        foreground_fraction: float = 0.1,
        b_min: float = -1.0,
        b_max: float = 1.0,
    ) -> None:
        if not 0 < upper_percentile <= 100:
            raise ValueError(f"upper_percentile must be in (0, 100], got {upper_percentile}.")
        self.upper_percentile = upper_percentile
        self.foreground_fraction = foreground_fraction
        self.b_min = b_min
        self.b_max = b_max

    def upper_bound(self, img: NdarrayOrTensor) -> float:
        """The intensity that maps to ``b_max``."""
        data = torch.as_tensor(img, dtype=torch.float32).flatten()
        if data.numel() == 0:
            raise ValueError(f"image is empty (shape {tuple(img.shape)}).")
        if not bool(torch.isfinite(data).all()):
            raise ValueError("image contains NaN or Inf values.")
        threshold = self.foreground_fraction * float(percentile(data, 99))
        foreground = data[data > threshold]
        if threshold <= 0 or foreground.numel() == 0:
            raise ValueError("image has no foreground (it is empty or constant), so it cannot be scaled.")
        return float(percentile(foreground, self.upper_percentile))

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Scale ``img``; see the class docstring."""
        upper = self.upper_bound(img)
        return ScaleIntensityRange(a_min=0.0, a_max=upper, b_min=self.b_min, b_max=self.b_max, clip=True)(_numeric(img))


class RobustScaleIntensityd(MapTransform):
    """Dictionary version of :class:`RobustScaleIntensity`; errors name the offending file when metadata has it."""

    def __init__(
        self,
        keys: KeysCollection,
        upper_percentile: float = 99.5,
        foreground_fraction: float = 0.1,
        b_min: float = -1.0,
        b_max: float = 1.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.scaler = RobustScaleIntensity(upper_percentile, foreground_fraction, b_min, b_max)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Scale every key; a failure names the source file."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = naming_source(self.scaler, d[key], key)
        return d


class BitDepthScaleIntensity(Transform):
    """Map the full range of an image file's bit depth linearly to ``[b_min, b_max]``.

    2D slices exported as PNG or JPEG are already windowed for display: their grey levels mean the same in every file,
    so they are scaled by the file format's range, not per image (8-bit: value / 255). 8-bit images arrive as uint8;
    PIL hands 16-bit PNGs over as int32, so any other integer type is read as 16-bit (value / 65535). 1-bit PNGs
    arrive as booleans (true is white); float images must already lie in [0, 1].

    Args:
        b_min: output value of 0.
        b_max: output value of the bit depth's maximum.

    Raises:
        ValueError: at call time, for an empty image, or values outside the range of the assumed bit depth.
    """

    def __init__(self, b_min: float = -1.0, b_max: float = 1.0) -> None:
        self.b_min = b_min
        self.b_max = b_max

    @staticmethod
    def full_scale(img: NdarrayOrTensor) -> float:
        """The value that maps to ``b_max``: 255 for uint8, 65535 for other integers, 1 for floats and booleans."""
        dtype = torch.as_tensor(img[:0]).dtype
        if dtype == torch.uint8:
            return 255.0
        return 1.0 if dtype.is_floating_point or dtype == torch.bool else 65535.0

    def __call__(self, img: NdarrayOrTensor) -> NdarrayOrTensor:
        """Scale ``img`` to float32 in ``[b_min, b_max]``; see the class docstring."""
        full_scale = self.full_scale(img)
        img = _numeric(img)
        data = torch.as_tensor(img)
        if data.numel() == 0:
            raise ValueError(f"image is empty (shape {tuple(data.shape)}).")
        low, high = float(data.min()), float(data.max())
        if not (low >= 0 and high <= full_scale):  # also catches NaN
            raise ValueError(
                f"values span [{low}, {high}], outside [0, {full_scale:g}] of a {data.dtype} image "
                "(expected 8-bit, 16-bit or [0, 1] float grey levels)."
            )
        return ScaleIntensityRange(
            a_min=0.0, a_max=full_scale, b_min=self.b_min, b_max=self.b_max, dtype=torch.float32
        )(img)


class BitDepthScaleIntensityd(MapTransform):
    """Dictionary version of :class:`BitDepthScaleIntensity`; errors name the offending file when metadata has it."""

    def __init__(
        self, keys: KeysCollection, b_min: float = -1.0, b_max: float = 1.0, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.scaler = BitDepthScaleIntensity(b_min, b_max)

    def __call__(self, data: Mapping[Hashable, NdarrayOrTensor]) -> dict[Hashable, NdarrayOrTensor]:
        """Scale every key; a failure names the source file."""
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = naming_source(self.scaler, d[key], key)
        return d
