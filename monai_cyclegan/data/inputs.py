"""Inputs of inference: one NIfTI file or a folder of them."""

from __future__ import annotations

from pathlib import Path

__all__ = ["NIFTI_SUFFIXES", "list_nifti_files"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def list_nifti_files(input_path: str | Path) -> list[dict[str, str]]:
    """``[{"image": path}, ...]`` for a NIfTI file or every NIfTI file directly inside a folder, sorted by name.

    Raises:
        FileNotFoundError: when ``input_path`` does not exist.
        ValueError: when it is empty, not a NIfTI file, or a folder with none.
    """
    if not str(input_path):
        raise ValueError("input_path is empty: give a NIfTI file or a folder of them (--input_path PATH).")
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"input_path {str(path)!r} does not exist.")
    if path.is_file():
        if not path.name.endswith(NIFTI_SUFFIXES):
            raise ValueError(f"input_path {str(path)!r} is not a NIfTI file (expected {' or '.join(NIFTI_SUFFIXES)}).")
        return [{"image": str(path)}]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(NIFTI_SUFFIXES))
    if not files:
        raise ValueError(f"input_path {str(path)!r} is a folder with no NIfTI files ({' or '.join(NIFTI_SUFFIXES)}).")
    return [{"image": str(p)} for p in files]
