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
from typing import Any

import nibabel as nib
import numpy as np
from monai.config import KeysCollection
from monai.data.utils import correct_nifti_header_if_necessary
from monai.transforms import Compose, MapTransform, Transform
from nibabel.openers import ImageOpener

from monai_cyclegan.checks import check_positive_int
from monai_cyclegan.transforms.pipelines import image_file_preprocessing, model_spacing, volume_preprocessing

__all__ = ["MAX_VOXELS", "CheckNiftiHeader", "CheckNiftiHeaderd", "translation_preprocessing"]

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
