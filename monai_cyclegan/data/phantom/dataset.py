"""The phantom as a data set on disk: IXI-layout acquisitions, paired ground truth and a manifest.

``write_phantom_dataset`` writes; ``ensure_phantom_dataset`` writes only when the folder does not already hold a
finished set made with the same parameters, and never leaves a half-written set that looks complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np

from monai_cyclegan.data.phantom.acquisition import validated_scale
from monai_cyclegan.data.phantom.anatomy import TISSUE_LABELS
from monai_cyclegan.data.phantom.subject import simulate_subject, subject_id
from monai_cyclegan.data.phantom.template import TEMPLATE_NOTICE
from monai_cyclegan.files import save_volume, write_json

__all__ = ["PHANTOM_VERSION", "ensure_phantom_dataset", "load_phantom_manifest", "write_phantom_dataset"]

PHANTOM_VERSION = 2
"""Bumped whenever the generated images change, so that :func:`ensure_phantom_dataset` regenerates old sets."""


def _relative_paths(index: int, lesions: bool) -> dict[str, str]:
    """File names of one subject in the IXI-like layout, relative to the data-set directory.

    The lesion mask is written only for subjects with lesions: an empty mask would make the evaluation (which reads
    ``<subject>-lesions.nii.gz`` from a pairs folder) score lesions that are not there.
    """
    sid = subject_id(index)
    paths = {
        "t1": f"IXI-T1/{sid}-Phantom-{index:04d}-T1.nii.gz",
        "t2": f"IXI-T2/{sid}-Phantom-{index:04d}-T2.nii.gz",
        "paired_t1": f"paired/{sid}-T1.nii.gz",
        "paired_t2": f"paired/{sid}-T2.nii.gz",
        "labels": f"paired/{sid}-labels.nii.gz",
    }
    return paths | ({"lesions": f"paired/{sid}-lesions.nii.gz"} if lesions else {})


def _validated_parameters(
    num_subjects: int, scale: float, seed: int, first_index: int, lesions: bool, vary_sequences: bool
) -> dict[str, int | float | bool]:
    """The data-set parameters as recorded in the manifest, or a ValueError naming the bad one."""
    for name, value, minimum in (("num_subjects", num_subjects, 1), ("seed", seed, 0), ("first_index", first_index, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    for name, value in (("lesions", lesions), ("vary_sequences", vary_sequences)):
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    return {
        "num_subjects": int(num_subjects),
        "scale": validated_scale(scale),
        "seed": int(seed),
        "first_index": int(first_index),
        "lesions": bool(lesions),
        "vary_sequences": bool(vary_sequences),
        "version": PHANTOM_VERSION,
    }


def write_phantom_dataset(
    out_dir: str | Path,
    num_subjects: int = 10,
    scale: float = 1.0,
    seed: int = 0,
    first_index: int = 1,
    lesions: bool = False,
    vary_sequences: bool = False,
) -> list[dict[str, str]]:
    """Generate ``num_subjects`` subjects and write them, with ``manifest.json`` last, in the IXI-like layout.

    Writes directly into ``out_dir`` (created if needed); use :func:`ensure_phantom_dataset` for a cached,
    interruption-safe data set.

    Args:
        out_dir: data-set directory.
        num_subjects: number of subjects (>= 1).
        scale: resolution factor of the grids (> 0); 0.5 gives about 2 mm voxels.
        seed: data-set seed (>= 0).
        first_index: index of the first subject (>= 0).
        lesions: give every subject MS-like white-matter lesions.
        vary_sequences: draw each subject's sequence parameters from ranges around IXI's protocols.

    Returns:
        One dict per subject with keys ``"subject"``, ``"t1"``, ``"t2"``, ``"paired_t1"``, ``"paired_t2"``,
        ``"labels"`` and, with ``lesions``, ``"lesions"`` (absolute paths as str).

    Raises:
        ValueError: a parameter is out of range.
        OSError: ``out_dir`` cannot be created or written.
    """
    parameters = _validated_parameters(num_subjects, scale, seed, first_index, lesions, vary_sequences)
    out_dir = Path(out_dir).expanduser().absolute()
    for folder in ("IXI-T1", "IXI-T2", "paired"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    records, manifest_subjects = [], []
    for index in range(parameters["first_index"], parameters["first_index"] + parameters["num_subjects"]):
        subject = simulate_subject(
            index, parameters["seed"], parameters["scale"], parameters["lesions"], parameters["vary_sequences"]
        )
        files = _relative_paths(index, parameters["lesions"])
        for key, path in files.items():
            grid = key if key in ("t1", "t2") else "paired"
            save_volume(getattr(subject, key), subject.affines[grid], out_dir / path)
        records.append({"subject": subject.subject, **{key: str(out_dir / path) for key, path in files.items()}})
        manifest_subjects.append({"subject": subject.subject, "files": files, "parameters": asdict(subject.parameters)})
    manifest = {
        "generator": __name__,
        "parameters": parameters,
        "tissue_labels": TISSUE_LABELS,
        "template": TEMPLATE_NOTICE,
        "subjects": manifest_subjects,
    }
    write_json(out_dir / "manifest.json", manifest)  # last, and whole: its presence marks a complete data set
    return records


def load_phantom_manifest(out_dir: str | Path) -> list[dict[str, str]]:
    """The subject records of a written data set, as returned by :func:`write_phantom_dataset`.

    Args:
        out_dir: data-set directory holding ``manifest.json``.

    Returns:
        One dict per subject with absolute paths under ``out_dir``.

    Raises:
        OSError: there is no readable manifest.
    """
    out_dir = Path(out_dir).expanduser().absolute()
    manifest = json.loads((out_dir / "manifest.json").read_text())
    return [
        {"subject": entry["subject"], **{key: str(out_dir / path) for key, path in entry["files"].items()}}
        for entry in manifest["subjects"]
    ]


def _is_complete(out_dir: Path, parameters: dict[str, int | float | bool]) -> bool:
    """Whether ``out_dir`` holds a finished data set generated with exactly ``parameters``."""
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(manifest, dict) or manifest.get("parameters") != parameters:
        return False
    return all((out_dir / path).is_file() for entry in manifest["subjects"] for path in entry["files"].values())


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace anything but a missing or empty directory or a (stale) phantom data set."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise FileExistsError(f"phantom output path {out_dir} exists and is not a directory")
    foreign = {entry.name for entry in out_dir.iterdir()} - {"manifest.json", "IXI-T1", "IXI-T2", "paired"}
    if foreign:
        raise FileExistsError(
            f"phantom output directory {out_dir} holds files that are not a phantom data set ({sorted(foreign)[:3]}); "
            "refusing to replace it"
        )


def _move_into_place(staging: Path, out_dir: Path, parameters: dict[str, int | float | bool]) -> None:
    """Rename the finished ``staging`` directory to ``out_dir``, replacing a stale data set there."""
    if _is_complete(out_dir, parameters):  # a concurrent caller finished first
        return
    stale = out_dir.with_name(f".{out_dir.name}.stale-{uuid.uuid4().hex[:8]}")
    if out_dir.exists():
        out_dir.rename(stale)
    staging.rename(out_dir)
    shutil.rmtree(stale, ignore_errors=True)


def ensure_phantom_dataset(
    out_dir: str | Path,
    num_subjects: int = 10,
    scale: float = 1.0,
    seed: int = 0,
    first_index: int = 1,
    lesions: bool = False,
    vary_sequences: bool = False,
) -> Path:
    """Return ``out_dir``, generating the data set first unless it already exists with exactly these parameters.

    A data set counts as existing when ``out_dir/manifest.json`` records the same parameters (and phantom version)
    and its files are present; then nothing is written. Otherwise the set is generated in a temporary sibling
    directory that is renamed into place at the end, so an interrupted run never leaves a half-written data set
    that looks complete. A stale phantom data set at ``out_dir`` is replaced; any other non-empty directory is not.

    Args:
        out_dir: data-set directory.
        num_subjects: number of subjects (>= 1).
        scale: resolution factor of the grids (> 0).
        seed: data-set seed (>= 0).
        first_index: index of the first subject (>= 0).
        lesions: give every subject MS-like white-matter lesions.
        vary_sequences: draw each subject's sequence parameters from ranges around IXI's protocols.

    Returns:
        ``out_dir`` as an absolute path.

    Raises:
        ValueError: a parameter is out of range.
        FileExistsError: ``out_dir`` exists and is not a phantom data set.
        OSError: the parent of ``out_dir`` cannot be created or written.
    """
    parameters = _validated_parameters(num_subjects, scale, seed, first_index, lesions, vary_sequences)
    out_dir = Path(out_dir).expanduser().absolute()
    if _is_complete(out_dir, parameters):
        return out_dir
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        write_phantom_dataset(staging, num_subjects, scale, seed, first_index, lesions, vary_sequences)
        _move_into_place(staging, out_dir, parameters)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir
