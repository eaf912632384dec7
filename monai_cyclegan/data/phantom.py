"""Procedural digital head phantom written as a small IXI-like T1w/T2w data set.

The phantom is the project's embedded default data set: nothing is downloaded. Every subject is a continuous
anatomical model (scalp, fat, skull with diploe, CSF, folded cortex, white matter, ventricles, deep grey nuclei,
brainstem, muscle below the skull base) with its own random size, shape, pose, ventricle size and cortical folding.
The model is sampled at the voxel centres of three grids -- a sagittal T1w acquisition, an axial T2w acquisition and a
common RAS "paired" grid -- and turned into MR images with closed-form signal equations, a smooth bias field and
Rician noise.

The volume computation is single-threaded numpy on flat float32 arrays. Torch's intra-op threads were tried and were
up to 20x slower on a 2-core machine shared with other processes (thread barriers stall on every elementwise op), and
the global thread setting is not ours to change.

Relaxation times are literature values at 1.5 T (IXI was acquired mostly on 1.5 T Philips scanners):

* white / grey matter: Stanisz et al., "T1, T2 relaxation and magnetization transfer in tissue at 3T",
  Magn Reson Med 54:507-512 (2005), 1.5 T table: WM 884 / 72 ms, GM 1124 / 95 ms;
* subcutaneous fat and skeletal muscle: de Bazelaire et al., "MR imaging relaxation times of abdominal and pelvic
  tissues measured in vivo at 3.0 T", Radiology 230:652-659 (2004), 1.5 T values: fat 343 / 58 ms,
  muscle 1008 / 44 ms;
* CSF: T1 about 4 s (e.g. Rooney et al., Magn Reson Med 57:308-318 (2007)), T2 about 2 s;
* cortical bone: very low visible proton density and T2* well below 1 ms (e.g. Reichert et al.,
  Magn Reson Imaging 23:611-618 (2005));
* scalp skin: no single in-vivo 1.5 T reference is used; muscle-like values are assumed.

See ``docs/phantom.md`` for the model, the sequence choices and the measured timings.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from monai_cyclegan.files import save_volume, write_json

__all__ = [
    "PHANTOM_VERSION",
    "TISSUE_LABELS",
    "TISSUE_PROPERTIES",
    "T1W_SEQUENCE",
    "T2W_SEQUENCE",
    "GridSpec",
    "InversionPreparedGRE",
    "SimulatedSubject",
    "SpinEcho",
    "SubjectParameters",
    "TissueProperties",
    "ensure_phantom_dataset",
    "inversion_prepared_gre_signal",
    "load_phantom_manifest",
    "phantom_grids",
    "sample_subject_parameters",
    "simulate_subject",
    "spin_echo_signal",
    "spoiled_gre_signal",
    "subject_id",
    "tissue_signals",
    "write_phantom_dataset",
]

PHANTOM_VERSION = 1
"""Bumped whenever the generated images change, so that :func:`ensure_phantom_dataset` regenerates old sets."""

TISSUE_LABELS: dict[str, int] = {"air": 0, "skin": 1, "fat": 2, "skull": 3, "csf": 4, "gm": 5, "wm": 6, "muscle": 7}


@dataclass(frozen=True)
class TissueProperties:
    """MR properties of one tissue at 1.5 T.

    Attributes:
        proton_density: visible proton density relative to CSF.
        t1_ms: longitudinal relaxation time.
        t2_ms: transverse relaxation time (also used as T2* for the short-TE gradient echo).
        tse_t2_ms: apparent T2 on a turbo spin echo when it differs from ``t2_ms`` (fat: J-coupling is broken up
            by the closely spaced refocusing pulses, so fat stays bright on TSE).
    """

    proton_density: float
    t1_ms: float
    t2_ms: float
    tse_t2_ms: float | None = None


TISSUE_PROPERTIES: dict[str, TissueProperties] = {
    "air": TissueProperties(0.0, 1.0, 1.0),
    "skin": TissueProperties(0.70, 950.0, 45.0),  # assumed, muscle-like
    "fat": TissueProperties(0.90, 343.0, 58.0, tse_t2_ms=150.0),  # de Bazelaire 2004; apparent TSE T2 assumed
    "skull": TissueProperties(0.05, 250.0, 0.5),  # cortical bone: T2* ~ 0.4-0.5 ms (Reichert 2005)
    "csf": TissueProperties(1.00, 4000.0, 2000.0),
    "gm": TissueProperties(0.80, 1124.0, 95.0),  # Stanisz 2005, 1.5 T
    "wm": TissueProperties(0.69, 884.0, 72.0),  # Stanisz 2005, 1.5 T
    "muscle": TissueProperties(0.72, 1008.0, 44.0),  # de Bazelaire 2004, 1.5 T
    # Diploe, the marrow space inside the skull (labelled skull): assumed half fatty marrow, i.e. fat at half density.
    "diploe": TissueProperties(0.45, 343.0, 58.0, tse_t2_ms=150.0),
}


@dataclass(frozen=True)
class InversionPreparedGRE:
    """Inversion-prepared spoiled gradient echo (MP-RAGE / Philips T1-TFE like); times in ms, flip in degrees."""

    tr_ms: float
    te_ms: float
    flip_deg: float
    ti_ms: float
    shot_interval_ms: float


@dataclass(frozen=True)
class SpinEcho:
    """(Turbo) spin echo; times in ms."""

    tr_ms: float
    te_ms: float


# IXI's published T1 readout (TR 9.81 ms, TE 4.6 ms, flip 8 deg) with an inversion pre-pulse; TI and the shot interval
# are not published and were chosen so that WM > GM > CSF with a GM/WM ratio of about 0.75 (see docs/phantom.md).
T1W_SEQUENCE = InversionPreparedGRE(tr_ms=9.81, te_ms=4.6, flip_deg=8.0, ti_ms=950.0, shot_interval_ms=2700.0)
T2W_SEQUENCE = SpinEcho(tr_ms=5725.0, te_ms=100.0)  # IXI T2: turbo spin echo, TR 5725 ms, TE 100 ms

# Nominal (scale 1.0) grids: shape, spacing (mm) and nibabel orientation codes of the voxel axes.
_NOMINAL_GRIDS: dict[str, tuple[tuple[int, int, int], tuple[float, float, float], tuple[str, str, str]]] = {
    "t1": ((150, 256, 256), (1.2, 0.9375, 0.9375), ("L", "S", "P")),  # sagittal slices
    "t2": ((256, 256, 130), (0.9375, 0.9375, 1.25), ("L", "P", "S")),  # axial slices
    "paired": ((180, 216, 180), (1.0, 1.0, 1.0), ("R", "A", "S")),  # BrainWeb / MNI-like common grid
}
_AXIS_DIRECTIONS: dict[str, tuple[int, int]] = {"R": (0, 1), "L": (0, -1), "A": (1, 1), "P": (1, -1), "S": (2, 1)}
_AXIS_DIRECTIONS["I"] = (2, -1)

# Head model (mm, head coordinates: x right, y anterior, z superior). The superior-inferior extent is smaller than a
# real head's because the whole head has to fit in the 162.5 mm axial T2 field of view.
_HEAD_SEMI_AXES_MM = (70.0, 88.0, 66.0)  # left-right, anterior-posterior, superior
_HEAD_INFERIOR_SEMI_AXIS_MM = 58.0
_FOV_MARGIN_MM = 8.0  # free space kept between the scalp and the edge of the smallest field of view
_SKULL_BASE_BONE_MM = 6.0
_DIPLOE_DEPTH_SHARE = (0.3, 0.7)  # the diploe spans this part of the skull thickness
_SKULL_BASE_DIP_WIDTH_MM = 40.0
_FOLD_WAVES = 24
_CHUNK_VOXELS = 1 << 20  # voxels evaluated at once; bounds memory to a few hundred MB at full scale

# Deep structures in nominal head coordinates (mm, right hemisphere; mirrored to the left): centre and semi-axes.
_LATERAL_VENTRICLE = ((7.5, -4.0, 13.0), (4.5, 26.0, 8.0))
_LATERAL_VENTRICLE_ROTATION_DEG = 6.0  # the posterior parts diverge from the midline
# Bending (offset per mm^2 along the ventricle): the body arches upwards and both horns turn outwards (")(" axially).
_LATERAL_VENTRICLE_ARCH_PER_MM = 0.01
_LATERAL_VENTRICLE_FLARE_PER_MM = 0.008
_THIRD_VENTRICLE = ((0.0, -10.0, 2.0), (1.2, 12.0, 7.0))
_DEEP_GREY_NUCLEI = (
    ((10.0, -14.0, 3.0), (7.5, 13.0, 9.0)),  # thalamus
    ((13.0, 13.0, 11.0), (5.0, 9.0, 9.0)),  # caudate head
    ((23.0, 2.0, 1.0), (5.0, 14.0, 9.0)),  # putamen
)
# Brainstem and spinal cord: a vertical, slightly backward-leaning cylinder tapering downwards from the deep grey
# matter to the bottom of the head, sheathed in CSF (nominal mm).
_BRAINSTEM_TOP_MM = 0.0
_BRAINSTEM_AXIS_Y_MM = (-16.0, 0.2)  # y of the axis at z = 0 and its change per mm of z
_BRAINSTEM_RADIUS_MM = (12.0, 0.08)  # radius at z = 0 and its change per mm of z
_SPINAL_CSF_MM = 3.0
# Nominal box (x, y, z ranges) that holds the ventricles and deep grey nuclei at the largest ventricle factor.
_DEEP_REGION_MM = ((-29.0, 29.0), (-37.0, 31.0), (-9.0, 24.0))
_CALLOSAL_REGION = ((-5.0, 8.0), (42.0, 24.0))  # (y, z) ellipse below which the interhemispheric fissure stops


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


@dataclass(frozen=True)
class SubjectParameters:
    """The random parameters of one phantom subject (lengths in mm, angles in degrees).

    Attributes:
        size_factors: head scaling along x, y, z (already reduced by ``fov_shrink`` where needed).
        fov_shrink: isotropic factor (<= 1) applied so that the head fits every field of view.
        shape_coefficients: amplitudes of the low-order angular terms perturbing the head radius.
        rotation_deg: head rotation about the world x, y and z axes.
        translation_mm: head translation in world coordinates.
        skin_mm, fat_mm, skull_mm, csf_mm: thickness of the scalp layers and of the outer CSF.
        skull_base_mm, skull_base_tilt, skull_base_dip_mm: skull-base surface
            ``z = skull_base_mm + skull_base_tilt * y - skull_base_dip_mm * (x / 40 mm)^2`` (head coordinates): higher
            in front (anterior fossa), lower behind (posterior fossa) and at the sides (temporal fossae).
        ventricle_factor: size of the ventricles relative to a nominal adult.
        cortical_thickness_mm: grey-matter ribbon thickness.
        sulcal_depth_mm, sulcal_halfwidth_mm, fissure_halfwidth_mm: depth and CSF width of the folds.
        fold_wavelength_mm, fold_directions, fold_phases: plane waves whose zero set places the sulci.
        fold_tilts: per wave, phase change per mm of depth (rad/mm), which bends the sulci away from radial.
        bias_coefficients: per contrast, coefficients of the low-order bias-field polynomial.
        wm_level: per contrast, receiver gain expressed as the noiseless white-matter intensity.
        noise_fraction: per contrast, noise standard deviation relative to ``wm_level``.
    """

    size_factors: tuple[float, float, float]
    fov_shrink: float
    shape_coefficients: tuple[float, ...]
    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    skin_mm: float
    fat_mm: float
    skull_mm: float
    csf_mm: float
    skull_base_mm: float
    skull_base_tilt: float
    skull_base_dip_mm: float
    ventricle_factor: float
    cortical_thickness_mm: float
    sulcal_depth_mm: float
    sulcal_halfwidth_mm: float
    fissure_halfwidth_mm: float
    fold_wavelength_mm: float
    fold_directions: tuple[tuple[float, float, float], ...]
    fold_phases: tuple[float, ...]
    fold_tilts: tuple[float, ...]
    bias_coefficients: dict[str, tuple[float, ...]]
    wm_level: dict[str, float]
    noise_fraction: dict[str, float]


@dataclass
class SimulatedSubject:
    """One simulated subject, in memory.

    Attributes:
        subject: subject id, e.g. ``"PH001"``.
        parameters: the random parameters it was simulated from.
        t1, t2: int16 acquisitions on the T1 (sagittal) and T2 (axial) grids.
        paired_t1, paired_t2: int16 images of both contrasts on the common RAS grid.
        labels: uint8 tissue labels (:data:`TISSUE_LABELS`) on the common grid.
        affines: voxel-to-world affines, keys ``"t1"``, ``"t2"`` and ``"paired"``.
    """

    subject: str
    parameters: SubjectParameters
    t1: np.ndarray
    t2: np.ndarray
    paired_t1: np.ndarray
    paired_t2: np.ndarray
    labels: np.ndarray
    affines: dict[str, np.ndarray]


# ----------------------------------------------------------------------------------------------------------------
# MR signal equations
# ----------------------------------------------------------------------------------------------------------------


def spoiled_gre_signal(
    proton_density: np.ndarray | float,
    t1_ms: np.ndarray | float,
    t2s_ms: np.ndarray | float,
    sequence: InversionPreparedGRE = T1W_SEQUENCE,
) -> np.ndarray:
    """Steady-state spoiled gradient echo (FLASH) signal of a sequence's readout, ignoring its inversion pre-pulse.

    ``S = PD sin(a) (1 - E1) / (1 - cos(a) E1) exp(-TE/T2*)`` with ``E1 = exp(-TR/T1)``. Not the phantom's default
    T1w model: with IXI's TR 9.81 ms and flip 8 deg both GM and WM sit near their Ernst angle and come out almost
    equally bright, whereas IXI's T1-TFE images have clear GM/WM contrast from an inversion pre-pulse.

    Args:
        proton_density: relative proton density.
        t1_ms: longitudinal relaxation time.
        t2s_ms: effective transverse relaxation time T2*.
        sequence: the sequence; only its TR, TE and flip angle are used.

    Returns:
        The signal, broadcast over the inputs.
    """
    flip = math.radians(sequence.flip_deg)
    e1 = np.exp(-sequence.tr_ms / np.asarray(t1_ms, dtype=np.float64))
    steady_state = (1.0 - e1) / (1.0 - math.cos(flip) * e1)
    return proton_density * math.sin(flip) * steady_state * np.exp(-sequence.te_ms / np.asarray(t2s_ms))


def inversion_prepared_gre_signal(
    proton_density: np.ndarray | float,
    t1_ms: np.ndarray | float,
    t2s_ms: np.ndarray | float,
    sequence: InversionPreparedGRE = T1W_SEQUENCE,
) -> np.ndarray:
    """Magnitude signal of an inversion-prepared spoiled gradient echo (simplified MP-RAGE equation).

    ``S = PD sin(a) |1 - 2 exp(-TI/T1) + exp(-TS/T1)| exp(-TE/T2*)``: the longitudinal magnetisation left at the
    inversion time of an inversion recovery repeated every shot interval TS, read out by a small flip. The
    saturation by the readout train itself is neglected.

    Args:
        proton_density: relative proton density.
        t1_ms: longitudinal relaxation time.
        t2s_ms: effective transverse relaxation time T2*.
        sequence: the sequence parameters.

    Returns:
        The signal, broadcast over the inputs.
    """
    t1 = np.asarray(t1_ms, dtype=np.float64)
    longitudinal = 1.0 - 2.0 * np.exp(-sequence.ti_ms / t1) + np.exp(-sequence.shot_interval_ms / t1)
    readout = math.sin(math.radians(sequence.flip_deg)) * np.exp(-sequence.te_ms / np.asarray(t2s_ms))
    return proton_density * np.abs(longitudinal) * readout


def spin_echo_signal(
    proton_density: np.ndarray | float,
    t1_ms: np.ndarray | float,
    t2_ms: np.ndarray | float,
    sequence: SpinEcho = T2W_SEQUENCE,
) -> np.ndarray:
    """Spin echo signal ``S = PD (1 - exp(-TR/T1)) exp(-TE/T2)``.

    Args:
        proton_density: relative proton density.
        t1_ms: longitudinal relaxation time.
        t2_ms: transverse relaxation time (for a turbo spin echo, the apparent T2 on that sequence).
        sequence: the sequence parameters.

    Returns:
        The signal, broadcast over the inputs.
    """
    t1 = np.asarray(t1_ms, dtype=np.float64)
    return proton_density * (1.0 - np.exp(-sequence.tr_ms / t1)) * np.exp(-sequence.te_ms / np.asarray(t2_ms))


def tissue_signals(contrast: str) -> np.ndarray:
    """Noiseless signal of every tissue, before receiver gain.

    The order is that of :data:`TISSUE_PROPERTIES`: the labelled tissues in :data:`TISSUE_LABELS` order, then the
    diploe (which is labelled skull).

    Args:
        contrast: ``"t1"`` (inversion-prepared gradient echo) or ``"t2"`` (turbo spin echo).

    Returns:
        float64 array of shape ``(len(TISSUE_PROPERTIES),)``.
    """
    tissues = list(TISSUE_PROPERTIES.values())
    pd = np.array([t.proton_density for t in tissues])
    t1 = np.array([t.t1_ms for t in tissues])
    if contrast == "t1":
        return inversion_prepared_gre_signal(pd, t1, np.array([t.t2_ms for t in tissues]))
    if contrast == "t2":
        return spin_echo_signal(pd, t1, np.array([t.tse_t2_ms or t.t2_ms for t in tissues]))
    raise ValueError(f"contrast must be 't1' or 't2', got {contrast!r}")


# ----------------------------------------------------------------------------------------------------------------
# Grids and random subject parameters
# ----------------------------------------------------------------------------------------------------------------


def phantom_grids(scale: float = 1.0) -> dict[str, GridSpec]:
    """The three grids the phantom is written on, keyed ``"t1"``, ``"t2"`` and ``"paired"``.

    Shapes are ``round(nominal_shape * scale)`` and spacings ``nominal_spacing / scale``.

    Args:
        scale: resolution factor; 1.0 gives the nominal IXI-like grids.

    Returns:
        The grid specifications.
    """
    scale = _validated_scale(scale)
    return {
        name: GridSpec(
            shape=tuple(max(1, round(size * scale)) for size in shape),
            spacing_mm=tuple(spacing / scale for spacing in spacings),
            axcodes=codes,
        )
        for name, (shape, spacings, codes) in _NOMINAL_GRIDS.items()
    }


def subject_id(index: int) -> str:
    """Subject id of a phantom index, e.g. ``PH001``."""
    return f"PH{index:03d}"


def sample_subject_parameters(index: int, seed: int = 0) -> SubjectParameters:
    """Draw the random parameters of one subject from a generator seeded by ``(seed, index)``.

    They do not depend on the output scale, so a subject is the same head at every resolution.

    Args:
        index: subject index.
        seed: data-set seed.

    Returns:
        The subject's parameters.
    """
    anatomy_seed, acquisition_seed, _ = _subject_seeds(index, seed)
    rng = np.random.default_rng(anatomy_seed)
    size_factors = rng.uniform(0.9, 1.1, size=3)
    shape_coefficients = rng.uniform(-0.02, 0.02, size=8)
    rotation_deg = rng.uniform(-8.0, 8.0, size=3)
    translation_mm = rng.uniform(-3.0, 3.0, size=3)
    fov_shrink = _fov_shrink(size_factors, shape_coefficients, rotation_deg, translation_mm)
    directions = rng.normal(size=(_FOLD_WAVES, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    anatomy = {
        "size_factors": _floats(size_factors * fov_shrink),
        "fov_shrink": fov_shrink,
        "shape_coefficients": _floats(shape_coefficients),
        "rotation_deg": _floats(rotation_deg),
        "translation_mm": _floats(translation_mm),
        "skin_mm": float(rng.uniform(1.5, 2.5)),
        "fat_mm": float(rng.uniform(2.0, 4.0)),
        "skull_mm": float(rng.uniform(5.0, 7.5)),
        "csf_mm": float(rng.uniform(1.5, 3.0)),
        "skull_base_mm": float(rng.uniform(-34.0, -26.0)),
        "skull_base_tilt": float(rng.uniform(0.2, 0.3)),
        "skull_base_dip_mm": float(rng.uniform(6.0, 12.0)),
        "ventricle_factor": float(rng.uniform(0.6, 1.6)),
        "cortical_thickness_mm": float(rng.uniform(2.5, 3.0)),
        "sulcal_depth_mm": float(rng.uniform(10.0, 16.0)),
        "sulcal_halfwidth_mm": float(rng.uniform(0.4, 1.0)),
        "fissure_halfwidth_mm": float(rng.uniform(0.8, 1.5)),
        "fold_wavelength_mm": float(rng.uniform(14.0, 20.0)),
        "fold_directions": tuple(_floats(direction) for direction in directions),
        "fold_phases": _floats(rng.uniform(0.0, 2.0 * math.pi, size=_FOLD_WAVES)),
        "fold_tilts": _floats(rng.uniform(-0.12, 0.12, size=_FOLD_WAVES)),
    }
    rng = np.random.default_rng(acquisition_seed)
    acquisition: dict[str, dict[str, tuple[float, ...] | float]] = {
        "bias_coefficients": {},
        "wm_level": {},
        "noise_fraction": {},
    }
    for contrast, wm_range in (("t1", (700.0, 1000.0)), ("t2", (250.0, 380.0))):
        linear = rng.uniform(-0.15, 0.15, size=3)
        quadratic = rng.uniform(-0.12, 0.12, size=6)
        acquisition["bias_coefficients"][contrast] = _floats(np.concatenate([linear, quadratic]))
        acquisition["wm_level"][contrast] = float(rng.uniform(*wm_range))
        acquisition["noise_fraction"][contrast] = float(rng.uniform(0.02, 0.03))
    return SubjectParameters(**anatomy, **acquisition)


def _subject_seeds(index: int, seed: int) -> list[np.random.SeedSequence]:
    """Independent seeds of a subject's anatomy, acquisition parameters and noise, from ``(seed, index)``."""
    return np.random.SeedSequence([seed, index]).spawn(3)


