"""Inputs of inference: a NIfTI volume or 2D image file, or a folder of one of the two kinds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "NIFTI_SUFFIXES", "InferenceInputs", "file_kind", "files_by_kind", "list_inference_inputs"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class InferenceInputs:
    """What to translate.

    Attributes:
        kind: ``"volume"`` (NIfTI, translated slice by slice) or ``"slice"`` (2D image files).
        files: ``[{"image": path}, ...]`` sorted by name.
    """

    kind: str
    files: list[dict[str, str]]


def file_kind(path: str | Path) -> str | None:
    """``"volume"`` for a NIfTI name, ``"slice"`` for a PNG/JPEG name (any case), else ``None``."""
    name = Path(path).name.lower()
    if name.endswith(NIFTI_SUFFIXES):
        return "volume"
    if name.endswith(IMAGE_SUFFIXES):
        return "slice"
    return None


def files_by_kind(folder: Path) -> dict[str, list[Path]]:
    """The visible NIfTI (``"volume"``) and 2D image (``"slice"``) files directly inside ``folder``, sorted by name.

    Hidden files (``.DS_Store``, ``._x.png``) and files of other kinds are left out; a kind with no file is absent.
    """
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        kind = file_kind(path)
        if kind and path.is_file() and not path.name.startswith("."):
            found.setdefault(kind, []).append(path)
    return found


def _expected() -> str:
    return f"NIfTI ({', '.join(NIFTI_SUFFIXES)}) or 2D images ({', '.join(IMAGE_SUFFIXES)})"


def list_inference_inputs(input_path: str | Path) -> InferenceInputs:
    """The files to translate: ``input_path`` itself, or every NIfTI or image file directly inside the folder.

    Raises:
        FileNotFoundError: when ``input_path`` does not exist.
        ValueError: when it is empty, a file of another kind, a folder with none, or a folder mixing volumes and 2D
            images.
    """
    if not str(input_path):
        raise ValueError(f"input_path is empty: give a file or a folder of {_expected()} (--input_path PATH).")
    path = Path(input_path)
    if not path.exists():
        raise FileNotFoundError(f"input_path {str(path)!r} does not exist.")
    if path.is_file():
        kind = file_kind(path)
        if kind is None:
            raise ValueError(f"input_path {str(path)!r} is neither {_expected()}.")
        return InferenceInputs(kind, [{"image": str(path)}])
    found = files_by_kind(path)
    if not found:
        raise ValueError(f"input_path {str(path)!r} is a folder with no {_expected()}.")
    if len(found) > 1:
        raise ValueError(f"input_path {str(path)!r} mixes NIfTI volumes and 2D images; translate one kind at a time.")
    kind, files = found.popitem()
    return InferenceInputs(kind, [{"image": str(p)} for p in files])
