"""The transform chains of training and inference, built from MONAI dictionary transforms.

Volumes (NIfTI): a deterministic preprocessing (load, check, channel-first, RAS, common spacing, robust scaling to
[-1, 1]), so that the model sees T1 and T2 on one grid and the inference output can be inverted back onto the input's
grid. Training then keeps the brain slab, in half precision (what the cache holds), samples axial slices, pads/crops
them to the model size and augments them.

2D image files (PNG/JPEG slices): load, one channel, bit-depth scaling to [-1, 1], fit into the model size
(invertible, so predictions go back to the original size); training then augments them.

Only the augmentations are random, so ``CacheDataset`` caches everything before them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
from monai.transforms import (
    CastToTyped,
    Compose,
    ConcatItemsd,
    CropForegroundd,
    DeleteItemsd,
    EnsureChannelFirstd,
    EnsureTyped,
    Orientationd,
    RandAdjustContrastd,
    RandFlipd,
    RandSpatialCropd,
    RandSpatialCropSamplesd,
    ResizeWithPadOrCropd,
    Spacingd,
    SplitDimd,
    SqueezeDimd,
)

from monai_cyclegan.checks import check_positive_int
from monai_cyclegan.transforms.fit import FitToSized
from monai_cyclegan.transforms.grayscale import Grayscaled, decode_pil_mode
from monai_cyclegan.transforms.intensity import BitDepthScaleIntensityd, RobustScaleIntensityd
from monai_cyclegan.transforms.io import NamedLoadImaged
from monai_cyclegan.transforms.slab import AxialSlabSelector
from monai_cyclegan.transforms.validation import ValidateVolumed

__all__ = [
    "augmentations",
    "image_file_preprocessing",
    "inference_preprocessing",
    "image_file_training_transforms",
    "model_spacing",
    "paired_validation_transforms",
    "slice_training_transforms",
    "volume_preprocessing",
]


def model_spacing(image_size: int, fov_mm: float = 256.0) -> tuple[float, float, float]:
    """Isotropic voxel size (mm) at which a ``fov_mm`` field of view fills ``image_size`` pixels.

    256 px over 256 mm gives 1 mm; a 64 px model sees the same head at 4 mm, so smaller models keep the whole head
    in view instead of a cropped centre.

    Raises:
        ValueError: when ``image_size`` is not a positive integer or ``fov_mm`` not a positive number (e.g. a string
            from a mistyped command-line override).
    """
    check_positive_int("image_size", image_size)
    if isinstance(fov_mm, bool) or not isinstance(fov_mm, numbers.Real) or not 0 < fov_mm < math.inf:
        raise ValueError(f"fov_mm must be a positive number of millimetres, got {fov_mm!r}.")
    spacing = fov_mm / image_size
    return spacing, spacing, spacing


def volume_preprocessing(
    keys: Sequence[str] = ("image",),
    image_size: int = 256,
    fov_mm: float = 256.0,
    upper_percentile: float = 99.5,
    mask_keys: Sequence[str] = (),
) -> Compose:
    """Deterministic, invertible preparation of a 3D volume: load, check, channel-first, RAS, resample, to [-1, 1].

    The check (:class:`ValidateVolumed`) stops a 2D or 4D file, an empty one or one with NaN or infinite voxels with an
    error naming it, before any of them reaches the resampling.

    Args:
        keys: keys of the NIfTI paths in the data dictionary.
        image_size: in-plane size of the model.
        fov_mm: field of view (mm) that ``image_size`` pixels cover; sets the common spacing.
        upper_percentile: foreground percentile mapped to +1 (see :class:`RobustScaleIntensityd`).
        mask_keys: keys of masks on the same grids, moved along with nearest-neighbour interpolation and not scaled.
    """
    keys, mask_keys = list(keys), list(mask_keys)
    every = keys + mask_keys
    return Compose(
        [
            NamedLoadImaged(every, reader="NibabelReader", image_only=True),
            ValidateVolumed(every),
            EnsureChannelFirstd(every),
            EnsureTyped(every, dtype="float32"),
            Orientationd(every, axcodes="RAS", labels=None),
            Spacingd(
                every,
                pixdim=model_spacing(image_size, fov_mm),
                mode=["bilinear"] * len(keys) + ["nearest"] * len(mask_keys),
            ),
            RobustScaleIntensityd(keys, upper_percentile=upper_percentile),
        ]
    )


def augmentations(
    keys: Sequence[str],
    flip_prob: float = 0.5,
    contrast_prob: float = 0.0,
    contrast_gamma: float = 1.3,
    crop_size: int | None = None,
) -> list:
    """The random augmentations of 2D training slices: an optional random crop, a left-right flip and a contrast change.

    These are the two augmentations of the original notebooks on the public slice data set. The contrast change is a
    gamma curve (``RandAdjustContrastd``, gamma drawn from ``[1 / contrast_gamma, contrast_gamma]``) between the
    image's own minimum and maximum: unlike a linear change about the mean, it keeps air at -1 and the brightest
    tissue at its level, and only reshapes the grey levels between them.

    Args:
        keys: keys of the 2D images, shape ``(1, H, W)``, axis 0 left-right.
        flip_prob: probability of a left-right flip.
        contrast_prob: probability of a contrast change.
        contrast_gamma: largest gamma (>= 1); its inverse is the smallest.
        crop_size: side of a random square crop taken first (None: the whole slice). Training on crops gives more
            optimizer steps per second at full resolution; the generator is then built for ``crop_size`` and
            applied to whole images window by window (:func:`~monai_cyclegan.bundle.translation_inferer`).
    """
    if contrast_gamma < 1:
        raise ValueError(f"contrast_gamma must be >= 1, got {contrast_gamma}.")
    keys = list(keys)
    crop = [RandSpatialCropd(keys, roi_size=(crop_size, crop_size), random_size=False)] if crop_size else []
    return [
        *crop,
        RandFlipd(keys, prob=flip_prob, spatial_axis=0),
        RandAdjustContrastd(keys, prob=contrast_prob, gamma=(1 / contrast_gamma, contrast_gamma)),
    ]


def slice_training_transforms(
    keys: Sequence[str] = ("image",),
    image_size: int = 256,
    fov_mm: float = 256.0,
    slices_per_volume: int = 1,
    flip_prob: float = 0.5,
    min_area_fraction: float = 0.25,
    mask_key: str | None = None,
    contrast_prob: float = 0.0,
    contrast_gamma: float = 1.3,
    crop_size: int | None = None,
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
        min_area_fraction: slices whose cross-section (of the mask, else of the head) is below this fraction of the
            largest are not drawn.
        mask_key: key of an optional brain or foreground mask that selects the slices instead of the head; it is
            dropped once used.
        contrast_prob: probability of a random contrast change of each slice (see :func:`augmentations`).
        contrast_gamma: largest gamma of the contrast change.
        crop_size: side of a random square crop of each slice (see :func:`augmentations`); None keeps it whole.
    """
    keys = list(keys)
    mask_keys = [mask_key] if mask_key else []
    # a mask is 0/1, so its threshold is 0.5; the scaled image's is -0.8 (10% of the [-1, 1] range)
    selector = AxialSlabSelector(threshold=0.5 if mask_key else -0.8, min_area_fraction=min_area_fraction)
    return Compose(
        [
            *volume_preprocessing(keys, image_size, fov_mm, mask_keys=mask_keys).transforms,
            # What CacheDataset keeps ends here: the head's slab at its own in-plane size, in half precision (steps of
            # at most 2^-11 on [-1, 1]), half the memory of float32. A 256 x 256 x ~115-slice float32 slab is 26.5 MiB,
            # 30 GiB for the ~1150 volumes of IXI.
            CropForegroundd(keys, source_key=mask_key or keys[0], select_fn=selector, margin=0),
            *([DeleteItemsd(mask_keys)] if mask_keys else []),
            CastToTyped(keys, dtype=torch.float16),
            RandSpatialCropSamplesd(keys, roi_size=(-1, -1, 1), num_samples=slices_per_volume, random_size=False),
            SqueezeDimd(keys, dim=3),
            CastToTyped(keys, dtype=torch.float32),
            # Pad with the background value (-1), not 0, which is mid-grey in [-1, 1].
            ResizeWithPadOrCropd(keys, spatial_size=(image_size, image_size), mode="constant", value=-1.0),
            *augmentations(keys, flip_prob, contrast_prob, contrast_gamma, crop_size),
        ]
    )