def _floats(values: np.ndarray) -> tuple[float, ...]:
    """Plain Python floats, so that the parameters are JSON-serialisable."""
    return tuple(float(v) for v in values)


def _fov_shrink(
    size_factors: np.ndarray, shape_coefficients: np.ndarray, rotation_deg: np.ndarray, translation_mm: np.ndarray
) -> float:
    """Isotropic factor (<= 1) that keeps the posed scalp surface inside every grid's field of view."""
    limit = np.min([grid.half_extent_mm() for grid in phantom_grids(1.0).values()], axis=0) - _FOV_MARGIN_MM
    directions = _fibonacci_sphere(4096)
    radius = _head_radius(*directions.T, tuple(size_factors), tuple(shape_coefficients))
    surface = _rotation_matrix(rotation_deg) @ (directions * radius[:, None]).T
    reach = np.abs(surface).max(axis=1)
    return float(min(1.0, np.min((limit - np.abs(translation_mm)) / reach)))


def _fibonacci_sphere(count: int) -> np.ndarray:
    """Nearly uniform unit vectors, shape ``(count, 3)``."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    azimuth = math.pi * (1.0 + math.sqrt(5.0)) * k
    ring = np.sqrt(1.0 - z**2)
    return np.stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z], axis=1)


def _rotation_matrix(rotation_deg: Sequence[float]) -> np.ndarray:
    """Rotation ``Rz @ Ry @ Rx`` from angles (degrees) about the x, y and z axes."""
    ax, ay, az = np.radians(rotation_deg)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _head_from_world(params: SubjectParameters) -> np.ndarray:
    """4x4 affine mapping world (scanner RAS) mm to head coordinates; the subject's pose is its inverse."""
    rotation = _rotation_matrix(params.rotation_deg)
    transform = np.eye(4)
    transform[:3, :3] = rotation.T
    transform[:3, 3] = -rotation.T @ np.asarray(params.translation_mm)
    return transform


