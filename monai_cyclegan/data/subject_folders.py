"""Data sets laid out as one folder per subject: ``<subject>/T1.nii.gz``, ``<subject>/T2.nii.gz`` and optional masks.

Many research data sets (BraTS, the Ljubljana MS database, most BIDS derivatives) keep each subject's volumes
together. The two contrasts of a subject are usually on one voxel grid there, so the same folders serve unpaired
training (each contrast read on its own) and paired evaluation.
"""

from __future__ import annotations

from pathlib import Path

from monai_cyclegan.data.inputs import NIFTI_SUFFIXES

__all__ = ["SUBJECT_FILES", "list_subject_folders"]

SUBJECT_FILES: dict[str, tuple[str, ...]] = {
    "t1": ("t1", "t1w"),
    "t2": ("t2", "t2w"),
    "mask": ("mask", "brainmask", "brain_mask"),
    "lesions": ("lesions", "lesion", "lesion_mask"),
}
"""Per role, the file names (without NIfTI suffix, any case) a subject folder may use for it."""


def _role(path: Path) -> str | None:
    name = path.name.lower()
    stem = next((name[: -len(s)] for s in NIFTI_SUFFIXES if name.endswith(s)), None)
    return next((role for role, names in SUBJECT_FILES.items() if stem in names), None)


def _subject_files(folder: Path) -> dict[str, str]:
    """The files of one subject folder by role; two files of one role are refused."""
    files: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        role = _role(path) if path.is_file() and not path.name.startswith(".") else None
        if role is None:
            continue
        if role in files:
            raise ValueError(
                f"subject folder {str(folder)!r} has two {role} files: {Path(files[role]).name}, {path.name}."
            )
        files[role] = str(path)
    return files


def list_subject_folders(root: str | Path) -> list[dict[str, str]]:
    """The subjects of a folder-per-subject data set, sorted by folder name.

    Each entry is ``{"subject": folder name, "t1": path, "t2": path}`` plus ``"mask"`` and ``"lesions"`` where the
    folder has them (file names: :data:`SUBJECT_FILES`). Subfolders without a T1 or T2 volume are left out; an entry
    may lack one contrast when its folder holds only the other.

    Returns an empty list when ``root`` has no subfolder with a T1 or T2 volume.

    Raises:
        ValueError: when a subject folder holds two files of one role (``T1.nii`` and ``t1w.nii.gz``).
    """
    entries = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _subject_files(folder)
        if "t1" in files or "t2" in files:
            entries.append({"subject": folder.name, **files})
    return entries
