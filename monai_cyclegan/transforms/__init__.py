"""MONAI transforms for T1/T2 volumes and 2D slices: checks, harmonisation, scaling, fitting, slicing, saving."""

from __future__ import annotations

from monai_cyclegan.transforms.fit import FitToSize, FitToSized
from monai_cyclegan.transforms.grayscale import Grayscale, Grayscaled, decode_pil_mode
from monai_cyclegan.transforms.intensity import (
    BitDepthScaleIntensity,
    BitDepthScaleIntensityd,
    RobustScaleIntensity,
    RobustScaleIntensityd,
)
from monai_cyclegan.transforms.intensity_mapping import (
    HEAD_THRESHOLD,
    IntensityMapping,
    cached_intensities,
    fit_intensity_mappings,
)
from monai_cyclegan.transforms.io import AtomicSaveImage, AtomicSaveImaged, NamedLoadImaged, NiftiHeaderWriter
from monai_cyclegan.transforms.pipelines import (
    augmentations,
    image_file_preprocessing,
    image_file_training_transforms,
    inference_preprocessing,
    model_spacing,
    paired_validation_transforms,
    slice_training_transforms,
    volume_preprocessing,
)
from monai_cyclegan.transforms.slab import AxialSlabSelector
from monai_cyclegan.transforms.validation import ValidateVolume, ValidateVolumed

__all__ = [
    "HEAD_THRESHOLD",
    "IntensityMapping",
    "cached_intensities",
    "fit_intensity_mappings",
    "AtomicSaveImage",
    "AtomicSaveImaged",
    "AxialSlabSelector",
    "BitDepthScaleIntensity",
    "BitDepthScaleIntensityd",
    "FitToSize",
    "FitToSized",
    "Grayscale",
    "Grayscaled",
    "NamedLoadImaged",
    "NiftiHeaderWriter",
    "RobustScaleIntensity",
    "RobustScaleIntensityd",
    "ValidateVolume",
    "ValidateVolumed",
    "augmentations",
    "decode_pil_mode",
    "image_file_preprocessing",
    "image_file_training_transforms",
    "inference_preprocessing",
    "model_spacing",
    "paired_validation_transforms",
    "slice_training_transforms",
    "volume_preprocessing",
]
