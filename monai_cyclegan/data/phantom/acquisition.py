"""How the phantom is acquired: IXI's image grids, the receiver gain, a coil bias field and Rician noise.

The T1w volume is written on IXI's sagittal T1 grid (150 x 256 x 256 voxels of 1.2 x 0.94 x 0.94 mm) and the T2w
volume on IXI's axial T2 grid (256 x 256 x 130 of 0.94 x 0.94 x 1.25 mm), each with its own affine, so that the
reorientation and resampling code meets the geometry of real IXI data; the paired ground truth shares one 1 mm RAS
grid. Every grid is axis-aligned with its central voxel at the world origin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GridSpec",
    "bias_field",
    "grid_points",
    "phantom_grids",
    "rician",
    "sample_receiver",
    "validated_scale",
]

# Nominal (scale 1.0) grids: shape, spacing (mm) and nibabel orientation codes of the voxel axes.
_NOMINAL_GRIDS: dict[str, tuple[tuple[int, int, int], tuple[float, float, float], tuple[str, str, str]]] = {
    "t1": ((150, 256, 256), (1.2, 0.9375, 0.9375), ("L", "S", "P")),  # sagittal slices
    "t2": ((256, 256, 130), (0.9375, 0.9375, 1.25), ("L", "P", "S")),  # axial slices
    "paired": ((180, 216, 180), (1.0, 1.0, 1.0), ("R", "A", "S")),  # MNI-like common grid
}
_AXIS_DIRECTIONS: dict[str, tuple[int, int]] = {
    "R": (0, 1),
    "L": (0, -1),
    "A": (1, 1),
    "P": (1, -1),
    "S": (2, 1),
    "I": (2, -1),
}
# Receiver gain, as the noiseless white-matter intensity, and noise level relative to it, per contrast.
_WM_LEVEL = {"t1": (700.0, 1000.0), "t2": (250.0, 380.0)}
_NOISE_FRACTION = (0.02, 0.03)
_BIAS_LINEAR, _BIAS_QUADRATIC = 0.15, 0.12  # coefficient bounds per decimetre and per square decimetre


@dataclass(frozen=True)
class GridSpec:
    """An axis-aligned image grid whose central voxel sits at the world origin.

    Attributes:
        shape: number of voxels along each array axis.
        spacing_mm: voxel size along each array axis.
        axcodes: nibabel orientation code of each array axis (the world direction it increases towards).
    """

    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    axcodes: tuple[str, str, str]

    @property
    def affine(self) -> np.ndarray:
        """Voxel-to-world (RAS, mm) affine, diagonal up to a permutation and signs."""
        linear = np.zeros((3, 3))
        for axis, (code, spacing) in enumerate(zip(self.axcodes, self.spacing_mm, strict=True)):
            world_axis, sign = _AXIS_DIRECTIONS[code]
            linear[world_axis, axis] = sign * spacing
        affine = np.eye(4)
        affine[:3, :3] = linear
        affine[:3, 3] = -linear @ ((np.asarray(self.shape) - 1) / 2.0)
        return affine

    @property
    def voxel_mm(self) -> float:
        """Effective (geometric mean) voxel size, the width of the partial-volume ramp."""
        return float(np.prod(self.spacing_mm) ** (1.0 / 3.0))

    def half_extent_mm(self) -> np.ndarray:
        """Half of the field of view along the world x, y and z axes."""
        extent = np.zeros(3)
        for code, size, spacing in zip(self.axcodes, self.shape, self.spacing_mm, strict=True):
            extent[_AXIS_DIRECTIONS[code][0]] = size * spacing / 2.0
        return extent


def validated_scale(scale: float) -> float:
    """``scale`` as a float, or a ValueError."""
    try:
        value = float(scale)
    except (TypeError, ValueError) as error:
        raise ValueError(f"scale must be a positive number, got {scale!r}") from error
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return value


def phantom_grids(scale: float = 1.0) -> dict[str, GridSpec]:
    """The three grids the phantom is written on, keyed ``"t1"``, ``"t2"`` and ``"paired"``.

    Shapes are ``round(nominal_shape * scale)`` and spacings ``nominal_spacing / scale``.

    Args:
        scale: resolution factor; 1.0 gives IXI's grids, 0.5 about 2 mm voxels.

    Returns:
        The grid specifications.
    """
    scale = validated_scale(scale)
    return {
        name: GridSpec(
            shape=tuple(max(1, round(size * scale)) for size in shape),
            spacing_mm=tuple(spacing / scale for spacing in spacings),
            axcodes=codes,
        )
        for name, (shape, spacings, codes) in _NOMINAL_GRIDS.items()
    }


def grid_points(grid: GridSpec, rows: slice) -> np.ndarray:
    """World coordinates of the voxel centres in ``rows`` of array axis 0, flattened: shape ``(3, N)``, float32."""
    i = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None, None]
    j = np.arange(grid.shape[1], dtype=np.float32)[None, :, None]
    k = np.arange(grid.shape[2], dtype=np.float32)[None, None, :]
    t = grid.affine.astype(np.float32)
    return np.stack([(t[c, 0] * i + t[c, 1] * j + t[c, 2] * k + t[c, 3]).reshape(-1) for c in range(3)])


def sample_receiver(rng: np.random.Generator) -> dict[str, dict[str, float | tuple[float, ...]]]:
    """Draw one subject's receiver chain per contrast: bias-field coefficients, white-matter level, noise fraction.

    Returns:
        ``{"bias_coefficients": {contrast: (9 floats)}, "wm_level": {contrast: float},
        "noise_fraction": {contrast: float}}``.
    """
    receiver: dict[str, dict[str, float | tuple[float, ...]]] = {
        "bias_coefficients": {},
        "wm_level": {},
        "noise_fraction": {},
    }
    for contrast, wm_range in _WM_LEVEL.items():
        linear = rng.uniform(-_BIAS_LINEAR, _BIAS_LINEAR, size=3)
        quadratic = rng.uniform(-_BIAS_QUADRATIC, _BIAS_QUADRATIC, size=6)
        receiver["bias_coefficients"][contrast] = tuple(float(c) for c in np.concatenate([linear, quadratic]))
        receiver["wm_level"][contrast] = float(rng.uniform(*wm_range))
        receiver["noise_fraction"][contrast] = float(rng.uniform(*_NOISE_FRACTION))
    return receiver


def bias_field(world: np.ndarray, coefficients: Sequence[float]) -> np.ndarray:
    """Smooth multiplicative receive-coil bias: exp of a second-order polynomial in world coordinates (dm)."""
    x, y, z = world / np.float32(100.0)
    terms = (x, y, z, x * x, y * y, z * z, x * y, y * z, x * z)
    return np.exp(sum(np.float32(coef) * term for coef, term in zip(coefficients, terms, strict=True)))


def rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise of standard deviation ``sigma``, rounded to int16."""
    real = signal + np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary = np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.rint(np.hypot(real, imaginary, out=real), out=real)
    return np.clip(magnitude, 0, np.iinfo(np.int16).max, out=magnitude).astype(np.int16)
