"""Rigid registration of two MR volumes by mutual information, and resampling onto a reference grid.

MONAI has no rigid mutual-information registration, so this module uses ITK's v4 registration framework.
All matrices exchanged with callers are 4x4 homogeneous maps between RAS world coordinates (mm), like NIfTI affines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import itk
import numpy as np

from monai_cyclegan.registration.volumes import RAS_TO_LPS

__all__ = [
    "RigidRegistration",
    "bounding_box_corners",
    "field_of_view_mask",
    "max_displacement_mm",
    "register_rigid",
    "resample",
    "rotation_angle_deg",
]

_FLOAT_IMAGE = itk.Image[itk.F, 3]


@dataclass
class RigidRegistration:
    """The outcome of :func:`register_rigid`.

    Attributes:
        transform: ITK rigid transform from fixed to moving physical (LPS) points, ready for :func:`resample`.
        matrix: the same map in RAS world coordinates (4x4): a point of the fixed image's world goes to the point of
            the moving image's world that shows the same anatomy.
        rotation_deg: rotation angle (about the best axis) of the transform.
        translation_mm: displacement (RAS, mm) of the rotation centre, the centre of the fixed image.
        metric_value: final Mattes mutual-information metric (negative; lower is better aligned).
    """

    transform: itk.Euler3DTransform
    matrix: np.ndarray
    rotation_deg: float
    translation_mm: tuple[float, float, float]
    metric_value: float


def rotation_angle_deg(matrix: np.ndarray) -> float:
    """Angle (degrees) of the rotation part of a rigid 4x4 or 3x3 matrix."""
    cosine = (np.trace(np.asarray(matrix)[:3, :3]) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cosine, -1.0, 1.0))))


def _ras_matrix(transform: itk.Euler3DTransform) -> np.ndarray:
    """The transform's LPS map ``x -> M x + offset`` as a 4x4 matrix in RAS coordinates."""
    lps = np.eye(4)
    lps[:3, :3] = itk.array_from_matrix(transform.GetMatrix())
    lps[:3, 3] = np.asarray(transform.GetOffset())
    return RAS_TO_LPS @ lps @ RAS_TO_LPS


def _image_centre(image: itk.Image) -> list[float]:
    """Physical (LPS) position of the centre of an image's grid."""
    size = np.asarray(image.GetLargestPossibleRegion().GetSize(), dtype=np.float64)
    index_to_point = itk.array_from_matrix(image.GetDirection()) * np.asarray(image.GetSpacing())
    return (np.asarray(image.GetOrigin()) + index_to_point @ ((size - 1.0) / 2.0)).tolist()


def _sampling_percentages(image: itk.Image, shrink_factors: Sequence[int], samples_per_level: int) -> list[float]:
    """Share of the fixed grid's voxels to sample at each level so that every level uses about the same count."""
    voxels = float(np.prod(np.asarray(image.GetLargestPossibleRegion().GetSize(), dtype=np.float64)))
    return [min(1.0, samples_per_level * shrink**3 / voxels) for shrink in shrink_factors]


def register_rigid(
    fixed: itk.Image,
    moving: itk.Image,
    *,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_sigmas: Sequence[float] = (2.0, 1.0, 0.0),
    samples_per_level: int = 100_000,
    histogram_bins: int = 32,
    iterations: int = 100,
    learning_rate: float = 2.0,
    seed: int = 0,
) -> RigidRegistration:
    """Find the rigid motion that aligns ``moving`` with ``fixed`` by maximising their Mattes mutual information.

    The search starts at the identity in world space, i.e. from the alignment the image headers already give (ITK's
    physical space honours them), and rotates about the centre of the fixed image. It runs coarse to fine over the
    levels (``shrink_factors`` with Gaussian ``smoothing_sigmas`` in voxels) with a regular-step gradient descent whose
    parameter scales come from the physical shift each parameter causes, so that a step moves any voxel by at most
    about ``learning_rate`` mm. The metric is evaluated on a fixed random subset of the fixed image's voxels drawn
    from ``seed``, so repeated calls give the same result (up to the rounding of ITK's multi-threaded sums, which
    changed the parameters by about 1e-9 in tests).

    Args:
        fixed: the reference image (``itk.Image[itk.F, 3]``, e.g. from ``to_itk_image``).
        moving: the image to align (same type).
        shrink_factors: downsampling factor of each level, coarse to fine.
        smoothing_sigmas: Gaussian smoothing (voxels) of each level.
        samples_per_level: number of voxels the metric samples at each level (at most all of them); this, not the
            image size, sets the cost of an iteration.
        histogram_bins: bins of the joint histogram of the Mattes metric.
        iterations: maximum gradient-descent iterations per level.
        learning_rate: initial step (about mm of voxel displacement); halved whenever the gradient turns back.
        seed: seed of the random voxel sample.

    Returns:
        The transform and its summary.

    Raises:
        ValueError: ``shrink_factors`` and ``smoothing_sigmas`` differ in length.
    """
    if len(shrink_factors) != len(smoothing_sigmas):
        raise ValueError(f"shrink_factors {shrink_factors} and smoothing_sigmas {smoothing_sigmas} differ in length")
    transform = itk.Euler3DTransform[itk.D].New()
    transform.SetCenter(_image_centre(fixed))

    metric = itk.MattesMutualInformationImageToImageMetricv4[_FLOAT_IMAGE, _FLOAT_IMAGE].New()
    metric.SetNumberOfHistogramBins(histogram_bins)
    scales = itk.RegistrationParameterScalesFromPhysicalShift[type(metric)].New()
    scales.SetMetric(metric)
    optimizer = itk.RegularStepGradientDescentOptimizerv4[itk.D].New()
    optimizer.SetScalesEstimator(scales)
    optimizer.SetLearningRate(learning_rate)
    optimizer.SetMinimumStepLength(1e-4)
    optimizer.SetGradientMagnitudeTolerance(1e-8)
    # Halving only on a clear reversal: random sampling makes the gradient noisy, and faster decay stops too early.
    optimizer.SetRelaxationFactor(0.7)
    optimizer.SetNumberOfIterations(iterations)

    registration = itk.ImageRegistrationMethodv4[_FLOAT_IMAGE, _FLOAT_IMAGE].New()
    registration.SetFixedImage(fixed)
    registration.SetMovingImage(moving)
    registration.SetMetric(metric)
    registration.SetOptimizer(optimizer)
    registration.SetInitialTransform(transform)
    registration.InPlaceOn()
    registration.SetNumberOfLevels(len(shrink_factors))
    registration.SetShrinkFactorsPerLevel([int(f) for f in shrink_factors])
    registration.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_sigmas])
    registration.SetSmoothingSigmasAreSpecifiedInPhysicalUnits(False)
    registration.SetMetricSamplingStrategy(itk.ImageRegistrationMethodv4Enums.MetricSamplingStrategy_RANDOM)
    registration.SetMetricSamplingPercentagePerLevel(_sampling_percentages(fixed, shrink_factors, samples_per_level))
    registration.MetricSamplingReinitializeSeed(seed)
    registration.Update()

    matrix = _ras_matrix(transform)
    centre = np.append(RAS_TO_LPS[:3, :3] @ np.asarray(transform.GetCenter()), 1.0)
    return RigidRegistration(
        transform=transform,
        matrix=matrix,
        rotation_deg=rotation_angle_deg(matrix),
        translation_mm=tuple(float(v) for v in (matrix @ centre - centre)[:3]),
        metric_value=float(optimizer.GetValue()),
    )


