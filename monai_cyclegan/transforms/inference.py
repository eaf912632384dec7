"""The preprocessing of translation: the header of each NIfTI input checked before any voxel is read.

A NIfTI header can declare anything: a grid of 10^15 voxels in a file of a few bytes, a singular or NaN affine, metres
instead of millimetres. Loaded as they are, such files make MONAI allocate until the process is killed, fail deep in
the resampling with a message that names no file, or translate on a grid far from the one the header means.
:class:`CheckNiftiHeaderd` refuses them with an error naming the file, from the header alone, before the volume is
read; the checks of the loaded array (:class:`~monai_cyclegan.transforms.ValidateVolumed`) follow as in training.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from copy import deepcopy
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.data.utils import correct_nifti_header_if_necessary
from monai.transforms import Compose, Invertd, MapTransform, SpatialResample, Transform
from monai.utils import MetaKeys, TraceKeys
from nibabel.openers import ImageOpener

from monai_cyclegan.checks import check_positive_int
from monai_cyclegan.transforms.pipelines import image_file_preprocessing, model_spacing, volume_preprocessing

__all__ = [
    "MAX_VOXELS",
    "CheckNiftiHeader",
    "CheckNiftiHeaderd",
    "InvertToInputd",
    "resample_to_grid",
    "translation_preprocessing",
]

# The largest volume translated, on its own grid or on the model's: 2^28 voxels (e.g. 512 x 512 x 1024), 1 GiB per
# float32 copy. A run holds a few such copies (the input, the model-grid input and output, the output).
MAX_VOXELS = 2**28
# Spatial units of the NIfTI header read as millimetres; others (metres, micrometres) would be read as mm by MONAI.
_MILLIMETRE_UNITS = ("mm", "unknown")
# Smallest voxel size (mm) and smallest |det| of the normalised direction matrix: below them the affine is degenerate.
_MIN_SPACING_MM = 1e-3
_MIN_DIRECTION_DET = 1e-3
# How far MONAI's reading of an affine may be from nibabel's (mm).
_AFFINE_ATOL = 1e-4


class CheckNiftiHeader(Transform):
    """Pass a NIfTI file name through if its header describes a volume that translation can load and resample.

    Read from the header alone (nibabel reads no voxel data until asked): the shape must be 3D (or 4D with one volume),
    non-empty and at most ``max_voxels`` voxels; the voxel type real numbers; the spatial unit millimetres (or
    unknown); the affine (nibabel's: the sform if its code is set, else the qform, else the pixdims) finite and
    invertible, with voxel sizes of at least 0.001 mm; the pixdims positive where they set the grid; MONAI's reading
    of the affine the same as nibabel's (MONAI's ``NibabelReader`` replaces an sform whose voxel sizes disagree with
    the pixdims by the qform or by the pixdims alone, and does so for every 4D file whose qform code is 0, so it would
    translate such a file on a grid that nibabel and the viewers do not use); and the volume, resampled to
    ``spacing``, at most ``max_voxels`` voxels too. A file nibabel cannot parse, or that is not NIfTI-1, is passed
    through for the loader to report or check. When both the qform and the sform are set and disagree, it warns: the
    output follows the sform, as nibabel and MONAI do.

    Args:
        max_voxels: the largest volume accepted, on the input's grid and on the model's.
        spacing: the model's voxel size (mm); None skips the check of the resampled size.

    Raises:
        ValueError: at call time, ``"<file>: <problem>"``.
    """

    def __init__(self, max_voxels: int = MAX_VOXELS, spacing: Sequence[float] | None = None) -> None:
        check_positive_int("max_voxels", max_voxels)
        self.max_voxels = max_voxels
        self.spacing = None if spacing is None else np.asarray(spacing, dtype=float)

    def problem(self, image: nib.Nifti1Image, pixdim: np.ndarray | None = None) -> str | None:
        """What is wrong with the header of ``image``, or None.

        Args:
            image: the image as nibabel loads it (this check may change its header as MONAI's reader does).
            pixdim: the voxel sizes as the file stores them (nibabel's loading replaces zero and negative ones);
                None takes the loaded header's.
        """
        header = image.header
        shape = tuple(int(s) for s in header.get_data_shape())
        if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 1)):
            return f"expected a 3D volume, got an array of shape {shape}."
        if 0 in shape:
            return f"the volume is empty (shape {shape})."
        voxels = math.prod(shape)
        if voxels > self.max_voxels:
            return (
                f"its header declares {'x'.join(map(str, shape))} = {voxels} voxels, more than max_voxels "
                f"({self.max_voxels}); refused before loading."
            )
        dtype = header.get_data_dtype()
        if dtype.kind not in "biuf":
            return f"unsupported voxel type {dtype} (complex, RGB or structured); expected one grey value per voxel."
        unit = header.get_xyzt_units()[0]
        if unit not in _MILLIMETRE_UNITS:
            return f"its spatial unit is {unit!r}; only millimetres (or unknown units, read as mm) are supported."
        affine = np.array(image.affine, dtype=float)
        if not np.isfinite(affine).all():
            return f"its voxel-to-world affine holds NaN or infinite values: {affine[:3].tolist()}."
        sizes = np.linalg.norm(affine[:3, :3], axis=0)
        if (sizes < _MIN_SPACING_MM).any():
            return f"its voxel sizes {sizes.round(6).tolist()} mm include zero or nearly zero (pixdim or affine)."
        if abs(np.linalg.det(affine[:3, :3] / sizes)) < _MIN_DIRECTION_DET:
            return f"its voxel-to-world affine is singular (axes along the same direction): {affine[:3].tolist()}."
        pixdim = header["pixdim"][1:4].astype(float) if pixdim is None else np.asarray(pixdim, dtype=float)
        if header["sform_code"] == 0 and (pixdim <= 0).any():
            return (
                f"its pixdims {pixdim.tolist()} include zero or negative voxel sizes, and with no sform they set its "
                "grid (nibabel would replace them by 1 or their absolute values)."
            )
        monai_affine = np.asarray(correct_nifti_header_if_necessary(image).affine, dtype=float)
        if not np.allclose(monai_affine, affine, atol=_AFFINE_ATOL):
            return (
                f"MONAI's NIfTI reader would place it on another grid ({monai_affine[:3].round(4).tolist()}) than the "
                f"affine of its header ({affine[:3].round(4).tolist()}), which nibabel and viewers use; refused rather "
                f"than translated out of place. Its pixdims {pixdim.round(4).tolist()} may disagree with the affine's "
                "voxel sizes, or it is 4D with only an sform, which MONAI replaces: write it as a 3D NIfTI whose "
                "pixdims match its affine."
            )
        if self.spacing is not None:
            resampled = [math.ceil(n * s / m) for n, s, m in zip(shape[:3], sizes, self.spacing, strict=True)]
            if math.prod(resampled) > self.max_voxels:
                return (
                    f"its {'x'.join(map(str, shape[:3]))} voxels of {sizes.round(4).tolist()} mm would be "
                    f"{'x'.join(map(str, resampled))} = {math.prod(resampled)} voxels at the model's "
                    f"{self.spacing.round(4).tolist()} mm, more than max_voxels ({self.max_voxels})."
                )
        return None

    def __call__(self, path: Any) -> Any:
        """Check the header of ``path``; see the class docstring."""
        if not isinstance(path, str) and not hasattr(path, "__fspath__"):  # an array, not a file
            return path
        try:
            image = nib.load(str(path))
            with ImageOpener(str(path)) as f:  # the header as stored: loading repairs its pixdims
                pixdim = type(image.header).from_fileobj(f, check=False)["pixdim"][1:4].astype(float)
        except Exception:  # noqa: BLE001 - the loader reports an unreadable file with the same cause
            return path
        if not isinstance(image, nib.Nifti1Image):  # e.g. an Analyze file
            return path
        header = image.header
        disagree = header["qform_code"] > 0 and header["sform_code"] > 0
        disagree = disagree and not np.allclose(header.get_qform(), header.get_sform(), atol=1e-3)
        problem = self.problem(image, pixdim)
        if problem:
            raise ValueError(f"{path}: {problem}")
        if disagree:
            warnings.warn(
                f"{path}: its qform and sform disagree; translated on the sform's grid (as nibabel and MONAI read "
                "it), which the output carries as both.",
                stacklevel=2,
            )
        return path


class CheckNiftiHeaderd(MapTransform):
    """Dictionary version of :class:`CheckNiftiHeader`, on the file names of ``keys`` before they are loaded."""

    def __init__(
        self,
        keys: KeysCollection,
        max_voxels: int = MAX_VOXELS,
        spacing: Sequence[float] | None = None,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.check = CheckNiftiHeader(max_voxels, spacing)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Check the file of every key."""
        d = dict(data)
        for key in self.key_iterator(d):
            self.check(d[key])
        return d


def translation_preprocessing(
    kind: str, image_size: int = 256, fov_mm: float = 256.0, max_voxels: int = MAX_VOXELS
) -> Compose:
    """The invertible preprocessing of a translation input of ``kind`` ``"volume"`` or ``"slice"``.

    A volume: :class:`CheckNiftiHeaderd`, then :func:`~monai_cyclegan.transforms.volume_preprocessing` (load, check,
    RAS, the model's spacing, robust scaling), as in training. A 2D image file:
    :func:`~monai_cyclegan.transforms.image_file_preprocessing`.

    Raises:
        ValueError: for another kind.
    """
    if kind == "volume":
        spacing = model_spacing(image_size, fov_mm)
        return Compose(
            [
                CheckNiftiHeaderd("image", max_voxels, spacing),
                *volume_preprocessing(("image",), image_size, fov_mm).transforms,
            ]
        )
    if kind == "slice":
        return image_file_preprocessing(("image",), image_size)
    raise ValueError(f"kind must be 'volume' or 'slice', got {kind!r}.")


def resample_to_grid(
    image: torch.Tensor,
    affine: torch.Tensor | np.ndarray,
    target_affine: torch.Tensor | np.ndarray,
    target_shape: Sequence[int],
    chunk_voxels: int = 2**22,
    mode: str = "bilinear",
    padding_mode: str = "border",
    align_corners: bool = False,
) -> torch.Tensor:
    """``image`` ``(C, *spatial)`` on the grid ``affine``, resampled onto the grid ``target_affine``, ``target_shape``.

    MONAI's resampling builds the sampling grid of the whole output at once, in float64 for ``Spacingd``: 24 bytes per
    output voxel, 2.3 GiB for a 512x512x400 volume, beside a float64 copy of the output. Here the output is filled slab
    by slab along its last axis, each slab at most ``chunk_voxels`` voxels (at least one slice), with MONAI's
    ``SpatialResample`` in float32, into one preallocated float32 array: the memory beyond the input and the output is
    one slab and its grid.

    Args:
        image: the volume, channel first, on the grid ``affine`` (voxel to world, 4x4).
        affine: the grid of ``image``.
        target_affine: the voxel-to-world affine of the output grid.
        target_shape: the spatial shape of the output grid.
        chunk_voxels: the most output voxels resampled at once.
        mode: the interpolation (``SpatialResample``'s ``mode``).
        padding_mode: what points outside ``image`` take (``SpatialResample``'s ``padding_mode``).
        align_corners: ``SpatialResample``'s ``align_corners``.

    Returns:
        A float32 tensor ``(C, *target_shape)`` on the device of ``image``.
    """
    check_positive_int("chunk_voxels", chunk_voxels)
    target_shape = [int(n) for n in target_shape]
    target = torch.as_tensor(np.asarray(target_affine, dtype=np.float64))
    data = image.as_tensor() if isinstance(image, MetaTensor) else torch.as_tensor(image)
    source = MetaTensor(data.float(), affine=torch.as_tensor(np.asarray(affine, dtype=np.float64)))
    output = torch.empty((data.shape[0], *target_shape), dtype=torch.float32, device=data.device)
    resample = SpatialResample(mode=mode, padding_mode=padding_mode, align_corners=align_corners, dtype=torch.float32)
    step = max(1, chunk_voxels // max(1, math.prod(target_shape[:-1])))
    last = len(target_shape) - 1
    for start in range(0, target_shape[-1], step):
        stop = min(start + step, target_shape[-1])
        shift = torch.eye(len(target), dtype=torch.float64)
        shift[last, -1] = start  # the slab's first voxel along the last axis
        with resample.trace_transform(False):
            slab = resample(source, dst_affine=target @ shift, spatial_size=[*target_shape[:-1], stop - start])
        output[..., start:stop] = torch.as_tensor(slab)
    return output


# The steps of the volume preprocessing that only change the grid (the affine): inverted together by one resampling.
_GRID_STEPS = ("Orientation", "SpatialResample")


def _input_grid(image: Any, prediction: Any) -> tuple[np.ndarray, list[int], dict[str, Any]] | None:
    """The grid ``image`` was read on, and how its resampling interpolated, when only grid steps were applied to it.

    Returns:
        ``(affine, spatial_shape, resampling)`` (``resampling``: ``mode``, ``padding_mode``, ``align_corners`` of its
        ``SpatialResample``), or None when ``image`` is not a 3D volume whose applied operations are all
        :data:`_GRID_STEPS` or ``prediction`` is not on its grid.
    """
    if not isinstance(image, MetaTensor) or image.ndim != 4 or not isinstance(prediction, torch.Tensor):
        return None
    operations = list(image.applied_operations)
    if not operations or any(op.get(TraceKeys.CLASS_NAME) not in _GRID_STEPS for op in operations):
        return None
    if any(op.get(TraceKeys.LAZY) for op in operations) or tuple(prediction.shape[1:]) != tuple(image.shape[1:]):
        return None
    first, info = operations[0], operations[0].get(TraceKeys.EXTRA_INFO, {})
    affine = info.get("original_affine" if first[TraceKeys.CLASS_NAME] == "Orientation" else "src_affine")
    if affine is None:
        return None
    resampling = {"mode": "bilinear", "padding_mode": "border", "align_corners": False}
    for op in operations:
        if op[TraceKeys.CLASS_NAME] == "SpatialResample":
            extra = op.get(TraceKeys.EXTRA_INFO, {})
            resampling = {k: extra.get(k, v) for k, v in resampling.items()}
    affine = np.asarray(affine.cpu() if isinstance(affine, torch.Tensor) else affine, dtype=np.float64)
    return affine, [int(n) for n in first[TraceKeys.ORIG_SIZE]], resampling


class InvertToInputd(Invertd):
    """``Invertd`` that takes a volume's prediction back onto its input's grid slab by slab, in bounded memory.

    The volume preprocessing's invertible steps (``Orientationd``, ``Spacingd``) only change the grid, so their inverse
    is one resampling from the model grid (the affine of ``orig_keys``) onto the grid the input was read on (the affine
    and size its first step recorded): :func:`resample_to_grid`, with the interpolation and borders ``Spacingd``
    recorded (nearest with ``nearest_interp``). The result is ``Invertd``'s within float32 rounding, without its
    float64 sampling grid of the whole input. Any other input (a 2D image file, whose fitting is not a change of grid,
    or a chain with other invertible steps) goes through ``Invertd``.

    Args:
        args: those of ``Invertd``.
        chunk_voxels: the most output voxels resampled at once (see :func:`resample_to_grid`).
        kwargs: those of ``Invertd``.
    """

    def __init__(self, *args: Any, chunk_voxels: int = 2**22, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_positive_int("chunk_voxels", chunk_voxels)
        self.chunk_voxels = chunk_voxels

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        """Invert every key: all by resampling when each is a volume that only grid steps moved, else by ``Invertd``."""
        d = dict(data)
        items = list(
            self.key_iterator(d, self.orig_keys, self.nearest_interp, self.to_tensor, self.device, self.post_func)
        )
        grids = [_input_grid(d.get(orig_key), d[key]) for key, orig_key, *_ in items]
        if not items or any(grid is None for grid in grids):
            return super().__call__(d)
        for (key, orig_key, nearest_interp, _, device, post_func), (affine, shape, resampling) in zip(
            items, grids, strict=True
        ):
            source = d[orig_key]
            if nearest_interp:
                resampling["mode"] = "nearest"
            result = resample_to_grid(d[key].detach(), source.affine, affine, shape, self.chunk_voxels, **resampling)
            meta = {k: v for k, v in source.meta.items() if k != MetaKeys.AFFINE}
            inverted = MetaTensor(result, affine=torch.as_tensor(affine), meta=deepcopy(meta)).to(device=device)
            d[key] = post_func(inverted) if callable(post_func) else inverted
        return d
