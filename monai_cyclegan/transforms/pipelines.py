"""The transform chains of training and inference, built from MONAI dictionary transforms.

Both start with the same deterministic volume preprocessing (load, channel-first, RAS, common spacing, robust
scaling to [-1, 1]), so that the model sees T1 and T2 on one grid and the inference output can be inverted back onto
the input's grid. Training then keeps the brain slab, pads/crops in-plane to the model size, samples axial slices and
flips them; only these last steps are random, so ``CacheDataset`` caches everything before them.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai.transforms import (
    Compose,
    CropForegroundd,
    EnsureChannelFirstd,
    EnsureTyped,
    LoadImaged,
    Orientationd,
    RandFlipd,
    RandSpatialCropSamplesd,
    ResizeWithPadOrCropd,
    Spacingd,
    SqueezeDimd,
)

from monai_cyclegan.transforms.intensity import RobustScaleIntensityd
from monai_cyclegan.transforms.slab import AxialSlabSelector

__all__ = ["model_spacing", "slice_training_transforms", "volume_preprocessing"]


def model_spacing(image_size: int, fov_mm: float = 256.0) -> tuple[float, float, float]:
    """Isotropic voxel size (mm) at which a ``fov_mm`` field of view fills ``image_size`` pixels.

    256 px over 256 mm gives 1 mm; a 64 px model sees the same head at 4 mm, so smaller models keep the whole head
    in view instead of a cropped centre.
    """
    if image_size <= 0 or fov_mm <= 0:
        raise ValueError(f"image_size and fov_mm must be positive, got {image_size} and {fov_mm}.")
    spacing = fov_mm / image_size
    return spacing, spacing, spacing


def volume_preprocessing(
    keys: Sequence[str] = ("image",), image_size: int = 256, fov_mm: float = 256.0, upper_percentile: float = 99.5
) -> Compose:
    """Deterministic, invertible preparation of a 3D volume: load, channel-first, RAS, resample, scale to [-1, 1].

    Args:
        keys: keys of the NIfTI paths in the data dictionary.
        image_size: in-plane size of the model.
        fov_mm: field of view (mm) that ``image_size`` pixels cover; sets the common spacing.
        upper_percentile: foreground percentile mapped to +1 (see :class:`RobustScaleIntensityd`).
    """
    keys = list(keys)
    return Compose(
        [
            LoadImaged(keys, reader="NibabelReader", image_only=True),
            EnsureChannelFirstd(keys),
            EnsureTyped(keys, dtype="float32"),
            Orientationd(keys, axcodes="RAS", labels=None),
            Spacingd(keys, pixdim=model_spacing(image_size, fov_mm), mode="bilinear"),
            RobustScaleIntensityd(keys, upper_percentile=upper_percentile),
        ]
    )


def slice_training_transforms(
    keys: Sequence[str] = ("image",),
    image_size: int = 256,
    fov_mm: float = 256.0,
    slices_per_volume: int = 1,
    flip_prob: float = 0.5,
    min_area_fraction: float = 0.25,
) -> Compose:
    """Volume preprocessing followed by 3D-to-2D axial slicing and augmentation, for training.

    Output: ``slices_per_volume`` dictionaries per volume, each image of shape ``(1, image_size, image_size)``
    in [-1, 1], axis 0 left-right and axis 1 posterior-anterior (RAS).

    Args:
        keys: keys of the NIfTI paths.
        image_size: in-plane model size.
        fov_mm: field of view covered by ``image_size`` pixels.
        slices_per_volume: axial slices drawn from each loaded volume per item.
        flip_prob: probability of a left-right flip of each slice.
        min_area_fraction: slices whose head cross-section is below this fraction of the largest are not drawn.
    """
    keys = list(keys)
    return Compose(
        [
            *volume_preprocessing(keys, image_size, fov_mm).transforms,
            CropForegroundd(
                keys, source_key=keys[0], select_fn=AxialSlabSelector(min_area_fraction=min_area_fraction), margin=0
            ),
            # Pad with the background value (-1), not 0, which is mid-grey in [-1, 1].
            ResizeWithPadOrCropd(keys, spatial_size=(image_size, image_size, -1), mode="constant", value=-1.0),
            RandSpatialCropSamplesd(
                keys, roi_size=(image_size, image_size, 1), num_samples=slices_per_volume, random_size=False
            ),
            SqueezeDimd(keys, dim=3),
            RandFlipd(keys, prob=flip_prob, spatial_axis=0),
        ]
    )