def image_file_preprocessing(keys: Sequence[str] = ("image",), image_size: int = 256) -> Compose:
    """Deterministic, invertible preparation of a 2D image file: load, one channel, scale to [-1, 1], fit to size.

    PNG/JPEG files load through PIL with axis 0 along the image width (left-right) and axis 1 along its height; RGB
    collapses to grey (:class:`Grayscaled`); grey levels scale by bit depth (:class:`BitDepthScaleIntensityd`, 8-bit
    0..255 to -1..1); :class:`FitToSized` pads (or, for images larger than ``image_size``, first shrinks) to
    ``image_size`` squared, and ``Invertd`` undoes it.

    Args:
        keys: keys of the image paths in the data dictionary.
        image_size: side of the model's square input.

    Raises:
        ValueError: when ``image_size`` is not a positive integer.
    """
    check_positive_int("image_size", image_size)
    keys = list(keys)
    return Compose(
        [
            # dtype None keeps uint8: the bit depth sets the scaling
            NamedLoadImaged(keys, reader="PILReader", image_only=True, dtype=None, converter=decode_pil_mode),
            EnsureChannelFirstd(keys),
            Grayscaled(keys),
            BitDepthScaleIntensityd(keys),
            FitToSized(keys, image_size),
        ]
    )


def image_file_training_transforms(
    keys: Sequence[str] = ("image",),
    image_size: int = 256,
    flip_prob: float = 0.5,
    contrast_prob: float = 0.0,
    contrast_gamma: float = 1.3,
    crop_size: int | None = None,
) -> Compose:
    """:func:`image_file_preprocessing` followed by the random :func:`augmentations`, for training on 2D slices."""
    return Compose(
        [
            *image_file_preprocessing(keys, image_size).transforms,
            *augmentations(keys, flip_prob, contrast_prob, contrast_gamma, crop_size),
        ]
    )


