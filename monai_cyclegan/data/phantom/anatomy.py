"""The phantom's head in template (MNI) space: tissue fractions at any point, from real anatomy.

Inside the skull the tissues come from the MNI ICBM152 2009a template (:mod:`.template`): grey and white matter are
its probability maps, which keep their partial volume, and CSF is the rest of the intracranial space (ventricles,
sulci, cisterns). The intracranial space is the template's brain mask closed by 8 mm (which fills the sulci at the
surface), dilated by 2 mm of outer CSF and smoothed; it is stored as a signed distance on a 2 mm grid. The
template's T1 image is skull-stripped, so the head outside the brain is built around that surface: a skull of
outer table, fatty marrow (diploe) and inner table, the temporal muscles at the sides, subcutaneous fat and skin, and
a neck of muscle below the skull base through which the spinal cord and its canal continue.

Every fraction is a difference of nested "inside" ramps of signed distances (one voxel wide, so partial volume
follows the voxel size), or a share of the template's probability maps, so the fractions are non-negative and sum
to one. Points are ``(3, N)`` float32 arrays of MNI coordinates in mm.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional

from monai_cyclegan.data.phantom.template import load_template_images

__all__ = [
    "COARSE_MM",
    "TISSUES",
    "TISSUE_LABELS",
    "HeadLayers",
    "SampledField",
    "TemplateAnatomy",
    "brain_maps",
    "template_anatomy",
    "tissue_fractions",
]

TISSUES = ("air", "skin", "fat", "skull", "csf", "gm", "wm", "muscle", "lesion", "marrow")
"""The tissues of :func:`tissue_fractions`, in the order of its rows."""

TISSUE_LABELS: dict[str, int] = {name: value for value, name in enumerate(TISSUES[:-1])}
"""Label of each tissue in the label maps; the marrow of the diploe is labelled skull."""

COARSE_MM = 2
"""Voxel size of the grid holding the intracranial distance and the maps derived from the template."""

# The coarse grid reaches this far beyond the template: around the head, and down into the neck, where the template's
# lowest slice (the medulla) is repeated as the spinal cord.
_PADDING_MM = {"side": 24, "top": 24, "bottom": 80}
_CLOSING_RADIUS_MM = 8.0
_OUTER_CSF_MM = 2.0
# Ventricles: template CSF inside this MNI box, in connected pieces of at least this volume.
_VENTRICLE_BOX_MM = ((-32.0, 32.0), (-50.0, 35.0), (-8.0, 38.0))
_MIN_VENTRICLE_CC = 0.5
_DIPLOE_DEPTH_SHARE = (0.3, 0.7)  # the marrow spans this part of the skull's thickness, counted from the inside
# The neck: an elliptic cylinder below the skull base (MNI mm), blended smoothly into the head. Its flat top lies
# inside the head, under the temporal lobes and the cerebellum.
_NECK_CENTRE_Y_MM = -15.0
_NECK_SEMI_AXES_MM = (50.0, 40.0)
_NECK_TOP_MM = -40.0
_NECK_BLEND_MM = 15.0
# The temporal muscles: full thickness where |x| >= 65 mm and -30 mm <= z <= 40 mm, fading over these widths.
_TEMPORALIS_X_MM = (45.0, 65.0)
_TEMPORALIS_Z_MM = (-45.0, -30.0, 40.0, 55.0)


@dataclass(frozen=True)
class SampledField:
    """Channels on an axis-aligned grid, sampled by trilinear interpolation at MNI points.

    Outside the grid the nearest border value is used. Sampling uses torch's ``grid_sample``, twice as fast on the
    CPU as scipy's ``map_coordinates``.

    Attributes:
        data: float32 array ``(channels, X, Y, Z)``.
        index_from_mni: 4x4 affine from MNI mm to (fractional) voxel indices.
    """

    data: np.ndarray
    index_from_mni: np.ndarray

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Values at ``points`` (shape ``(3, N)``): shape ``(channels, N)``, float32."""
        # grid_sample's coordinates run from -1 to 1 over the grid (align_corners) and list the last axis first.
        size = np.asarray(self.data.shape[1:], dtype=np.float64)
        to_unit = np.diag(np.append(2.0 / np.maximum(size - 1, 1), 1.0)) @ self.index_from_mni
        unit = to_unit[:3, :3].astype(np.float32) @ points + (to_unit[:3, 3:] - 1.0).astype(np.float32)
        grid = torch.from_numpy(np.ascontiguousarray(unit[::-1].T)).view(1, -1, 1, 1, 3)
        values = functional.grid_sample(
            torch.from_numpy(self.data)[None], grid, mode="bilinear", padding_mode="border", align_corners=True
        )
        return values.view(self.data.shape[0], -1).numpy()


