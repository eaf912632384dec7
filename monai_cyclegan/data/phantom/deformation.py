"""Each subject's own brain: the map from scanner (world) coordinates to the template.

A world point ``w`` (mm, RAS) is taken to template space in four steps:

1. the inverse of the head pose, ``h = R^T (w - t)`` (rotation ``R``, translation ``t``);
2. the inverse of the head's size, ``m = h / s + c``, with per-axis size factors ``s`` about the template point ``c``
   that the pose places at the world origin (the centre of the intracranial space left-right and front-back, and
   high enough that the top of the head fits IXI's axial field of view);
3. a smooth random deformation from MONAI's ``Rand3DElastic``, applied to the identity map on a 4 mm grid, so that its
   output at each grid point is the template point that the point takes its anatomy from;
4. the enlargement of the ventricles: a displacement, of up to ``ventricle_expansion_mm`` at the ventricle walls,
   along the gradient of the smoothed ventricle mask, so that points near a ventricle take their anatomy from
   deeper inside it.

Steps 3 and 4 are composed once per subject on the 4 mm grid; each voxel then costs one trilinear interpolation.
The map is smooth and one-to-one (its Jacobian determinant stays positive), so the topology of the template is kept.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from monai.transforms import Rand3DElastic
from scipy import ndimage

from monai_cyclegan.data.phantom.anatomy import COARSE_MM, SampledField, template_anatomy

__all__ = [
    "ELASTIC_MAGNITUDE_RANGE",
    "ELASTIC_SIGMA_RANGE",
    "ElasticDeformation",
    "SubjectMap",
    "head_centre",
    "intracranial_bounds",
    "intracranial_reach",
    "rotation_matrix",
]

ELASTIC_GRID_MM = 4.0
"""Spacing of the grid on which the deformation is built."""
ELASTIC_SIGMA_RANGE = (4.0, 5.0)
"""Smoothness of the random deformation, in grid voxels (16-20 mm): ``Rand3DElastic``'s ``sigma_range``."""
ELASTIC_MAGNITUDE_RANGE = (25.0, 45.0)
"""``Rand3DElastic``'s ``magnitude_range``: displacements of about 1.5-3 mm RMS and up to 5-9 mm over the head."""

_VENTRICLE_SIGMA_MM = 6.0
# The intracranial surface below this (MNI z) is left out of the field-of-view checks: the cerebellum and the spinal
# canal reach neither the sides nor the top of a field of view.
_SURFACE_BOTTOM_MM = -40.0
# Where the top of the intracranial space lies in world z at size 1, below the top of IXI's 162.5 mm axial field of
# view (81 mm) by the scalp's thickness and a margin.
_INTRACRANIAL_TOP_WORLD_MM = 55.0


@dataclass(frozen=True)
class ElasticDeformation:
    """The random deformation of one subject: ``Rand3DElastic`` with fixed sigma and magnitude, seeded.

    Attributes:
        seed: the random state of the transform (its random offsets).
        sigma: Gaussian smoothing of the offsets, in grid voxels.
        magnitude: scaling of the smoothed offsets.
    """

    seed: int
    sigma: float
    magnitude: float


