"""Pairing of T1 and T2 volumes for paired evaluation: head masks, alignment quality, rigid registration (ITK)."""

from __future__ import annotations

from monai_cyclegan.registration.masks import foreground_mask, otsu_threshold
from monai_cyclegan.registration.pairing import (
    HEADER_TOLERANCE_MM,
    MIN_DICE,
    MIN_NMI,
    PAIRING_METHODS,
    PairingResult,
    pair_dataset,
    pair_volumes,
)
from monai_cyclegan.registration.quality import (
    AlignmentQuality,
    alignment_quality,
    dice_coefficient,
    normalized_mutual_information,
)
from monai_cyclegan.registration.rigid import (
    RigidRegistration,
    bounding_box_corners,
    field_of_view_mask,
    max_displacement_mm,
    register_rigid,
    resample,
    rotation_angle_deg,
)
from monai_cyclegan.registration.volumes import (
    RAS_TO_LPS,
    Volume,
    load_volume,
    to_itk_image,
)

__all__ = [
    "HEADER_TOLERANCE_MM",
    "MIN_DICE",
    "MIN_NMI",
    "PAIRING_METHODS",
    "RAS_TO_LPS",
    "AlignmentQuality",
    "PairingResult",
    "RigidRegistration",
    "Volume",
    "alignment_quality",
    "bounding_box_corners",
    "dice_coefficient",
    "field_of_view_mask",
    "foreground_mask",
    "load_volume",
    "max_displacement_mm",
    "normalized_mutual_information",
    "otsu_threshold",
    "pair_dataset",
    "pair_volumes",
    "register_rigid",
    "resample",
    "rotation_angle_deg",
    "to_itk_image",
]