@dataclass(frozen=True)
class HeadLayers:
    """Thickness (mm, template space) of the layers around the intracranial space.

    Attributes:
        skull_mm: skull thickness (tables and diploe).
        temporalis_mm: temporal muscle thickness at the side of the head.
        fat_mm: subcutaneous fat.
        skin_mm: skin.
    """

    skull_mm: float
    temporalis_mm: float
    fat_mm: float
    skin_mm: float


@dataclass(frozen=True)
class TemplateAnatomy:
    """The template-derived maps the phantom samples.

    Attributes:
        brain: grey- (channel 0) and white-matter (channel 1) probability at the template's 1 mm.
        intracranial: signed distance (mm, positive inside) to the intracranial surface, on the coarse grid.
        coarse_gm: grey-matter probability on the coarse grid.
        coarse_wm: white-matter probability on the coarse grid.
        ventricles: the lateral and third ventricles (bool) on the coarse grid.
    """

    brain: SampledField
    intracranial: SampledField
    coarse_gm: np.ndarray
    coarse_wm: np.ndarray
    ventricles: np.ndarray

    @property
    def coarse_affine(self) -> np.ndarray:
        """Voxel-to-MNI affine of the coarse grid."""
        return np.linalg.inv(self.intracranial.index_from_mni)


def _block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor``-cubed blocks, the array zero-padded at the end of each axis to a multiple of ``factor``."""
    padded = np.pad(array, [(0, -size % factor) for size in array.shape])
    shape = [size // factor for size in padded.shape]
    blocks = padded.reshape(shape[0], factor, shape[1], factor, shape[2], factor)
    return blocks.mean(axis=(1, 3, 5), dtype=np.float32)


def _reduced_index_from_mni(affine: np.ndarray, factor: int) -> np.ndarray:
    """MNI-to-index affine of a grid reduced by ``factor`` blocks from the grid of voxel-to-MNI ``affine``."""
    reduce = np.diag([1.0 / factor] * 3 + [1.0])
    reduce[:3, 3] = -(factor - 1) / (2.0 * factor)
    return reduce @ np.linalg.inv(affine)


def _ball(radius_voxels: float) -> np.ndarray:
    r = int(radius_voxels)
    return np.sum(np.mgrid[-r : r + 1, -r : r + 1, -r : r + 1] ** 2, axis=0) <= radius_voxels**2


def _signed_distance(inside: np.ndarray, spacing_mm: float) -> np.ndarray:
    """Signed distance (mm, positive inside) to the boundary of a mask, halfway between the voxel centres."""
    distance = np.where(
        inside,
        ndimage.distance_transform_edt(inside) - 0.5,
        0.5 - ndimage.distance_transform_edt(~inside),
    )
    return (distance * spacing_mm).astype(np.float32)


def _intracranial_mask(brain: np.ndarray) -> np.ndarray:
    """The intracranial space on the coarse grid from the coarse brain fraction: closed, filled, dilated, smoothed."""
    closing = _ball(_CLOSING_RADIUS_MM / COARSE_MM)
    margin = closing.shape[0]
    closed = ndimage.binary_closing(np.pad(brain > 0.5, margin), closing)[
        margin:-margin, margin:-margin, margin:-margin
    ]
    filled = ndimage.binary_fill_holes(closed)
    dilated = ndimage.binary_dilation(filled, _ball(_OUTER_CSF_MM / COARSE_MM))
    return ndimage.gaussian_filter(dilated.astype(np.float32), 1.0) > 0.5


def _ventricle_mask(csf: np.ndarray, coarse_affine: np.ndarray) -> np.ndarray:
    """The ventricles: large connected pieces of CSF inside the central box."""
    coordinates = [
        coarse_affine[axis, axis] * np.arange(n) + coarse_affine[axis, 3] for axis, n in enumerate(csf.shape)
    ]
    in_box = [(low < c) & (c < high) for c, (low, high) in zip(coordinates, _VENTRICLE_BOX_MM, strict=True)]
    candidate = (csf > 0.5) & in_box[0][:, None, None] & in_box[1][None, :, None] & in_box[2][None, None, :]
    pieces, count = ndimage.label(candidate)
    sizes_cc = ndimage.sum(candidate, pieces, range(1, count + 1)) * COARSE_MM**3 / 1000.0
    return np.isin(pieces, 1 + np.flatnonzero(sizes_cc >= _MIN_VENTRICLE_CC))


def _pad_coarse(array: np.ndarray) -> np.ndarray:
    """A coarse template map, padded with zeros around the head and, below it, with its lowest slice (the medulla).

    The repeated lowest slice continues the brainstem as the spinal cord down the neck.
    """
    side, top, bottom = (_PADDING_MM[key] // COARSE_MM for key in ("side", "top", "bottom"))
    around = np.pad(array, [(side, side), (side, side), (0, top)])
    return np.pad(around, [(0, 0), (0, 0), (bottom, 0)], mode="edge")


@functools.lru_cache(maxsize=1)
def template_anatomy() -> TemplateAnatomy:
    """Build the template-derived maps once per process (about two seconds)."""
    images = load_template_images()
    coarse = {key: _pad_coarse(_block_mean(getattr(images, key), COARSE_MM)) for key in ("brain", "gm", "wm")}
    index_from_mni = _reduced_index_from_mni(images.affine, COARSE_MM)
    index_from_mni[:3, 3] += [_PADDING_MM[key] // COARSE_MM for key in ("side", "side", "bottom")]
    coarse_affine = np.linalg.inv(index_from_mni)
    csf = np.clip(coarse["brain"] - coarse["gm"] - coarse["wm"], 0.0, 1.0)
    intracranial = _signed_distance(_intracranial_mask(coarse["brain"]), COARSE_MM)
    return TemplateAnatomy(
        brain=SampledField(np.stack([images.gm, images.wm]), np.linalg.inv(images.affine)),
        intracranial=SampledField(ndimage.gaussian_filter(intracranial, 0.7)[None], index_from_mni),
        coarse_gm=coarse["gm"],
        coarse_wm=coarse["wm"],
        ventricles=_ventricle_mask(csf, coarse_affine),
    )


@functools.lru_cache(maxsize=4)
def _reduced_brain(factor: int) -> SampledField:
    brain = template_anatomy().brain
    if factor == 1:
        return brain
    affine = np.linalg.inv(brain.index_from_mni)
    return SampledField(
        np.stack([_block_mean(channel, factor) for channel in brain.data]), _reduced_index_from_mni(affine, factor)
    )


def brain_maps(voxel_mm: float) -> SampledField:
    """The grey- and white-matter maps averaged over blocks of about ``voxel_mm`` (anti-aliasing for coarse grids)."""
    return _reduced_brain(max(1, round(voxel_mm)))


def _ramp(sdf: np.ndarray, voxel_mm: float) -> np.ndarray:
    """Fraction of a voxel inside a surface, from the signed distance of its centre (a one-voxel box-filter ramp)."""
    return np.clip(0.5 + sdf / np.float32(voxel_mm), 0.0, 1.0)


def _smooth_max(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray:
    """Maximum of two signed distances, rounded over ``width`` mm (a smooth union of the two shapes)."""
    blend = np.maximum(width - np.abs(a - b), 0.0) / width
    return np.maximum(a, b) + blend * blend * (width / 4.0)


def _neck_sdf(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Approximate signed distance to the neck cylinder (exact on its side surface)."""
    a, b = _NECK_SEMI_AXES_MM
    radius = np.sqrt((x / a) ** 2 + ((y - _NECK_CENTRE_Y_MM) / b) ** 2)
    return np.minimum((1.0 - radius) * min(a, b), _NECK_TOP_MM - z)


