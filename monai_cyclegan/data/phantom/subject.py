"""One phantom subject: its random parameters, and its images rendered on the acquisition and paired grids.

Every subject is fixed by ``(seed, index)``. The parameters come from ``numpy.random.SeedSequence([seed, index])``,
split into five independent streams (anatomy, lesions, sequences, receiver, noise), so that switching lesions or
sequence variation on changes nothing else about a subject, and none of them depends on the output scale: a subject
is the same head at every resolution.

Each voxel's tissue fractions are computed at its centre (:mod:`.anatomy`, through the subject's map to the template,
:mod:`.deformation`); its signal is the sum over tissues of fraction times the tissue's signal on the subject's
sequence (:mod:`.signal`), scaled by the receiver gain, times the bias field; Rician noise comes last
(:mod:`.acquisition`). The volume computation is single-threaded numpy and scipy work on flat float32 arrays, in slabs
of about a million voxels, and only inside the box the head can reach.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from monai_cyclegan.data.phantom.acquisition import (
    GridSpec,
    bias_field,
    grid_points,
    phantom_grids,
    rician,
    sample_receiver,
)
from monai_cyclegan.data.phantom.anatomy import TISSUE_LABELS, TISSUES, HeadLayers, tissue_fractions
from monai_cyclegan.data.phantom.deformation import (
    ELASTIC_MAGNITUDE_RANGE,
    ELASTIC_SIGMA_RANGE,
    ElasticDeformation,
    SubjectMap,
    intracranial_bounds,
    intracranial_reach,
)
from monai_cyclegan.data.phantom.lesions import Lesion, lesion_fraction, sample_lesions
from monai_cyclegan.data.phantom.signal import (
    IXI_T1_SEQUENCE,
    IXI_T2_SEQUENCE,
    InversionPreparedGRE,
    SpinEcho,
    random_sequences,
    tissue_signals,
)

__all__ = ["SimulatedSubject", "SubjectParameters", "sample_subject_parameters", "simulate_subject", "subject_id"]

# The MNI template is a large brain (intracranial space about 2 litres); heads are drawn smaller, within the range of
# adult intracranial volumes, with a few per cent of independent variation along each axis.
_GLOBAL_SIZE = (0.86, 0.98)
_AXIS_SIZE = (0.97, 1.03)
_ROTATION_DEG = 8.0
_TRANSLATION_MM = 3.0
_VENTRICLE_EXPANSION_MM = (0.0, 2.5)
_LAYERS_MM = {"skull_mm": (5.0, 7.5), "temporalis_mm": (3.0, 7.0), "fat_mm": (2.0, 4.0), "skin_mm": (1.5, 2.5)}
# Free space kept between the head and the sides and top of the smallest field of view. The left-right one is the
# smallest: IXI's sagittal T1 covers 180 mm.
_FOV_MARGIN_MM = 4.0
# The head box in pre-deformation template space: the intracranial surface plus the layers and the largest elastic
# displacement.
_HEAD_BOX_MARGIN_MM = 35.0
_CHUNK_VOXELS = 1 << 20


@dataclass(frozen=True)
class SubjectParameters:
    """The random parameters of one phantom subject (lengths in mm, angles in degrees).

    Attributes:
        size_factors: head size along its x, y and z axes relative to the template (after ``fov_shrink``).
        fov_shrink: isotropic factor (<= 1) applied so that the head fits every field of view.
        rotation_deg: head rotation about the world x, y and z axes.
        translation_mm: head translation in world coordinates.
        elastic: the smooth random deformation (MONAI ``Rand3DElastic``).
        ventricle_expansion_mm: outward displacement of the ventricle walls.
        layers: thickness of the skull, temporal muscles, fat and skin.
        lesions: the white-matter lesions (none unless asked for).
        sequences: the T1w (``"t1"``) and T2w (``"t2"``) sequences.
        bias_coefficients: per contrast, coefficients of the bias-field polynomial.
        wm_level: per contrast, receiver gain expressed as the noiseless white-matter intensity.
        noise_fraction: per contrast, noise standard deviation relative to ``wm_level``.
    """

    size_factors: tuple[float, float, float]
    fov_shrink: float
    rotation_deg: tuple[float, float, float]
    translation_mm: tuple[float, float, float]
    elastic: ElasticDeformation
    ventricle_expansion_mm: float
    layers: HeadLayers
    lesions: tuple[Lesion, ...]
    sequences: dict[str, InversionPreparedGRE | SpinEcho]
    bias_coefficients: dict[str, tuple[float, ...]]
    wm_level: dict[str, float]
    noise_fraction: dict[str, float]

    def subject_map(self) -> SubjectMap:
        """The map from world to template coordinates of this subject."""
        return SubjectMap(
            self.size_factors, self.rotation_deg, self.translation_mm, self.elastic, self.ventricle_expansion_mm
        )


@dataclass
class SimulatedSubject:
    """One simulated subject, in memory.

    Attributes:
        subject: subject id, e.g. ``"PH001"``.
        parameters: the random parameters it was simulated from.
        t1: int16 T1w acquisition on the T1 (sagittal) grid.
        t2: int16 T2w acquisition on the T2 (axial) grid.
        paired_t1: int16 T1w image on the common RAS grid.
        paired_t2: int16 T2w image on the common RAS grid.
        labels: uint8 tissue labels (:data:`~.anatomy.TISSUE_LABELS`) on the common grid.
        lesions: uint8 lesion mask (1 inside a lesion) on the common grid.
        affines: voxel-to-world affines, keys ``"t1"``, ``"t2"`` and ``"paired"``.
    """

    subject: str
    parameters: SubjectParameters
    t1: np.ndarray
    t2: np.ndarray
    paired_t1: np.ndarray
    paired_t2: np.ndarray
    labels: np.ndarray
    lesions: np.ndarray
    affines: dict[str, np.ndarray]


def subject_id(index: int) -> str:
    """Subject id of a phantom index, e.g. ``PH001``."""
    return f"PH{index:03d}"


def _subject_seeds(index: int, seed: int) -> list[np.random.SeedSequence]:
    """Independent seeds of a subject's anatomy, lesions, sequences, receiver and noise, from ``(seed, index)``."""
    return np.random.SeedSequence([seed, index]).spawn(5)