def rotation_matrix(rotation_deg: Sequence[float]) -> np.ndarray:
    """Rotation ``Rz @ Ry @ Rx`` from angles (degrees) about the x, y and z axes."""
    ax, ay, az = np.radians(rotation_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@functools.lru_cache(maxsize=1)
def _intracranial_surface() -> np.ndarray:
    """Points (MNI mm, shape ``(N, 3)``) on the intracranial surface above the cerebellum."""
    anatomy = template_anatomy()
    sdf = anatomy.intracranial.data[0]
    points = np.argwhere(np.abs(sdf) < COARSE_MM / 2) @ anatomy.coarse_affine[:3, :3].T + anatomy.coarse_affine[:3, 3]
    return points[points[:, 2] > _SURFACE_BOTTOM_MM]


def intracranial_bounds() -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest MNI coordinates of the intracranial surface above the cerebellum."""
    surface = _intracranial_surface()
    return surface.min(axis=0), surface.max(axis=0)


def head_centre() -> np.ndarray:
    """The template point (MNI mm) that the pose places at the world origin."""
    low, high = intracranial_bounds()
    return np.array([0.0, (low[1] + high[1]) / 2.0, high[2] - _INTRACRANIAL_TOP_WORLD_MM])


def intracranial_reach(rotation_deg: Sequence[float], size_factors: Sequence[float]) -> np.ndarray:
    """Furthest extent of the posed intracranial surface from the world origin: ``|x|``, ``|y|`` and top ``z``."""
    posed = (_intracranial_surface() - head_centre()) * np.asarray(size_factors) @ rotation_matrix(rotation_deg).T
    return np.array([np.abs(posed[:, 0]).max(), np.abs(posed[:, 1]).max(), posed[:, 2].max()])


@functools.lru_cache(maxsize=1)
def _ventricle_push() -> SampledField:
    """Unit-peak displacement towards the ventricles, on the coarse grid.

    It is the gradient of the smoothed ventricle mask divided by its largest norm.
    """
    anatomy = template_anatomy()
    smoothed = ndimage.gaussian_filter(anatomy.ventricles.astype(np.float32), _VENTRICLE_SIGMA_MM / COARSE_MM)
    gradient = np.stack(np.gradient(smoothed, float(COARSE_MM)))
    gradient /= np.linalg.norm(gradient, axis=0).max()
    return SampledField(gradient.astype(np.float32), anatomy.intracranial.index_from_mni)


class SubjectMap:
    """The map from world coordinates to template coordinates of one subject.

    Args:
        size_factors: head size along the head's x, y and z axes, relative to the template.
        rotation_deg: head rotation about the world x, y and z axes.
        translation_mm: head translation.
        elastic: the random deformation.
        ventricle_expansion_mm: how far the ventricle walls move outwards.
    """

    def __init__(
        self,
        size_factors: Sequence[float],
        rotation_deg: Sequence[float],
        translation_mm: Sequence[float],
        elastic: ElasticDeformation,
        ventricle_expansion_mm: float,
    ) -> None:
        rotation = rotation_matrix(rotation_deg)
        head_from_world = np.eye(4)
        head_from_world[:3, :3] = np.diag(1.0 / np.asarray(size_factors)) @ rotation.T
        head_from_world[:3, 3] = head_centre() - head_from_world[:3, :3] @ np.asarray(translation_mm)
        self.head_from_world = head_from_world
        self.field = self._composed_field(elastic, ventricle_expansion_mm)

    @staticmethod
    def _composed_field(elastic: ElasticDeformation, ventricle_expansion_mm: float) -> SampledField:
        """Template point of every node of a 4 mm grid over the coarse template grid: elastic, then ventricles."""
        anatomy = template_anatomy()
        coarse_shape = np.array(anatomy.intracranial.data.shape[1:])
        origin = anatomy.coarse_affine[:3, 3]
        shape = np.ceil((coarse_shape - 1) * COARSE_MM / ELASTIC_GRID_MM).astype(int) + 1
        axes = [origin[axis] + ELASTIC_GRID_MM * np.arange(n, dtype=np.float32) for axis, n in enumerate(shape)]
        identity = np.stack(np.meshgrid(*axes, indexing="ij"))
        transform = Rand3DElastic(
            sigma_range=(elastic.sigma, elastic.sigma),
            magnitude_range=(elastic.magnitude, elastic.magnitude),
            prob=1.0,
            mode="bilinear",
            padding_mode="border",
        )
        transform.set_random_state(seed=elastic.seed)
        deformed = np.asarray(transform(torch.from_numpy(identity)), dtype=np.float32)
        flat = deformed.reshape(3, -1)
        flat += np.float32(ventricle_expansion_mm) * _ventricle_push().sample(flat)
        index_from_mni = np.diag([1.0 / ELASTIC_GRID_MM] * 3 + [1.0])
        index_from_mni[:3, 3] = -origin / ELASTIC_GRID_MM
        return SampledField(deformed, index_from_mni)

    def head_points(self, world: np.ndarray) -> np.ndarray:
        """Template points before the deformation (steps 1 and 2), shape ``(3, N)`` like ``world``."""
        linear = self.head_from_world[:3, :3].astype(np.float32)
        return linear @ world + self.head_from_world[:3, 3:].astype(np.float32)

    def template_points(self, head: np.ndarray) -> np.ndarray:
        """Template points of :meth:`head_points` output, after the deformation (steps 3 and 4)."""
        return self.field.sample(head)
