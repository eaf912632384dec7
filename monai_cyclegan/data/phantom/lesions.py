"""Multiple-sclerosis-like white-matter lesions: where they sit, their shapes, and their share of any point.

Lesions are ovoids placed in template space, so that each subject's deformation moves and bends them with the
brain. They are drawn at the typical locations of MS lesions (Thompson et al., "Diagnosis of multiple sclerosis: 2017
revisions of the McDonald criteria", Lancet Neurol 17:162-173, 2018), from candidate sites found in the template:

* periventricular: in white matter 2-8 mm from the lateral ventricles, the long axis along the outward normal of the
  ventricle wall, like Dawson's fingers;
* juxtacortical: in white matter within 3 mm of the cortex;
* deep white matter: away from both.

A lesion replaces the white matter it covers (its fraction at a point is the ovoid's share times the white-matter
fraction there), so it never spills into grey matter or CSF. Its MR properties are in :mod:`.signal`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from monai_cyclegan.data.phantom.anatomy import COARSE_MM, template_anatomy

__all__ = ["LESION_COUNTS", "Lesion", "lesion_fraction", "lesion_sites", "sample_lesions"]

LESION_COUNTS: dict[str, tuple[int, int]] = {"periventricular": (4, 10), "juxtacortical": (2, 5), "deep": (1, 4)}
"""Smallest and largest number of lesions of each kind in one subject."""

_SHORT_SEMI_AXIS_MM = (2.0, 5.0)
_PERIVENTRICULAR_ELONGATION = (1.3, 2.5)
_OTHER_ELONGATION = (1.0, 1.6)
_PERIVENTRICULAR_MM = (2.0, 8.0)
_JUXTACORTICAL_MM = 3.0
_CORTEX_DEPTH_MM = 25.0  # grey matter deeper than this below the intracranial surface is deep grey matter
_SUPRATENTORIAL_MM = -20.0  # lesion centres lie above this MNI z: no brainstem or cerebellar lesions


@dataclass(frozen=True)
class Lesion:
    """One ovoid lesion in template space (MNI mm).

    Attributes:
        kind: ``"periventricular"``, ``"juxtacortical"`` or ``"deep"``.
        centre_mm: centre.
        semi_axes_mm: semi-axis lengths, longest first.
        axes: unit direction of each semi-axis (rows of a rotation matrix).
    """

    kind: str
    centre_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    axes: tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]


@functools.lru_cache(maxsize=1)
def lesion_sites() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Candidate lesion centres of each kind, found once in the template.

    Returns:
        Per kind, the centres (MNI mm, shape ``(N, 3)``) and the unit direction away from the nearest ventricle at
        each (the long axis of periventricular lesions).
    """
    anatomy = template_anatomy()
    wm = anatomy.coarse_wm
    ventricle_distance = ndimage.distance_transform_edt(~anatomy.ventricles) * COARSE_MM
    cortex = (anatomy.coarse_gm > 0.5) & (anatomy.intracranial.data[0] < _CORTEX_DEPTH_MM)
    cortex_distance = ndimage.distance_transform_edt(~cortex) * COARSE_MM
    z = anatomy.coarse_affine[2, 2] * np.arange(wm.shape[2]) + anatomy.coarse_affine[2, 3]
    supratentorial = (z > _SUPRATENTORIAL_MM)[None, None, :]
    low, high = _PERIVENTRICULAR_MM
    masks = {
        "periventricular": (wm > 0.8) & (low <= ventricle_distance) & (ventricle_distance <= high),
        "juxtacortical": (wm > 0.6) & (cortex_distance <= _JUXTACORTICAL_MM) & (ventricle_distance > 4 * high),
        "deep": (wm > 0.9) & (cortex_distance > 2 * _JUXTACORTICAL_MM) & (ventricle_distance > 1.5 * high),
    }
    outward = np.stack(np.gradient(ventricle_distance))
    sites = {}
    for kind, mask in masks.items():
        index = np.argwhere(mask & supratentorial)
        directions = outward[:, index[:, 0], index[:, 1], index[:, 2]].T
        directions /= np.maximum(np.linalg.norm(directions, axis=1, keepdims=True), 1e-6)
        sites[kind] = (index @ anatomy.coarse_affine[:3, :3].T + anatomy.coarse_affine[:3, 3], directions)
    return sites


