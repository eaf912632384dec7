"""Pairing of each subject's T2 with its T1 for paired evaluation: the T2 resampled onto the T1 grid.

IXI's T1 (sagittal) and T2 (axial) volumes of a subject are acquired on different grids, and the head may move
between the two scans. :func:`pair_volumes` resamples the T2 onto the T1 grid by the headers, registers the two
rigidly when the headers do not already agree, and reports how well the result is aligned;
:func:`pair_dataset` does this for every subject of an IXI-layout directory.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import itk
import nibabel as nib
import numpy as np
from tqdm import tqdm

from monai_cyclegan.data.ixi import list_ixi_volumes
from monai_cyclegan.files import save_volume, write_atomically, write_csv, write_json
from monai_cyclegan.registration.masks import foreground_mask
from monai_cyclegan.registration.quality import AlignmentQuality, alignment_quality
from monai_cyclegan.registration.rigid import (
    bounding_box_corners,
    field_of_view_mask,
    max_displacement_mm,
    register_rigid,
    resample,
)
from monai_cyclegan.registration.volumes import load_volume, to_itk_image

__all__ = [
    "HEADER_TOLERANCE_MM",
    "MIN_DICE",
    "MIN_NMI",
    "PAIRING_METHODS",
    "PairingResult",
    "pair_dataset",
    "pair_volumes",
]

PAIRING_METHODS = ("auto", "header", "rigid")

HEADER_TOLERANCE_MM = 1.0
"""With ``method="auto"`` the header alignment is kept unless registration moves the head by more than this.