# ----------------------------------------------------------------------------------------------------------------
# Anatomy: signed distances (mm, positive inside) and tissue fractions, on flat float32 point arrays
# ----------------------------------------------------------------------------------------------------------------


def _head_radius(
    ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, size_factors: Sequence[float], coefficients: Sequence[float]
) -> np.ndarray:
    """Distance from the head centre to the scalp along unit directions.

    The surface is an egg-shaped ellipsoid (flatter below) whose radius is perturbed by low-order angular terms.
    """
    a, b, c = (axis * factor for axis, factor in zip(_HEAD_SEMI_AXES_MM, size_factors, strict=True))
    c_inferior = _HEAD_INFERIOR_SEMI_AXIS_MM * size_factors[2]
    inverse_c2 = np.where(uz > 0, np.float32(c**-2), np.float32(c_inferior**-2))
    radius = 1.0 / np.sqrt((ux / a) ** 2 + (uy / b) ** 2 + uz**2 * inverse_c2)
    angular_terms = (ux, uy, uz, ux * uy, uy * uz, ux * uz, ux**2 - uy**2, 3.0 * uz**2 - 1.0)
    perturbation = sum(coef * term for coef, term in zip(coefficients, angular_terms, strict=True))
    return radius * (1.0 + perturbation)


def _scalp_geometry(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, params: SubjectParameters
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Distance from the head centre, unit direction and radial depth below the scalp of head-space points."""
    radius = np.maximum(np.sqrt(x * x + y * y + z * z), np.float32(1e-3))
    directions = (x / radius, y / radius, z / radius)
    depth = _head_radius(*directions, params.size_factors, params.shape_coefficients) - radius
    return radius, directions, depth


def _height_above_skull_base(x: np.ndarray, y: np.ndarray, z: np.ndarray, params: SubjectParameters) -> np.ndarray:
    """Approximate signed distance to the skull-base surface, positive above it (height over gradient norm)."""
    dip_per_mm2 = params.skull_base_dip_mm / _SKULL_BASE_DIP_WIDTH_MM**2
    height = z - (params.skull_base_mm + params.skull_base_tilt * y - dip_per_mm2 * x * x)
    slope_x = 2.0 * dip_per_mm2 * x
    return height / np.sqrt(1.0 + params.skull_base_tilt**2 + slope_x * slope_x)


def _ramp(sdf: np.ndarray, voxel_mm: float) -> np.ndarray:
    """Fraction of a voxel inside a surface, from the signed distance of its centre (a one-voxel box-filter ramp)."""
    return np.clip(0.5 + sdf / voxel_mm, 0.0, 1.0)


def _ellipsoid_sdf(points: Sequence[np.ndarray], centre: Sequence[float], semi_axes: Sequence[float]) -> np.ndarray:
    """Approximate signed distance to an axis-aligned ellipsoid, positive inside (exact on the surface)."""
    scaled = [(p - c) / s for p, c, s in zip(points, centre, semi_axes, strict=True)]
    k0 = np.sqrt(sum(q * q for q in scaled))
    k1 = np.maximum(np.sqrt(sum((q / s) ** 2 for q, s in zip(scaled, semi_axes, strict=True))), np.float32(1e-6))
    return k0 * (1.0 - k0) / k1


def _mean_size(params: SubjectParameters) -> float:
    """Geometric mean head size factor, which converts nominal-space distances to mm."""
    return float(np.prod(params.size_factors) ** (1.0 / 3.0))


def _ventricle_sdf(nominal: Sequence[np.ndarray], params: SubjectParameters) -> np.ndarray:
    """Signed distance (nominal mm) to the lateral and third ventricles, mirrored about the midline."""
    x, y, z = nominal
    factor = params.ventricle_factor
    (cx, cy, cz), (sx, sy, sz) = _LATERAL_VENTRICLE
    angle = math.radians(_LATERAL_VENTRICLE_ROTATION_DEG)
    dx, dy = np.abs(x) - cx, y - cy
    along = -math.sin(angle) * dx + math.cos(angle) * dy
    across = math.cos(angle) * dx + math.sin(angle) * dy - _LATERAL_VENTRICLE_FLARE_PER_MM * along**2
    arched = z - cz + _LATERAL_VENTRICLE_ARCH_PER_MM * along**2
    lateral = _ellipsoid_sdf(
        (across, along, arched), (0.0, 0.0, 0.0), (sx * factor, sy * factor**0.5, sz * factor**0.5)
    )
    (tx, ty, tz), (tsx, tsy, tsz) = _THIRD_VENTRICLE
    third = _ellipsoid_sdf((x, y, z), (tx, ty, tz), (tsx * factor, tsy, tsz))
    return np.maximum(lateral, third)


def _deep_grey_sdf(nominal: Sequence[np.ndarray]) -> np.ndarray:
    """Signed distance (nominal mm) to the thalami, caudate heads and putamina, mirrored about the midline."""
    x, y, z = nominal
    mirrored = (np.abs(x), y, z)
    nuclei = [_ellipsoid_sdf(mirrored, centre, semi_axes) for centre, semi_axes in _DEEP_GREY_NUCLEI]
    return np.maximum.reduce(nuclei)


def _deep_structure_fractions(
    nominal: Sequence[np.ndarray], params: SubjectParameters, voxel_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ventricle and deep-grey fractions; only points in the box that holds these structures are evaluated."""
    ventricles = np.zeros_like(nominal[0])
    deep_grey = np.zeros_like(nominal[0])
    margin = voxel_mm / min(params.size_factors)  # the partial-volume ramp reaches half a voxel outside
    in_box = np.logical_and.reduce(
        [(low - margin < c) & (c < high + margin) for c, (low, high) in zip(nominal, _DEEP_REGION_MM, strict=True)]
    )
    points = [c[in_box] for c in nominal]
    size = _mean_size(params)
    ventricles[in_box] = _ramp(_ventricle_sdf(points, params) * size, voxel_mm)
    deep_grey[in_box] = _ramp(_deep_grey_sdf(points) * size, voxel_mm)
    return ventricles, deep_grey


def _brainstem_sdf(nominal: Sequence[np.ndarray]) -> np.ndarray:
    """Signed distance (nominal mm) to the brainstem and spinal cord."""
    x, y, z = nominal
    axis_y = _BRAINSTEM_AXIS_Y_MM[0] + _BRAINSTEM_AXIS_Y_MM[1] * z
    radius = _BRAINSTEM_RADIUS_MM[0] + _BRAINSTEM_RADIUS_MM[1] * z
    return np.minimum(radius - np.sqrt(x * x + (y - axis_y) ** 2), _BRAINSTEM_TOP_MM - z)


def _fissure_cleft(nominal: Sequence[np.ndarray], params: SubjectParameters) -> np.ndarray:
    """Signed distance to the interhemispheric fissure, positive inside.

    The fissure is a thin midline slab that stops at the corpus callosum and the deep grey matter.
    """
    x, y, z = nominal
    size = _mean_size(params)
    (cy, cz), (sy, sz) = _CALLOSAL_REGION
    outside_callosal_region = -_ellipsoid_sdf((y, z), (cy, cz), (sy, sz)) * size
    return np.minimum(params.fissure_halfwidth_mm - np.abs(x) * size, outside_callosal_region)


def _sulcal_cleft(
    directions: Sequence[np.ndarray],
    radius: np.ndarray,
    hull_radius: np.ndarray,
    hull_depth: np.ndarray,
    params: SubjectParameters,
) -> np.ndarray:
    """Signed distance to the sulci, positive inside.

    Sulci are thin CSF clefts around the zero set of a random smooth field ``h``: a sum of plane waves evaluated at
    the point of the brain hull on the same radial line, each with a small extra phase per mm of depth, so that the
    clefts run inward from the surface (bending slightly) down to the sulcal depth. The distance to the zero set is
    ``|h| / |grad h|`` with the analytic gradient.

    Args:
        directions: unit vectors from the head centre, three arrays of shape ``(N,)``.
        radius: distance from the head centre.
        hull_radius: distance from the head centre to the smooth brain hull along the same direction.
        hull_depth: depth below the smooth (unfolded) brain hull.
        params: subject parameters.

    Returns:
        Shape ``(N,)``.
    """
    wave_vectors = np.asarray(params.fold_directions, dtype=np.float32) * np.float32(
        2.0 * math.pi / params.fold_wavelength_mm
    )
    tilts = np.asarray(params.fold_tilts, dtype=np.float32)
    hull_point = [u * hull_radius for u in directions]
    phase = np.asarray(params.fold_phases, dtype=np.float32) + hull_depth[:, None] * tilts
    for axis, coordinate in enumerate(hull_point):
        phase += coordinate[:, None] * wave_vectors[:, axis]
    normalisation = math.sqrt(_FOLD_WAVES / 2.0)  # unit variance for random phases
    field = np.cos(phase).sum(axis=1) / normalisation
    sine = np.sin(phase)
    hull_gradient = np.einsum("nw,wc->cn", sine, wave_vectors) / -normalisation
    radial = sum(g * u for g, u in zip(hull_gradient, directions, strict=True))
    # A step dp across the radial line moves the hull point by dp * hull_radius / radius; a step along it changes
    # only the depth term.
    tangential_sq = np.maximum((hull_gradient * hull_gradient).sum(axis=0) - radial * radial, 0.0)
    tangential_sq *= (hull_radius / radius) ** 2
    along_radius = np.einsum("nw,w->n", sine, tilts) / normalisation
    gradient_norm = np.sqrt(tangential_sq + along_radius * along_radius)
    distance_to_fold = np.abs(field) / np.maximum(gradient_norm, np.float32(1e-6))
    return np.minimum(params.sulcal_halfwidth_mm - distance_to_fold, params.sulcal_depth_mm - hull_depth)


def _pial_sdf(
    directions: Sequence[np.ndarray],
    radius: np.ndarray,
    hull_radius: np.ndarray,
    hull_depth: np.ndarray,
    nominal: Sequence[np.ndarray],
    params: SubjectParameters,
    voxel_mm: float,
) -> np.ndarray:
    """Signed distance to the folded pial surface: the brain hull minus the fissure and the sulci."""
    pial = np.minimum(hull_depth, -_fissure_cleft(nominal, params))
    # The sulci only change the GM/WM ramps within the folding depth; skip the trigonometry elsewhere.
    reach = params.sulcal_depth_mm + params.cortical_thickness_mm + voxel_mm
    shell = (hull_depth > -voxel_mm) & (hull_depth < reach)
    sulci = _sulcal_cleft([u[shell] for u in directions], radius[shell], hull_radius[shell], hull_depth[shell], params)
    pial[shell] = np.minimum(pial[shell], -sulci)
    return pial


def _tissue_fractions(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, params: SubjectParameters, voxel_mm: float
) -> np.ndarray:
    """Partial-volume fraction of every tissue of :data:`TISSUE_PROPERTIES` at head-space points (mm).

    Each tissue fraction is a difference of nested "inside" ramps, so the fractions are non-negative and sum to 1.

    Args:
        x: head coordinates (right), shape ``(N,)``.
        y: head coordinates (anterior).
        z: head coordinates (superior).
        params: subject parameters.
        voxel_mm: effective voxel size (width of the partial-volume ramp).

    Returns:
        Shape ``(len(TISSUE_PROPERTIES), N)``.
    """
    radius, directions, depth = _scalp_geometry(x, y, z, params)
    above_skull_base = _height_above_skull_base(x, y, z, params)
    inner_table = params.skin_mm + params.fat_mm + params.skull_mm
    intracranial_sdf = np.minimum(depth - inner_table, above_skull_base)
    hull_depth = intracranial_sdf - params.csf_mm
    hull_radius = radius + depth - inner_table - params.csf_mm
    nominal = [c / factor for c, factor in zip((x, y, z), params.size_factors, strict=True)]
    pial = _pial_sdf(directions, radius, hull_radius, hull_depth, nominal, params, voxel_mm)
    ventricles, deep_grey = _deep_structure_fractions(nominal, params, voxel_mm)

    # The cranial cavity is extended down the spinal canal, which stops just inside the subcutaneous fat.
    below_fat_sdf = depth - params.skin_mm - params.fat_mm
    brainstem_sdf = _brainstem_sdf(nominal) * _mean_size(params)
    cavity_sdf = np.minimum(np.maximum(intracranial_sdf, brainstem_sdf + _SPINAL_CSF_MM), below_fat_sdf - 1.0)
    pial = np.maximum(pial, brainstem_sdf)

    head_inside = _ramp(depth, voxel_mm)
    below_skin = _ramp(depth - params.skin_mm, voxel_mm)
    below_fat = _ramp(below_fat_sdf, voxel_mm)
    cavity = _ramp(cavity_sdf, voxel_mm)
    bone_or_cavity = np.maximum(
        _ramp(np.minimum(below_fat_sdf, above_skull_base + _SKULL_BASE_BONE_MM), voxel_mm), cavity
    )
    parenchyma = np.minimum(_ramp(pial, voxel_mm), cavity) * (1.0 - ventricles)
    white = np.minimum(_ramp(pial - params.cortical_thickness_mm, voxel_mm), cavity)
    white *= (1.0 - ventricles) * (1.0 - deep_grey)
    # The marrow layer lies between the outer and inner tables of the vault (not in the skull base).
    below_outer_table, below_diploe = (below_fat_sdf - share * params.skull_mm for share in _DIPLOE_DEPTH_SHARE)
    diploe = np.maximum(
        np.minimum(_ramp(below_outer_table, voxel_mm), bone_or_cavity)
        - np.maximum(_ramp(below_diploe, voxel_mm), cavity),
        0.0,
    )

    fractions = {
        "air": 1.0 - head_inside,
        "skin": head_inside - below_skin,
        "fat": below_skin - below_fat,
        "skull": bone_or_cavity - cavity - diploe,
        "csf": cavity - parenchyma,
        "gm": parenchyma - white,
        "wm": white,
        "muscle": below_fat - bone_or_cavity,
        "diploe": diploe,
    }
    return np.stack([fractions[name] for name in TISSUE_PROPERTIES])


def _labels_from_fractions(fractions: np.ndarray) -> np.ndarray:
    """Label of the largest tissue fraction, counting the diploe as skull."""
    labelled = fractions[: len(TISSUE_LABELS)].copy()
    labelled[TISSUE_LABELS["skull"]] += fractions[list(TISSUE_PROPERTIES).index("diploe")]
    return labelled.argmax(axis=0)


# ----------------------------------------------------------------------------------------------------------------
# Image formation
# ----------------------------------------------------------------------------------------------------------------


def _grid_coordinates(transform: np.ndarray, grid: GridSpec, rows: slice) -> np.ndarray:
    """``transform @ voxel`` for the voxel centres in ``rows`` of array axis 0, flattened: shape ``(3, N)``."""
    i = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None, None]
    j = np.arange(grid.shape[1], dtype=np.float32)[None, :, None]
    k = np.arange(grid.shape[2], dtype=np.float32)[None, None, :]
    t = transform.astype(np.float32)
    return np.stack([(t[c, 0] * i + t[c, 1] * j + t[c, 2] * k + t[c, 3]).reshape(-1) for c in range(3)])


