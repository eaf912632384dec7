"""Paired T1/T2 data for evaluation: a CSV pairs list of 2D images or volumes, or a directory of paired volumes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monai_cyclegan.data.inputs import NIFTI_SUFFIXES, file_kind
from monai_cyclegan.data.layouts import file_subject
from monai_cyclegan.data.pairs_list import read_pairs_list
from monai_cyclegan.data.splits import load_splits
from monai_cyclegan.data.subject_folders import list_subject_folders

__all__ = ["EvaluationPairs", "baseline_references", "load_pairs"]

# Per subject in a pairs directory (the output of ``monai-cyclegan pair``, or the phantom's ``paired/`` folder).
_T1, _T2, _MASKS, _LESIONS = "-T1", "-T2", ("-mask", "-labels"), "-lesions"


@dataclass(frozen=True)
class EvaluationPairs:
    """Pairs of one kind, ``"slice"`` (2D image files) or ``"volume"`` (NIfTI).

    Each row is ``{"subject", "t1", "t2"}``, with ``"mask"`` (any non-zero voxel is inside) and ``"lesions"`` (a
    lesion mask on the same grid) where the source has them.
    """

    source: str
    kind: str
    rows: list[dict[str, str]]


def _rows_from_directory(path: Path) -> list[dict[str, str]]:
    rows = []
    for t1 in sorted(path.iterdir()):
        subject = next((t1.name[: -len(_T1 + s)] for s in NIFTI_SUFFIXES if t1.name.endswith(_T1 + s)), None)
        if subject is None:
            continue
        t2 = next((c for c in (path / f"{subject}{_T2}{s}" for s in NIFTI_SUFFIXES) if c.is_file()), None)
        if t2 is None:
            raise ValueError(f"{path}: {t1.name} has no {subject}{_T2}.nii.gz partner.")
        row = {"subject": subject, "t1": str(t1), "t2": str(t2)}
        masks = [path / f"{subject}{m}{s}" for m in _MASKS for s in NIFTI_SUFFIXES]
        mask = next((m for m in masks if m.is_file()), None)
        if mask is not None:
            row["mask"] = str(mask)
        lesions = next((f for f in (path / f"{subject}{_LESIONS}{s}" for s in NIFTI_SUFFIXES) if f.is_file()), None)
        if lesions is not None:
            row["lesions"] = str(lesions)
        rows.append(row)
    if not rows:
        rows = [s for s in list_subject_folders(path) if "t1" in s and "t2" in s]
    if not rows:
        raise ValueError(
            f"{path}: no paired volumes; expected <subject>-T1.nii.gz and <subject>-T2.nii.gz files (optionally "
            "<subject>-mask.nii.gz and <subject>-lesions.nii.gz), as written by 'monai-cyclegan pair', or a folder per "
            "subject holding T1.nii.gz and T2.nii.gz (optionally mask.nii.gz and lesions.nii.gz)."
        )
    return rows


def _select(rows: list[dict[str, str]], split_file: str | Path, split: str) -> list[dict[str, str]]:
    """The pairs whose T1 or T2 belongs to ``split``; a pair with one image in another split is refused."""
    splits = load_splits(split_file)
    where = {subject: name for name, subjects in splits.items() for subject in subjects}
    chosen = []
    for row in rows:
        found = {where.get(file_subject(row[c])) or where.get(row["subject"]) for c in ("t1", "t2")} - {None}
        if split not in found:
            continue
        if len(found) > 1:
            raise ValueError(
                f"split file {str(split_file)!r} puts the two images of pair {row['subject']!r} in different splits "
                f"({sorted(found)}): evaluating it would leak training data."
            )
        chosen.append(row)
    if not chosen:
        raise ValueError(f"split {split!r} of {str(split_file)!r} selects none of the pairs.")
    return chosen


def load_pairs(source: str | Path, split_file: str | Path | None = None, split: str = "test") -> EvaluationPairs:
    """The paired images to evaluate on.

    ``source`` is either

    * a CSV file with columns ``t1``, ``t2`` and optionally ``mask``, paths relative to the CSV's folder (2D image
      files or NIfTI volumes, like ``pairs.csv`` of the public slice data set); each pair's subject is its T1 file
      name without extension; or
    * a directory of ``<subject>-T1.nii.gz``, ``<subject>-T2.nii.gz`` and optionally ``<subject>-mask.nii.gz`` (the
      output of ``monai-cyclegan pair``) or ``<subject>-labels.nii.gz`` (the phantom's ``paired/`` folder), and
      ``<subject>-lesions.nii.gz``; or
    * a directory with a folder per subject holding ``T1.nii.gz`` and ``T2.nii.gz`` on one grid, optionally
      ``mask.nii.gz`` and ``lesions.nii.gz`` (:func:`~monai_cyclegan.data.subject_folders.list_subject_folders`),
      like the real-volume protocol's MS patients.

    Args:
        source: the CSV file or the directory.
        split_file: optional split file; only the pairs of ``split`` are kept (a pair is in a split when its
            subject, or either image's file name, is listed there).
        split: the split to keep.

    Raises:
        ValueError: for a missing or malformed source, mixed image kinds, or a split that selects nothing.
    """
    if not str(source):
        raise ValueError("no pairs given: set 'pairs' to a CSV pairs list or a directory of paired volumes.")
    path = Path(source)
    if path.is_dir():
        rows = _rows_from_directory(path)
    elif path.is_file():
        rows = read_pairs_list(path)
    else:
        raise ValueError(f"pairs source {str(path)!r} does not exist (expected a CSV pairs list or a directory).")
    kinds = {file_kind(row[c]) for row in rows for c in ("t1", "t2")}
    if len(kinds) != 1 or None in kinds:
        raise ValueError(f"{path}: pairs must all be 2D image files or all NIfTI volumes, found kinds {kinds}.")
    if split_file:
        rows = _select(rows, split_file, split)
    return EvaluationPairs(str(path), kinds.pop(), rows)


def baseline_references(pairs: EvaluationPairs, split_file: str | Path | None = None) -> EvaluationPairs | None:
    """What the intensity-mapping baseline matches to: None (the other evaluated pairs) unless only one pair is scored.

    A single test subject has no other pair; the baseline then matches to the training split's pairs of the same
    source (only their target-contrast histograms are used, as an unpaired method could).

    Raises:
        ValueError: when a single pair is scored and no split file names training pairs.
    """
    if len(pairs.rows) > 1:
        return None
    if not split_file:
        raise ValueError(
            f"{pairs.source}: one pair only; give a split file whose training subjects the intensity-mapping baseline "
            "can match to."
        )
    return load_pairs(pairs.source, split_file, "train")