The displacement is the largest one over the corners of the T1 head's bounding box, so no voxel of the head moves
more; 1 mm is about one IXI voxel, the accuracy that paired voxel-wise evaluation needs.
"""

MIN_DICE = 0.90
"""Head-mask Dice below which a pairing is reported as poor. Aligned T1/T2 heads of one phantom subject reach
0.94-0.99 (the T2 mask misses the scalp's skin, which is dark on T2), a 5 mm shift still 0.95; a mask of noise
0.42. So this only flags gross failures; the NMI threshold flags subtler ones."""

MIN_NMI = 1.05
"""NMI below which a pairing is reported as poor; it catches pairings whose head outlines overlap but whose anatomy
does not. On the phantom, aligned T1/T2 pairs reach 1.10-1.29 (depending on resolution), a 3 mm shift gives about
1.05, another subject's T2 after registration 1.04-1.06 and noise 1.00. Calibrated on the phantom only."""


@dataclass
class PairingResult:
    """What :func:`pair_volumes` did and how well the pair is aligned.

    Attributes:
        subject: label of the pair (the subject id in :func:`pair_dataset`).
        status: ``"ok"``, or ``"poor"`` when the final Dice is below :data:`MIN_DICE` or the NMI below
            :data:`MIN_NMI`.
        method: how the written T2 was resampled: ``"header"`` (headers only) or ``"rigid"`` (registration).
        dice_before, nmi_before: alignment by the headers alone.
        dice_after, nmi_after: alignment of the written T2.
        rotation_deg, translation_mm, displacement_mm: the motion found by registration (rotation angle, RAS
            translation of the T1 grid's centre, largest displacement of the T1 head's bounding box); None when no
            registration ran. With ``"auto"`` they are reported even when the header alignment was kept.
        t1, t2, output, mask: the input and output files.
    """

    subject: str
    status: str
    method: str
    dice_before: float
    nmi_before: float
    dice_after: float
    nmi_after: float
    rotation_deg: float | None
    translation_mm: tuple[float, float, float] | None
    displacement_mm: float | None
    t1: str
    t2: str
    output: str
    mask: str

    def as_row(self) -> dict[str, Any]:
        """The result as one flat report row (the translation split into RAS x, y and z columns)."""
        row = asdict(self)
        translation = row.pop("translation_mm") or (None, None, None)
        for axis, value in zip("xyz", translation, strict=True):
            row[f"translation_{axis}_mm"] = value
        return row


@dataclass
class _Alignment:
    """The T2 resampled onto the T1 grid one way, with the field of view it covers and its quality."""

    array: np.ndarray
    field_of_view: np.ndarray
    quality: AlignmentQuality


def _align(
    fixed: itk.Image, moving: itk.Image, t1: np.ndarray, t1_mask: np.ndarray, transform: itk.Transform | None = None
) -> _Alignment:
    """Resample ``moving`` onto ``fixed`` through ``transform`` (None: by the headers) and measure the alignment."""
    array = resample(moving, fixed, transform)
    field_of_view = field_of_view_mask(moving, fixed, transform)
    return _Alignment(array, field_of_view, alignment_quality(t1, array, t1_mask, field_of_view))


def _default_mask_path(out_path: Path) -> Path:
    """``<name>-mask.nii.gz`` next to ``<name>.nii[.gz]``."""
    stem = out_path.name.removesuffix(".gz").removesuffix(".nii")
    return out_path.with_name(f"{stem}-mask.nii.gz")


def _is_poor(quality: AlignmentQuality) -> bool:
    """Whether the alignment is below :data:`MIN_DICE` or :data:`MIN_NMI`."""
    return quality.dice < MIN_DICE or quality.nmi < MIN_NMI


def pair_volumes(
    t1_path: str | Path,
    t2_path: str | Path,
    out_path: str | Path,
    method: str = "auto",
    *,
    mask_path: str | Path | None = None,
    subject: str | None = None,
    header_tolerance_mm: float = HEADER_TOLERANCE_MM,
    registration_options: Mapping[str, Any] | None = None,
) -> PairingResult:
    """Resample a T2 volume onto the grid of the T1 of the same subject and report how well they align.

    The T2 is first resampled by the headers (the world coordinates both files claim). Then, depending on
    ``method``:

    * ``"header"``: keep that;
    * ``"rigid"``: register the T2 rigidly to the T1 (:func:`~monai_cyclegan.registration.rigid.register_rigid`)
      and resample through the registration;
    * ``"auto"``: register, but keep the header resampling unless the registration moves the head by more than
      ``header_tolerance_mm`` **and** raises the NMI. Registering is the only reliable way to tell: a shift of a
      few mm lowers the mask Dice by only about 0.007 per mm (phantom), too little for a threshold, and NMI has no
      absolute value that marks "aligned" (it depends on noise and resolution).

    The T2 on the T1 grid (float32, linear interpolation, 0 outside the T2's field of view) is written to
    ``out_path`` with the T1's affine, and the T1 head mask restricted to that field of view to ``mask_path``
    (uint8; the voxels where a masked paired evaluation is meaningful). Both writes are atomic.

    Args:
        t1_path: the T1 NIfTI file, the reference grid.
        t2_path: the T2 NIfTI file of the same subject.
        out_path: output file for the T2 on the T1 grid (``.nii.gz``).
        method: ``"auto"``, ``"header"`` or ``"rigid"``.
        mask_path: output file for the mask; by default ``<out_path name>-mask.nii.gz`` next to ``out_path``.
        subject: label for the result; by default the T1's file name.
        header_tolerance_mm: the ``"auto"`` threshold described above.
        registration_options: keyword arguments for ``register_rigid`` (e.g. ``{"seed": 1}``).

    Returns:
        The result record (the caller decides how to report it).

    Raises:
        ValueError: ``method`` is unknown, or an input cannot be read, is not 3D or shows no head; the message names
            the file.
        FileNotFoundError: an input does not exist.
    """
    if method not in PAIRING_METHODS:
        raise ValueError(f"method must be one of {PAIRING_METHODS}, got {method!r}")
    t1, t2 = load_volume(t1_path), load_volume(t2_path)
    t1_mask = foreground_mask(t1.array)
    if not t1_mask.any():
        raise ValueError(f"cannot pair {t1.path!r}: no head found in it (the image is empty or constant)")
    fixed, moving = to_itk_image(t1), to_itk_image(t2)
    header = chosen = _align(fixed, moving, t1.array, t1_mask)
    registration, displacement = None, None
    if method != "header":
        registration = register_rigid(fixed, moving, **(registration_options or {}))
        displacement = max_displacement_mm(registration.matrix, bounding_box_corners(t1_mask, t1.affine))
        rigid = _align(fixed, moving, t1.array, t1_mask, registration.transform)
        if method == "rigid" or (displacement > header_tolerance_mm and rigid.quality.nmi > header.quality.nmi):
            chosen = rigid

    out_path = Path(out_path)
    mask_path = _default_mask_path(out_path) if mask_path is None else Path(mask_path)
    save_volume(chosen.array.astype(np.float32), t1.affine, out_path)
    save_volume(np.logical_and(t1_mask, chosen.field_of_view).astype(np.uint8), t1.affine, mask_path)
    return PairingResult(
        subject=subject if subject is not None else Path(t1.path).name,
        status="poor" if _is_poor(chosen.quality) else "ok",
        method="header" if chosen is header else "rigid",
        dice_before=header.quality.dice,
        nmi_before=header.quality.nmi,
        dice_after=chosen.quality.dice,
        nmi_after=chosen.quality.nmi,
        rotation_deg=None if registration is None else registration.rotation_deg,
        translation_mm=None if registration is None else registration.translation_mm,
        displacement_mm=displacement,
        t1=t1.path,
        t2=t2.path,
        output=str(out_path),
        mask=str(mask_path),
    )


def _subject_pairs(dataset_dir: str | Path) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """``{subject: (t1, t2)}`` for the subjects with both contrasts, and the subjects that have only one."""
    volumes = list_ixi_volumes(dataset_dir)
    by_contrast: dict[str, dict[str, str]] = {}
    for contrast, entries in volumes.items():
        paths = by_contrast.setdefault(contrast, {})
        for entry in entries:
            if entry["subject"] in paths:
                raise ValueError(
                    f"subject {entry['subject']} has more than one {contrast.upper()} volume: "
                    f"{paths[entry['subject']]!r} and {entry['image']!r}"
                )
            paths[entry["subject"]] = entry["image"]
    t1s, t2s = by_contrast["t1"], by_contrast["t2"]
    pairs = {subject: (t1s[subject], t2s[subject]) for subject in sorted(t1s.keys() & t2s.keys())}
    return pairs, sorted(t1s.keys() ^ t2s.keys())


def _copy_as_nifti_gz(source: str, target: Path) -> None:
    """Copy a NIfTI file to a ``.nii.gz`` target, atomically; an uncompressed source is re-encoded."""
    if source.endswith(".gz"):
        write_atomically(target, lambda temporary: shutil.copyfile(source, temporary))
    else:
        write_atomically(target, lambda temporary: nib.save(nib.load(source), str(temporary)))


def _write_reports(rows: list[dict[str, Any]], out_dir: Path) -> None:
    """Write ``pairing_report.csv`` and ``pairing_report.json`` (one row per subject) atomically."""
    write_csv(out_dir / "pairing_report.csv", rows)
    write_json(out_dir / "pairing_report.json", rows)


def pair_dataset(
    dataset_dir: str | Path, out_dir: str | Path, method: str = "auto", progress: bool = True, **pair_options: Any
) -> list[PairingResult]:
    """Pair every subject of an IXI-layout directory that has both a T1 and a T2 (see :func:`pair_volumes`).

    Writes into ``out_dir`` (created if needed), per subject: ``<subject>-T1.nii.gz`` (a copy of the T1),
    ``<subject>-T2.nii.gz`` (the T2 on the T1 grid) and ``<subject>-mask.nii.gz``; then ``pairing_report.csv`` and
    ``pairing_report.json`` with one row per subject. A subject whose pairing is poor gets a warning with its
    numbers; subjects with only one contrast are skipped with a warning.

    Args:
        dataset_dir: directory with ``IXI-T1/`` and ``IXI-T2/``.
        out_dir: output directory.
        method: ``"auto"``, ``"header"`` or ``"rigid"``.
        progress: show a progress bar of the subjects on stderr (an IXI subject takes about 15 s).
        **pair_options: further keyword arguments of :func:`pair_volumes` (e.g. ``registration_options``).

    Returns:
        One result per subject, sorted by subject.

    Raises:
        FileNotFoundError: ``dataset_dir`` or an input file does not exist.
        ValueError: no subject has both contrasts, a subject has two volumes of one contrast, or an input cannot be
            read (the message names the file).
    """
    pairs, unpaired = _subject_pairs(dataset_dir)
    if not pairs:
        raise ValueError(f"no subject in {str(dataset_dir)!r} has both a T1 and a T2 volume (found {unpaired[:10]})")
    if unpaired:
        warnings.warn(f"skipping subjects with only one of T1/T2: {unpaired}", stacklevel=2)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with tqdm(pairs.items(), desc=f"pairing {len(pairs)} subjects", unit="subject", disable=not progress) as bar:
        for subject, (t1_path, t2_path) in bar:
            result = pair_volumes(
                t1_path,
                t2_path,
                out_dir / f"{subject}-T2.nii.gz",
                method,
                mask_path=out_dir / f"{subject}-mask.nii.gz",
                subject=subject,
                **pair_options,
            )
            _copy_as_nifti_gz(t1_path, out_dir / f"{subject}-T1.nii.gz")
            if result.status == "poor":
                warnings.warn(
                    f"pairing of subject {subject} is poor (method {result.method}): Dice {result.dice_after:.3f} "
                    f"(minimum {MIN_DICE}), NMI {result.nmi_after:.3f} (minimum {MIN_NMI}); check {result.output}",
                    stacklevel=2,
                )
            results.append(result)
    _write_reports([result.as_row() for result in results], out_dir)
    return results