def _apply_affine(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``transform @ point`` for points of shape ``(3, N)`` (written out: no BLAS threads for a 3x3 product)."""
    t = transform.astype(np.float32)
    return np.stack([t[c, 0] * points[0] + t[c, 1] * points[1] + t[c, 2] * points[2] + t[c, 3] for c in range(3)])


def _bias_field(world: np.ndarray, coefficients: Sequence[float]) -> np.ndarray:
    """Smooth multiplicative receive-coil bias: exp of a second-order polynomial in world coordinates (dm)."""
    x, y, z = world / 100.0
    terms = (x, y, z, x * x, y * y, z * z, x * y, y * z, x * z)
    return np.exp(sum(coef * term for coef, term in zip(coefficients, terms, strict=True)))


def _tissue_levels(contrast: str, params: SubjectParameters) -> np.ndarray:
    """Tissue signals scaled by the acquisition's receiver gain, which maps white matter to ``wm_level``."""
    signals = tissue_signals(contrast)
    return (signals * (params.wm_level[contrast] / signals[TISSUE_LABELS["wm"]])).astype(np.float32)


def _render_grid(
    params: SubjectParameters, grid: GridSpec, contrasts: Sequence[str], with_labels: bool
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Noiseless images (receiver gain and bias applied) and, optionally, argmax tissue labels on one grid.

    The grid is processed in slabs of rows to bound memory, and the tissue model is evaluated only at voxels that
    the head reaches (the rest is air).
    """
    head_from_world = _head_from_world(params)
    head_from_voxel = head_from_world @ grid.affine
    world_from_head = np.linalg.inv(head_from_world)
    levels = {contrast: _tissue_levels(contrast, params) for contrast in contrasts}
    voxels_per_row = grid.shape[1] * grid.shape[2]
    images = {contrast: np.zeros(grid.shape[0] * voxels_per_row, dtype=np.float32) for contrast in contrasts}
    labels = np.zeros(grid.shape[0] * voxels_per_row if with_labels else 0, dtype=np.uint8)
    rows_per_chunk = max(1, _CHUNK_VOXELS // voxels_per_row)
    for start in range(0, grid.shape[0], rows_per_chunk):
        head = _grid_coordinates(head_from_voxel, grid, slice(start, min(start + rows_per_chunk, grid.shape[0])))
        in_head = _scalp_geometry(*head, params)[2] > -0.5 * grid.voxel_mm
        voxels = start * voxels_per_row + np.flatnonzero(in_head)
        points = head[:, in_head]
        fractions = _tissue_fractions(*points, params, grid.voxel_mm)
        world = _apply_affine(world_from_head, points)
        for contrast in contrasts:
            signal = np.einsum("t,tn->n", levels[contrast], fractions)
            images[contrast][voxels] = signal * _bias_field(world, params.bias_coefficients[contrast])
        if with_labels:
            labels[voxels] = _labels_from_fractions(fractions)
    shaped = {contrast: image.reshape(grid.shape) for contrast, image in images.items()}
    return shaped, labels.reshape(grid.shape) if with_labels else None


def _rician(signal: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise, rounded to int16."""
    real = signal + np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    imaginary = np.float32(sigma) * rng.standard_normal(signal.shape, dtype=np.float32)
    magnitude = np.rint(np.hypot(real, imaginary, out=real), out=real)
    return np.clip(magnitude, 0, np.iinfo(np.int16).max, out=magnitude).astype(np.int16)


def simulate_subject(index: int, seed: int = 0, scale: float = 1.0) -> SimulatedSubject:
    """Simulate one subject in memory: both acquisitions, the paired images and the labels.

    Args:
        index: subject index (the subject id is ``PH{index:03d}``).
        seed: data-set seed; ``(seed, index)`` determines the subject completely.
        scale: resolution factor of the grids (see :func:`phantom_grids`).

    Returns:
        The simulated subject.
    """
    grids = phantom_grids(scale)
    params = sample_subject_parameters(index, seed)
    noise_rngs = [np.random.default_rng(s) for s in _subject_seeds(index, seed)[2].spawn(4)]
    t1, _ = _render_grid(params, grids["t1"], ("t1",), with_labels=False)
    t2, _ = _render_grid(params, grids["t2"], ("t2",), with_labels=False)
    paired, labels = _render_grid(params, grids["paired"], ("t1", "t2"), with_labels=True)
    sigma = {contrast: params.noise_fraction[contrast] * params.wm_level[contrast] for contrast in ("t1", "t2")}
    return SimulatedSubject(
        subject=subject_id(index),
        parameters=params,
        t1=_rician(t1["t1"], sigma["t1"], noise_rngs[0]),
        t2=_rician(t2["t2"], sigma["t2"], noise_rngs[1]),
        paired_t1=_rician(paired["t1"], sigma["t1"], noise_rngs[2]),
        paired_t2=_rician(paired["t2"], sigma["t2"], noise_rngs[3]),
        labels=labels,
        affines={name: grid.affine for name, grid in grids.items()},
    )


# ----------------------------------------------------------------------------------------------------------------
# Data set on disk
# ----------------------------------------------------------------------------------------------------------------


def _relative_paths(index: int) -> dict[str, str]:
    """File names of one subject in the IXI-like layout, relative to the data-set directory."""
    sid = subject_id(index)
    return {
        "t1": f"IXI-T1/{sid}-Phantom-{index:04d}-T1.nii.gz",
        "t2": f"IXI-T2/{sid}-Phantom-{index:04d}-T2.nii.gz",
        "paired_t1": f"paired/{sid}-T1.nii.gz",
        "paired_t2": f"paired/{sid}-T2.nii.gz",
        "labels": f"paired/{sid}-labels.nii.gz",
    }


def _validated_scale(scale: float) -> float:
    """``scale`` as a float, or a ValueError."""
    try:
        value = float(scale)
    except (TypeError, ValueError) as error:
        raise ValueError(f"scale must be a positive number, got {scale!r}") from error
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return value


def _validated_parameters(num_subjects: int, scale: float, seed: int, first_index: int) -> dict[str, int | float]:
    """The data-set parameters as recorded in the manifest, or a ValueError naming the bad one."""
    for name, value, minimum in (("num_subjects", num_subjects, 1), ("seed", seed, 0), ("first_index", first_index, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return {
        "num_subjects": int(num_subjects),
        "scale": _validated_scale(scale),
        "seed": int(seed),
        "first_index": int(first_index),
        "version": PHANTOM_VERSION,
    }


def write_phantom_dataset(
    out_dir: str | Path, num_subjects: int = 10, scale: float = 1.0, seed: int = 0, first_index: int = 1
) -> list[dict[str, str]]:
    """Generate ``num_subjects`` subjects and write them, with ``manifest.json`` last, in the IXI-like layout.

    Writes directly into ``out_dir`` (created if needed); use :func:`ensure_phantom_dataset` for a cached,
    interruption-safe data set.

    Args:
        out_dir: data-set directory.
        num_subjects: number of subjects (>= 1).
        scale: resolution factor of the grids (> 0); 0.25 gives a quick low-resolution set.
        seed: data-set seed (>= 0).
        first_index: index of the first subject (>= 0).

    Returns:
        One dict per subject with keys ``"subject"``, ``"t1"``, ``"t2"``, ``"paired_t1"``, ``"paired_t2"`` and
        ``"labels"`` (absolute paths as str).

    Raises:
        ValueError: a parameter is out of range.
        OSError: ``out_dir`` cannot be created or written.
    """
    parameters = _validated_parameters(num_subjects, scale, seed, first_index)
    out_dir = Path(out_dir).expanduser().absolute()
    for folder in ("IXI-T1", "IXI-T2", "paired"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    records, manifest_subjects = [], []
    for index in range(parameters["first_index"], parameters["first_index"] + parameters["num_subjects"]):
        subject = simulate_subject(index, parameters["seed"], parameters["scale"])
        files = _relative_paths(index)
        save_volume(subject.t1, subject.affines["t1"], out_dir / files["t1"])
        save_volume(subject.t2, subject.affines["t2"], out_dir / files["t2"])
        for key, array in (
            ("paired_t1", subject.paired_t1),
            ("paired_t2", subject.paired_t2),
            ("labels", subject.labels),
        ):
            save_volume(array, subject.affines["paired"], out_dir / files[key])
        records.append({"subject": subject.subject, **{key: str(out_dir / path) for key, path in files.items()}})
        manifest_subjects.append({"subject": subject.subject, "files": files, "parameters": asdict(subject.parameters)})
    manifest = {
        "generator": __name__,
        "parameters": parameters,
        "tissue_labels": TISSUE_LABELS,
        "subjects": manifest_subjects,
    }
    write_json(out_dir / "manifest.json", manifest)  # last, and whole: its presence marks a complete data set
    return records


def load_phantom_manifest(out_dir: str | Path) -> list[dict[str, str]]:
    """The subject records of a written data set, as returned by :func:`write_phantom_dataset`.

    Args:
        out_dir: data-set directory holding ``manifest.json``.

    Returns:
        One dict per subject with absolute paths under ``out_dir``.

    Raises:
        OSError: there is no readable manifest.
    """
    out_dir = Path(out_dir).expanduser().absolute()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return [
        {"subject": entry["subject"], **{key: str(out_dir / path) for key, path in entry["files"].items()}}
        for entry in manifest["subjects"]
    ]


def _is_complete(out_dir: Path, parameters: dict[str, int | float]) -> bool:
    """Whether ``out_dir`` holds a finished data set generated with exactly ``parameters``."""
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("parameters") != parameters:
        return False
    return all((out_dir / path).is_file() for entry in manifest["subjects"] for path in entry["files"].values())


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace anything but a missing or empty directory or a (stale) phantom data set."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"phantom output path {out_dir} exists and is not a directory")
    foreign = {entry.name for entry in out_dir.iterdir()} - {"manifest.json", "IXI-T1", "IXI-T2", "paired"}
    if foreign:
        raise FileExistsError(
            f"phantom output directory {out_dir} holds files that are not a phantom data set ({sorted(foreign)[:3]}); "
            "refusing to replace it"
        )


def _move_into_place(staging: Path, out_dir: Path, parameters: dict[str, int | float]) -> None:
    """Rename the finished ``staging`` directory to ``out_dir``, replacing a stale data set there."""
    if _is_complete(out_dir, parameters):  # a concurrent caller finished first
        return
    stale = out_dir.with_name(f".{out_dir.name}.stale-{uuid.uuid4().hex[:8]}")
    if out_dir.exists():
        out_dir.rename(stale)
    staging.rename(out_dir)
    shutil.rmtree(stale, ignore_errors=True)


def ensure_phantom_dataset(
    out_dir: str | Path, num_subjects: int = 10, scale: float = 1.0, seed: int = 0, first_index: int = 1
) -> Path:
    """Return ``out_dir``, generating the data set first unless it already exists with exactly these parameters.

    A data set counts as existing when ``out_dir/manifest.json`` records the same parameters (and phantom version)
    and its files are present; then nothing is written. Otherwise the set is generated in a temporary sibling
    directory that is renamed into place at the end, so an interrupted run never leaves a half-written data set
    that looks complete. A stale phantom data set at ``out_dir`` is replaced; any other non-empty directory is not.

    Args:
        out_dir: data-set directory.
        num_subjects: number of subjects (>= 1).
        scale: resolution factor of the grids (> 0).
        seed: data-set seed (>= 0).
        first_index: index of the first subject (>= 0).

    Returns:
        ``out_dir`` as an absolute path.

    Raises:
        ValueError: a parameter is out of range.
        FileExistsError: ``out_dir`` exists and is not a phantom data set.
        OSError: the parent of ``out_dir`` cannot be created or written.
    """
    parameters = _validated_parameters(num_subjects, scale, seed, first_index)
    out_dir = Path(out_dir).expanduser().absolute()
    if _is_complete(out_dir, parameters):
        return out_dir
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        write_phantom_dataset(staging, num_subjects, scale, seed, first_index)
        _move_into_place(staging, out_dir, parameters)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