def inference_preprocessing(kind: str, image_size: int = 256, fov_mm: float = 256.0) -> Compose:
    """The invertible preprocessing of an inference input of ``kind`` ``"volume"`` or ``"slice"``.

    A volume gets :func:`volume_preprocessing`, a 2D image file :func:`image_file_preprocessing`.

    Raises:
        ValueError: for another kind.
    """
    if kind == "volume":
        return volume_preprocessing(("image",), image_size, fov_mm)
    if kind == "slice":
        return image_file_preprocessing(("image",), image_size)
    raise ValueError(f"kind must be 'volume' or 'slice', got {kind!r}.")


def paired_validation_transforms(kind: str, image_size: int = 256, fov_mm: float = 256.0) -> Compose:
    """Paired T1w/T2w items for validation during training, prepared as the model sees them in training.

    Input: ``{"t1": path, "t2": path}`` of one pair on one grid. Output: ``image`` = (T1w, T2w) and ``label`` =
    (T2w, T1w) as channels, each ``(2, image_size, image_size)`` in [-1, 1] (see
    :class:`~monai_cyclegan.networks.BidirectionalTranslator`). A 2D pair gives one item; a volume pair gives every
    axial slice of its brain slab (the slices training draws from), as a list.

    Raises:
        ValueError: for a kind other than ``"slice"`` or ``"volume"``.
    """
    keys = ["t1", "t2"]
    if kind == "slice":
        prepare = [*image_file_preprocessing(keys, image_size).transforms]
    elif kind == "volume":
        prepare = [
            *volume_preprocessing(keys, image_size, fov_mm).transforms,
            CropForegroundd(keys, source_key="t1", select_fn=AxialSlabSelector(), margin=0),
            SplitDimd(keys, dim=3, keepdim=False, list_output=True),
            ResizeWithPadOrCropd(keys, spatial_size=(image_size, image_size), mode="constant", value=-1.0),
        ]
    else:
        raise ValueError(f"kind must be 'slice' or 'volume', got {kind!r}.")
    return Compose(
        [
            *prepare,
            ConcatItemsd(keys, "image"),
            ConcatItemsd(keys[::-1], "label"),
            DeleteItemsd(keys),
            EnsureTyped(["image", "label"], track_meta=False),
        ]
    )