def _fov_shrink(
    size_factors: np.ndarray, rotation_deg: np.ndarray, translation_mm: np.ndarray, layers: HeadLayers
) -> float:
    """Isotropic factor (<= 1) that keeps the posed head inside the sides and top of every field of view."""
    limit = np.min([grid.half_extent_mm() for grid in phantom_grids(1.0).values()], axis=0) - _FOV_MARGIN_MM
    layers_mm = layers.skull_mm + layers.temporalis_mm + layers.fat_mm + layers.skin_mm
    reach = intracranial_reach(rotation_deg, size_factors) + layers_mm * float(np.max(size_factors))
    return float(min(1.0, np.min((limit - np.abs(translation_mm)) / reach)))


def sample_subject_parameters(
    index: int, seed: int = 0, lesions: bool = False, vary_sequences: bool = False
) -> SubjectParameters:
    """Draw the random parameters of one subject from generators seeded by ``(seed, index)``.

    Args:
        index: subject index.
        seed: data-set seed.
        lesions: whether the subject has MS-like white-matter lesions.
        vary_sequences: draw the sequence parameters from :data:`~.signal.SEQUENCE_RANGES` rather than use IXI's.

    Returns:
        The subject's parameters.
    """
    anatomy_seed, lesion_seed, sequence_seed, receiver_seed, _ = _subject_seeds(index, seed)
    rng = np.random.default_rng(anatomy_seed)
    size_factors = rng.uniform(*_GLOBAL_SIZE) * rng.uniform(*_AXIS_SIZE, size=3)
    rotation_deg = rng.uniform(-_ROTATION_DEG, _ROTATION_DEG, size=3)
    translation_mm = rng.uniform(-_TRANSLATION_MM, _TRANSLATION_MM, size=3)
    layers = HeadLayers(**{name: float(rng.uniform(*bounds)) for name, bounds in _LAYERS_MM.items()})
    elastic = ElasticDeformation(
        seed=int(rng.integers(2**31)),
        sigma=float(rng.uniform(*ELASTIC_SIGMA_RANGE)),
        magnitude=float(rng.uniform(*ELASTIC_MAGNITUDE_RANGE)),
    )
    ventricle_expansion_mm = float(rng.uniform(*_VENTRICLE_EXPANSION_MM))
    fov_shrink = _fov_shrink(size_factors, rotation_deg, translation_mm, layers)
    sequences = (
        random_sequences(np.random.default_rng(sequence_seed))
        if vary_sequences
        else {"t1": IXI_T1_SEQUENCE, "t2": IXI_T2_SEQUENCE}
    )
    return SubjectParameters(
        size_factors=_floats(size_factors * fov_shrink),
        fov_shrink=fov_shrink,
        rotation_deg=_floats(rotation_deg),
        translation_mm=_floats(translation_mm),
        elastic=elastic,
        ventricle_expansion_mm=ventricle_expansion_mm,
        layers=layers,
        lesions=sample_lesions(np.random.default_rng(lesion_seed)) if lesions else (),
        sequences=sequences,
        **sample_receiver(np.random.default_rng(receiver_seed)),
    )


def _floats(values: np.ndarray) -> tuple[float, ...]:
    """Plain Python floats, so that the parameters are JSON-serialisable."""
    return tuple(float(v) for v in values)


