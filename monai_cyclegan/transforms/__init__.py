"""MONAI transforms for IXI-style T1/T2 volumes: harmonisation, scaling, 3D-to-2D slicing."""

from __future__ import annotations

from monai_cyclegan.transforms.intensity import RobustScaleIntensity, RobustScaleIntensityd
from monai_cyclegan.transforms.pipelines import model_spacing, slice_training_transforms, volume_preprocessing
from monai_cyclegan.transforms.slab import AxialSlabSelector

__all__ = [
    "AxialSlabSelector",
    "RobustScaleIntensity",
    "RobustScaleIntensityd",
    "model_spacing",
    "slice_training_transforms",
    "volume_preprocessing",
]
