"""Writing files so that a crash never leaves a partial one: atomic replacement, and NIfTI volumes written that way."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch

__all__ = ["load_checkpoint", "save_volume", "write_atomically", "write_csv", "write_json"]

# How torch.load(weights_only=True) reports a pickled object outside its allowlist.
_FOREIGN_OBJECT = re.compile(r"Unsupported global: GLOBAL (\S+)")


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary_path)``, flush the temporary file to disk and rename it to ``path``.

    The temporary file lies in the same folder (so the rename is atomic) and keeps ``path``'s suffixes (so writers
    that pick the format from the name, such as nibabel's ``.nii.gz``, behave the same). Its content is fsync'ed
    before the rename and the folder after it, so that neither a crash of the process nor a power loss leaves a
    partial file under ``path``: a reader sees either the old file or the complete new one.

    Args:
        path: the final file.
        write: writes the content to the path it is given.
    """
    path = Path(path)
    suffixes = "".join(path.suffixes)
    temporary = path.with_name(f".{path.name[: len(path.name) - len(suffixes)]}.{uuid.uuid4().hex[:8]}.tmp{suffixes}")
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
        _fsync(path.parent)
    finally:
        temporary.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's content and metadata to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_safe(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, which JSON can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: str | Path, payload: Any, indent: int = 1) -> Path:
    """Write ``payload`` as indented JSON (NaN and infinities as null), atomically, creating the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_json_safe(payload), indent=indent) + "\n"
    write_atomically(path, lambda temporary: temporary.write_text(text))
    return path


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` as a CSV table with a header line, atomically, creating the folder if needed.

    Args:
        path: the file to write.
        rows: one mapping per row; a value is written as ``str`` gives it (format numbers before).
        columns: the columns in order; by default every key of the rows, in first-seen order.
    """
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda temporary: temporary.write_text(buffer.getvalue()))
    return path


def save_volume(array: np.ndarray, affine: np.ndarray, path: str | Path) -> None:
    """Write a NIfTI volume atomically, with the affine as both its qform and sform (code 1, scanner).

    Args:
        array: voxel values (their dtype is kept).
        affine: 4x4 voxel-to-world (RAS) matrix.
        path: output file (``.nii`` or ``.nii.gz``).
    """
    image = nib.Nifti1Image(array, affine)
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    image.header.set_xyzt_units("mm")
    write_atomically(path, lambda temporary: nib.save(image, str(temporary)))


def load_checkpoint(path: str | Path, map_location: str | torch.device | None = None) -> Any:
    """``torch.load(path, weights_only=True)``, with errors that name the file and say what is wrong with it.

    Only tensors, numbers, strings and containers of them load: a file that carries any other pickled object, which
    could run code while loading, is refused and nothing of it runs.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        RuntimeError: ``"<path>: refused, ..."`` for a file with other objects; ``"<path>: cannot be read, ..."`` for a
            truncated or corrupt one.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch reports damage as RuntimeError, EOFError, UnpicklingError, ... depending on where
        foreign = _FOREIGN_OBJECT.search(str(e))
        if foreign:
            raise RuntimeError(
                f"{path}: refused, it holds a pickled object other than tensors and plain containers "
                f"({foreign.group(1)}), which could run code when loaded (checkpoints load with "
                "torch.load(weights_only=True)); use checkpoints from trusted sources only."
            ) from e
        lines = str(e).strip().splitlines()
        raise RuntimeError(
            f"{path}: cannot be read, it is truncated or corrupt ({type(e).__name__}: {lines[0] if lines else ''})."
        ) from e