def _tissue_levels(params: SubjectParameters, contrast: str) -> np.ndarray:
    """Tissue signals (in :data:`TISSUES` order) scaled by the receiver gain, which maps WM to ``wm_level``."""
    signals = tissue_signals(params.sequences[contrast])
    gain = params.wm_level[contrast] / signals["wm"]
    return np.array([signals[name] * gain for name in TISSUES], dtype=np.float32)


def _labels(fractions: np.ndarray) -> np.ndarray:
    """Label of the largest tissue fraction, counting the marrow as skull."""
    labelled = fractions[: len(TISSUE_LABELS)].copy()
    labelled[TISSUE_LABELS["skull"]] += fractions[TISSUES.index("marrow")]
    return labelled.argmax(axis=0).astype(np.uint8)


def _render_grid(
    params: SubjectParameters, subject_map: SubjectMap, grid: GridSpec, contrasts: Sequence[str], with_labels: bool
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Noiseless images (receiver gain and bias applied) and, optionally, tissue labels on one grid."""
    voxel_mm = grid.voxel_mm / float(np.prod(params.size_factors) ** (1.0 / 3.0))  # in template mm
    levels = {contrast: _tissue_levels(params, contrast) for contrast in contrasts}
    low, high = intracranial_bounds()
    low, high = low.astype(np.float32) - _HEAD_BOX_MARGIN_MM, high.astype(np.float32) + _HEAD_BOX_MARGIN_MM
    voxels_per_row = grid.shape[1] * grid.shape[2]
    images = {contrast: np.zeros(grid.shape[0] * voxels_per_row, dtype=np.float32) for contrast in contrasts}
    labels = np.zeros(grid.shape[0] * voxels_per_row if with_labels else 0, dtype=np.uint8)
    rows_per_chunk = max(1, _CHUNK_VOXELS // voxels_per_row)
    for start in range(0, grid.shape[0], rows_per_chunk):
        world = grid_points(grid, slice(start, min(start + rows_per_chunk, grid.shape[0])))
        head = subject_map.head_points(world)
        # The neck runs down out of every field of view: the box is open below.
        in_box = np.flatnonzero(
            np.all((low[:2, None] < head[:2]) & (head[:2] < high[:2, None]), 0) & (head[2] < high[2])
        )
        points = subject_map.template_points(head[:, in_box])
        lesion = lesion_fraction(points, params.lesions, voxel_mm) if params.lesions else None
        fractions = tissue_fractions(points, params.layers, voxel_mm, lesion)
        voxels = start * voxels_per_row + in_box
        for contrast in contrasts:
            bias = bias_field(world[:, in_box], params.bias_coefficients[contrast])
            images[contrast][voxels] = (levels[contrast] @ fractions) * bias
        if with_labels:
            labels[voxels] = _labels(fractions)
    shaped = {contrast: image.reshape(grid.shape) for contrast, image in images.items()}
    return shaped, labels.reshape(grid.shape) if with_labels else None


def simulate_subject(
    index: int, seed: int = 0, scale: float = 1.0, lesions: bool = False, vary_sequences: bool = False
) -> SimulatedSubject:
    """Simulate one subject in memory: both acquisitions, the paired images, the labels and the lesion mask.

    Args:
        index: subject index (the subject id is ``PH{index:03d}``).
        seed: data-set seed; ``(seed, index)`` determines the subject completely.
        scale: resolution factor of the grids (see :func:`~.acquisition.phantom_grids`).
        lesions: whether the subject has MS-like white-matter lesions.
        vary_sequences: draw the sequence parameters per subject rather than use IXI's.

    Returns:
        The simulated subject.
    """
    grids = phantom_grids(scale)
    params = sample_subject_parameters(index, seed, lesions, vary_sequences)
    subject_map = params.subject_map()
    noise_rngs = [np.random.default_rng(s) for s in _subject_seeds(index, seed)[4].spawn(4)]
    t1, _ = _render_grid(params, subject_map, grids["t1"], ("t1",), with_labels=False)
    t2, _ = _render_grid(params, subject_map, grids["t2"], ("t2",), with_labels=False)
    paired, labels = _render_grid(params, subject_map, grids["paired"], ("t1", "t2"), with_labels=True)
    sigma = {contrast: params.noise_fraction[contrast] * params.wm_level[contrast] for contrast in ("t1", "t2")}
    return SimulatedSubject(
        subject=subject_id(index),
        parameters=params,
        t1=rician(t1["t1"], sigma["t1"], noise_rngs[0]),
        t2=rician(t2["t2"], sigma["t2"], noise_rngs[1]),
        paired_t1=rician(paired["t1"], sigma["t1"], noise_rngs[2]),
        paired_t2=rician(paired["t2"], sigma["t2"], noise_rngs[3]),
        labels=labels,
        lesions=(labels == TISSUE_LABELS["lesion"]).astype(np.uint8),
        affines={name: grid.affine for name, grid in grids.items()},
    )