def _frame(long_axis: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random rotation whose first row is ``long_axis``."""
    other = rng.normal(size=3)
    second = other - other @ long_axis * long_axis
    second /= np.linalg.norm(second)
    return np.stack([long_axis, second, np.cross(long_axis, second)])


def sample_lesions(rng: np.random.Generator) -> tuple[Lesion, ...]:
    """Draw one subject's lesions: a number of each kind in :data:`LESION_COUNTS`, each at a random candidate site.

    The short semi-axis is 2-5 mm; periventricular lesions are 1.3-2.5 times longer along the normal of the
    ventricle wall, the others up to 1.6 times longer in a random direction.
    """
    lesions = []
    for kind, (fewest, most) in LESION_COUNTS.items():
        centres, outward = lesion_sites()[kind]
        for _ in range(int(rng.integers(fewest, most + 1))):
            site = int(rng.integers(len(centres)))
            short = rng.uniform(*_SHORT_SEMI_AXIS_MM)
            if kind == "periventricular":
                long_axis, elongation = outward[site], rng.uniform(*_PERIVENTRICULAR_ELONGATION)
            else:
                direction = rng.normal(size=3)
                long_axis, elongation = direction / np.linalg.norm(direction), rng.uniform(*_OTHER_ELONGATION)
            middle = short * rng.uniform(1.0, min(elongation, 1.3))
            centre = centres[site] + rng.uniform(-COARSE_MM / 2, COARSE_MM / 2, size=3)  # anywhere in the voxel
            lesions.append(
                Lesion(
                    kind=kind,
                    centre_mm=tuple(float(c) for c in centre),
                    semi_axes_mm=(float(short * elongation), float(middle), float(short)),
                    axes=tuple(tuple(float(v) for v in row) for row in _frame(long_axis, rng)),
                )
            )
    return tuple(lesions)


def _ellipsoid_sdf(local: np.ndarray, semi_axes: np.ndarray) -> np.ndarray:
    """Approximate signed distance to an ellipsoid centred at the origin of ``local`` (positive inside).

    ``(1 - k0) k0 / k1`` with ``k0 = |p / s|`` and ``k1 = |p / s^2|``: exact along the axes and on the surface.
    """
    scaled = local / semi_axes[:, None]
    k0 = np.sqrt((scaled * scaled).sum(axis=0))
    k1 = np.sqrt(((scaled / semi_axes[:, None]) ** 2).sum(axis=0))
    radius = np.divide(k0, k1, out=np.full_like(k0, semi_axes.min()), where=k1 > 0)  # the centre: the shortest
    return (1.0 - k0) * radius


def lesion_fraction(points: np.ndarray, lesions: tuple[Lesion, ...], voxel_mm: float) -> np.ndarray:
    """Share of each point's voxel inside any lesion (a one-voxel ramp across each lesion's surface).

    Args:
        points: MNI coordinates (mm), shape ``(3, N)``.
        lesions: the subject's lesions.
        voxel_mm: voxel size in template mm.

    Returns:
        float32, shape ``(N,)``.
    """
    fraction = np.zeros(points.shape[1], dtype=np.float32)
    if not lesions:
        return fraction
    centres = np.array([lesion.centre_mm for lesion in lesions], dtype=np.float32)
    reaches = np.array([max(lesion.semi_axes_mm) for lesion in lesions], dtype=np.float32) + np.float32(voxel_mm)
    low, high = (centres - reaches[:, None]).min(axis=0), (centres + reaches[:, None]).max(axis=0)
    candidates = np.flatnonzero(np.all((low[:, None] < points) & (points < high[:, None]), axis=0))
    nearby = points[:, candidates]
    for lesion, centre, reach in zip(lesions, centres, reaches, strict=True):
        near = np.flatnonzero(np.all(np.abs(nearby - centre[:, None]) < reach, axis=0))
        local = np.asarray(lesion.axes, dtype=np.float32) @ (nearby[:, near] - centre[:, None])
        semi_axes = np.asarray(lesion.semi_axes_mm, dtype=np.float32)
        inside = np.clip(0.5 + _ellipsoid_sdf(local, semi_axes) / np.float32(voxel_mm), 0.0, 1.0)
        fraction[candidates[near]] = np.maximum(fraction[candidates[near]], inside)
    return fraction
