"""MONAI transforms for T1/T2 volumes and 2D slices: harmonisation, scaling, fitting, 3D-to-2D slicing."""

from __future__ import annotations

from monai_cyclegan.transforms.fit import FitToSize, FitToSized
from monai_cyclegan.transforms.grayscale import Grayscale, Grayscaled
from monai_cyclegan.transforms.intensity import (
    BitDepthScaleIntensity,
    BitDepthScaleIntensityd,
    RobustScaleIntensity,
    RobustScaleIntensityd,
)
from monai_cyclegan.transforms.io import NamedLoadImaged
from monai_cyclegan.transforms.pipelines import (
    augmentations,
    image_file_preprocessing,
    image_file_training_transforms,
    inference_preprocessing,
    model_spacing,
    slice_training_transforms,
    volume_preprocessing,
)
from monai_cyclegan.transforms.slab import AxialSlabSelector

__all__ = [
    "AxialSlabSelector",
    "BitDepthScaleIntensity",
    "BitDepthScaleIntensityd",
    "FitToSize",
    "FitToSized",
    "Grayscale",
    "Grayscaled",
    "NamedLoadImaged",
    "RobustScaleIntensity",
    "RobustScaleIntensityd",
    "augmentations",
    "image_file_preprocessing",
    "image_file_training_transforms",
    "inference_preprocessing",
    "model_spacing",
    "slice_training_transforms",
    "volume_preprocessing",
]
