"""A known rigid motion, for registration tests."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["rigid_motion"]


def rigid_motion(rotation_deg: tuple[float, float, float], translation_mm: tuple[float, float, float]) -> np.ndarray:
    """4x4 RAS motion: rotations about x, then y, then z (degrees), then a translation (mm)."""
    motion = np.eye(4)
    for axis, degrees in enumerate(rotation_deg):
        angle = math.radians(degrees)
        i, j = [k for k in range(3) if k != axis]
        rotation = np.eye(4)
        rotation[[i, i, j, j], [i, j, i, j]] = [math.cos(angle), -math.sin(angle), math.sin(angle), math.cos(angle)]
        motion = rotation @ motion
    motion[:3, 3] = translation_mm
    return motion