def _temporalis_share(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Share (0 to 1) of the full temporal-muscle thickness at each point."""
    low, high = _TEMPORALIS_X_MM
    lateral = np.clip((np.abs(x) - low) / (high - low), 0.0, 1.0)
    bottom, full_low, full_high, top = _TEMPORALIS_Z_MM
    vertical = np.clip(np.minimum((z - bottom) / (full_low - bottom), (top - z) / (top - full_high)), 0.0, 1.0)
    return lateral * vertical


def tissue_fractions(
    points: np.ndarray, layers: HeadLayers, voxel_mm: float, lesion: np.ndarray | None = None
) -> np.ndarray:
    """Partial-volume fraction of every tissue of :data:`TISSUES` at template points.

    Args:
        points: MNI coordinates (mm), shape ``(3, N)``, float32.
        layers: the subject's layer thicknesses.
        voxel_mm: voxel size in template mm (the width of the partial-volume ramps and of the map averaging).
        lesion: fraction of each point inside a lesion (:func:`.lesions.lesion_fraction`); the lesion replaces
            that share of the white matter there.

    Returns:
        float32, shape ``(len(TISSUES), N)``.
    """
    anatomy = template_anatomy()
    x, y, z = points
    inner = anatomy.intracranial.sample(points)[0]
    skull = np.float32(layers.skull_mm)
    outer = inner + skull + layers.temporalis_mm * _temporalis_share(x, z) + (layers.fat_mm + layers.skin_mm)
    depth = _smooth_max(outer, _neck_sdf(x, y, z), _NECK_BLEND_MM)

    head = _ramp(depth, voxel_mm)
    below_skin = _ramp(depth - layers.skin_mm, voxel_mm)
    below_fat = _ramp(depth - (layers.skin_mm + layers.fat_mm), voxel_mm)
    cavity = _ramp(inner, voxel_mm)
    bone_or_cavity = np.maximum(np.minimum(_ramp(inner + skull, voxel_mm), below_fat), cavity)
    below_marrow, below_outer_table = (_ramp(inner + share * skull, voxel_mm) for share in _DIPLOE_DEPTH_SHARE)
    marrow = np.maximum(np.minimum(below_outer_table, bone_or_cavity) - np.maximum(below_marrow, cavity), 0.0)

    gm, wm = np.zeros((2, x.size), dtype=np.float32)
    brain_points = cavity > 0
    gm[brain_points], wm[brain_points] = brain_maps(voxel_mm).sample(points[:, brain_points])
    # The maps are probabilities; scale them down where they would exceed the intracranial space.
    scale = cavity / np.maximum(gm + wm, np.maximum(cavity, np.float32(1e-6)))
    gm *= scale
    wm *= scale
    lesion = np.zeros_like(wm) if lesion is None else lesion * wm
    fractions = {
        "air": 1.0 - head,
        "skin": head - below_skin,
        "fat": below_skin - below_fat,
        "skull": bone_or_cavity - cavity - marrow,
        "csf": np.maximum(cavity - gm - wm, 0.0),
        "gm": gm,
        "wm": wm - lesion,
        "muscle": below_fat - bone_or_cavity,
        "lesion": lesion,
        "marrow": marrow,
    }
    return np.stack([fractions[name] for name in TISSUES]).astype(np.float32, copy=False)