def _array_from_itk(image: itk.Image) -> np.ndarray:
    """Voxel array of an ITK image, indexed ``[i, j, k]`` like the NIfTI volume it was made from."""
    return np.ascontiguousarray(itk.array_from_image(image).T)


def _resampled(
    moving: itk.Image,
    reference: itk.Image,
    transform: itk.Transform | None,
    interpolator: itk.InterpolateImageFunction,
) -> itk.Image:
    """``moving`` resampled onto ``reference``'s grid through ``transform`` (identity if None), 0 outside."""
    return itk.resample_image_filter(
        moving,
        transform=transform if transform is not None else itk.IdentityTransform[itk.D, 3].New(),
        interpolator=interpolator,
        use_reference_image=True,
        reference_image=reference,
        default_pixel_value=0.0,
    )


def resample(moving: itk.Image, reference: itk.Image, transform: itk.Transform | None = None) -> np.ndarray:
    """Linearly interpolate ``moving`` at the voxel centres of ``reference``.

    Args:
        moving: the image to resample.
        reference: the image whose grid (and header) the result takes.
        transform: map from reference to moving physical points; None follows the headers alone.

    Returns:
        float32 array indexed like ``reference``'s voxels; 0 where the grid falls outside ``moving``.
    """
    interpolator = itk.LinearInterpolateImageFunction[_FLOAT_IMAGE, itk.D].New()
    return _array_from_itk(_resampled(moving, reference, transform, interpolator))


def field_of_view_mask(moving: itk.Image, reference: itk.Image, transform: itk.Transform | None = None) -> np.ndarray:
    """Voxels of ``reference``'s grid that fall inside ``moving``'s field of view (through ``transform``).

    Args:
        moving: the image whose field of view is mapped.
        reference: the grid of the result.
        transform: map from reference to moving physical points; None follows the headers alone.

    Returns:
        Boolean array indexed like ``reference``'s voxels.
    """
    ones = itk.image_from_array(np.ones(itk.array_view_from_image(moving).shape, dtype=np.float32))
    ones.CopyInformation(moving)
    interpolator = itk.NearestNeighborInterpolateImageFunction[_FLOAT_IMAGE, itk.D].New()
    return _array_from_itk(_resampled(ones, reference, transform, interpolator)) > 0.5


def bounding_box_corners(mask: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World (RAS) positions of the 8 corners of the voxel bounding box of a mask.

    Args:
        mask: boolean volume with at least one True voxel.
        affine: its voxel-to-world matrix.

    Returns:
        Array of shape (8, 3).

    Raises:
        ValueError: the mask is empty.
    """
    voxels = np.argwhere(mask)
    if voxels.size == 0:
        raise ValueError("bounding_box_corners needs a non-empty mask")
    low, high = voxels.min(axis=0), voxels.max(axis=0)
    corners = np.array([[(low, high)[bit][axis] for axis, bit in enumerate(bits)] for bits in np.ndindex(2, 2, 2)])
    return (affine @ np.c_[corners, np.ones(8)].T).T[:, :3]


def max_displacement_mm(matrix: np.ndarray, points: np.ndarray, reference: np.ndarray | None = None) -> float:
    """Largest distance between where ``matrix`` and ``reference`` (identity if None) send the given points.

    The distance is a convex function of the point (both maps are affine), so its maximum over a box is reached at a
    corner: passing :func:`bounding_box_corners` bounds the displacement of every point inside the box.

    Args:
        matrix: 4x4 world-to-world map.
        points: array of shape (N, 3) of world positions.
        reference: 4x4 map to compare with.

    Returns:
        The maximum Euclidean distance in mm.
    """
    reference = np.eye(4) if reference is None else reference
    homogeneous = np.c_[np.asarray(points, dtype=np.float64), np.ones(len(points))].T
    return float(np.linalg.norm(((matrix - reference) @ homogeneous)[:3], axis=0).max())
