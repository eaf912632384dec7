"""Preparation of the real IXI data set: from the downloaded tarballs (or extracted folders) to the IXI layout.

``prepare_ixi`` reads ``IXI-T1.tar`` and ``IXI-T2.tar`` (plain or gzip-compressed) or folders holding the extracted
``*.nii`` / ``*.nii.gz`` files, checks every volume and writes the layout that
:func:`monai_cyclegan.data.ixi.list_ixi_volumes` reads::

    out_dir/IXI-T1/IXI002-Guys-0828-T1.nii.gz
    out_dir/IXI-T2/IXI002-Guys-0828-T2.nii.gz
    out_dir/manifest.csv    (one row per volume: subject, site, contrast, path, shape, spacing, orientation)
    out_dir/manifest.json   (the same volumes, plus the members that were skipped and why)

Bad members (corrupt or truncated files, names that do not follow the IXI pattern, a contrast that does not match
the input, images that are not 3D or hold NaN / inf) are skipped with a warning; the run goes on. Each member is
first written to a hidden staging folder inside ``out_dir``, checked there and only then renamed into place, so an
interrupted run never leaves a partial volume in the layout; the staging folder is removed on every exit path.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from pathlib import Path, PurePosixPath

import nibabel as nib
import numpy as np
from tqdm import tqdm
from tqdm.utils import CallbackIOWrapper

from monai_cyclegan.data.inputs import NIFTI_SUFFIXES
from monai_cyclegan.data.ixi import IXI_FOLDERS, parse_ixi_name
from monai_cyclegan.files import write_csv

__all__ = ["IXIVolume", "PreparedIXI", "SkippedMember", "prepare_ixi"]

_MANIFEST_CSV = "manifest.csv"
_MANIFEST_JSON = "manifest.json"
_STAGING_PREFIX = ".prepare-ixi-"
_COPY_CHUNK_BYTES = 1 << 20
# Errors of a damaged archive met while streaming it (a truncated download ends with "unexpected end of data").
_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error)


@dataclass(frozen=True)
class IXIVolume:
    """One prepared volume, as listed in the manifest.

    Attributes:
        subject: subject id from the file name, e.g. ``"IXI002"``.
        site: acquisition site from the file name (``"Guys"``, ``"HH"`` or ``"IOP"`` for IXI).
        contrast: ``"T1"`` or ``"T2"``.
        path: path relative to the output folder, with ``/`` separators.
        shape: number of voxels along the three array axes.
        spacing_mm: voxel size along the array axes, from the header zooms.
        orientation: nibabel orientation codes of the array axes, e.g. ``"LSP"`` or ``"RAS"``.
    """

    subject: str
    site: str
    contrast: str
    path: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    orientation: str


@dataclass(frozen=True)
class SkippedMember:
    """An input member that was not prepared.

    Attributes:
        source: the tarball or folder it came from.
        member: its name inside the tarball, or its path relative to the folder.
        reason: why it was skipped.
    """

    source: str
    member: str
    reason: str


@dataclass
class PreparedIXI:
    """Outcome of :func:`prepare_ixi`.

    Attributes:
        out_dir: the output folder.
        volumes: every volume in the output folder (this run's and an earlier run's), sorted by path.
        skipped: the members of this run that were skipped, in input order.
    """

    out_dir: Path
    volumes: list[IXIVolume] = field(default_factory=list)
    skipped: list[SkippedMember] = field(default_factory=list)

    def count(self, contrast: str) -> int:
        """Number of prepared volumes of ``contrast`` (``"T1"`` or ``"T2"``)."""
        return sum(volume.contrast == contrast for volume in self.volumes)


class _InvalidVolumeError(Exception):
    """A staged member that is not a usable 3D NIfTI volume; the message says why."""


def prepare_ixi(
    t1: str | Path, t2: str | Path, out_dir: str | Path, symlink: bool = False, progress: bool = True
) -> PreparedIXI:
    """Check the IXI T1 and T2 volumes of two inputs and write them, with a manifest, in the IXI layout.

    Each input is a tarball (``.tar``, ``.tar.gz``, ``.tgz``; read in one streaming pass) or a folder searched
    recursively for ``*.nii`` / ``*.nii.gz``. A member is kept when its base name follows the IXI pattern
    (``IXI002-Guys-0828-T1.nii.gz``) with the contrast of its input, it is the first member of that name, it opens
    as a NIfTI image, all its voxel data can be read, it is 3D and its values are finite. Every other member is
    skipped with a warning and listed in ``manifest.json``. Volumes already in ``out_dir`` from an earlier run are
    kept (a member of the same name replaces its file) and described in the manifest too.

    Args:
        t1: the T1 tarball or folder (``IXI-T1.tar``).
        t2: the T2 tarball or folder (``IXI-T2.tar``).
        out_dir: output folder, created if needed.
        symlink: for folder inputs, link each volume into ``out_dir`` instead of copying it (tarballs are always
            extracted).
        progress: show a progress bar on stderr per input (bytes read of a tarball, files of a folder).

    Returns:
        The volumes in ``out_dir`` and the members skipped by this run.

    Raises:
        FileNotFoundError: an input does not exist.
        ValueError: an input is a file that is not a readable tar archive, a folder inside the output layout, or
            holds no valid volume of its contrast.
    """
    inputs = {"T1": Path(t1).expanduser(), "T2": Path(t2).expanduser()}
    out_dir = Path(out_dir).expanduser().absolute()
    for contrast, source in inputs.items():
        _check_input(source, contrast, out_dir)
    for folder in IXI_FOLDERS.values():
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=out_dir))
    try:
        batch = _Batch(out_dir, staging)
        for contrast, source in inputs.items():
            kept_before = len(batch.volumes)
            if source.is_dir():
                _prepare_folder(source, contrast, batch, symlink, progress)
            else:
                _prepare_tar(source, contrast, batch, progress)
            if len(batch.volumes) == kept_before:
                raise ValueError(_no_volume_message(source, contrast, batch.skipped))
        result = PreparedIXI(out_dir, _describe_output(out_dir, batch), batch.skipped)
        _write_manifests(result, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


# ----------------------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------------------


def _check_input(source: Path, contrast: str, out_dir: Path) -> None:
    """Raise when ``source`` is missing or is one of the output folders (copying it onto itself would lose it)."""
    if not source.exists():
        raise FileNotFoundError(f"IXI {contrast} input {str(source)!r} does not exist.")
    resolved = source.resolve()
    for folder in IXI_FOLDERS.values():
        layout = (out_dir / folder).resolve()
        if resolved == layout or layout in resolved.parents:
            raise ValueError(
                f"IXI {contrast} input {str(source)!r} lies inside the output folder {str(layout)!r}; "
                "give the downloaded tarball or a folder outside the output."
            )


def _prepare_tar(archive: Path, contrast: str, batch: _Batch, progress: bool = True) -> None:
    """Stage and check every regular member of ``archive`` in one streaming pass.

    A damaged archive (e.g. a truncated download) keeps the members read before the damage; the member being read
    is skipped and the rest of the archive is given up with a warning. With ``progress``, a bar on stderr follows the
    bytes read (about 4.5 GB for IXI-T1.tar).
    """
    size = archive.stat().st_size
    bar = tqdm(total=size, desc=f"IXI {contrast}: {archive.name}", unit="B", unit_scale=True, disable=not progress)
    with archive.open("rb") as raw, bar:
        try:  # streaming: one member at a time, transparent gzip
            tar = tarfile.open(fileobj=CallbackIOWrapper(bar.update, raw, "read"), mode="r|*")
        except tarfile.TarError as error:
            raise ValueError(f"IXI {contrast} input {str(archive)!r} is not a readable tar archive: {error}") from error
        if _read_tar(tar, archive, contrast, batch):
            bar.update(size - bar.n)  # the end-of-archive padding, which the stream does not read


def _read_tar(tar: tarfile.TarFile, archive: Path, contrast: str, batch: _Batch) -> bool:
    """Stage every member of an open streaming ``tar`` (see :func:`_prepare_tar`); False when it is damaged."""
    position = "(start of archive)"  # names the damaged spot in the skipped list
    with tar:
        try:
            for member in tar:
                position = member.name
                if member.isfile():
                    batch.admit(archive, member.name, contrast, partial(_extract_member, tar, member))
                elif not member.isdir():
                    batch.skip(archive, member.name, "is not a regular file (link or device)")
                position = f"(after {member.name})"
        except _ARCHIVE_ERRORS as error:
            batch.skip(archive, position, f"the archive is damaged or truncated here, the rest is not read: {error}")
            return False
    return True


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    """Copy the data of the current member of a streamed tar to ``destination``."""
    with tar.extractfile(member) as data, destination.open("wb") as out:
        shutil.copyfileobj(data, out, _COPY_CHUNK_BYTES)


def _prepare_folder(folder: Path, contrast: str, batch: _Batch, symlink: bool, progress: bool = True) -> None:
    """Stage (copy or link) and check every NIfTI file under ``folder``, leaving out the output layout.

    With ``progress``, a bar on stderr counts the files.
    """
    write = _link_file if symlink else _copy_file
    files = _nifti_files(folder, batch.out_dir)
    with tqdm(files, desc=f"IXI {contrast}: {folder.name}", unit="file", disable=not progress) as bar:
        for path in bar:
            batch.admit(folder, path.relative_to(folder).as_posix(), contrast, partial(write, path))


def _nifti_files(folder: Path, out_dir: Path) -> list[Path]:
    """NIfTI files under ``folder``, recursively and sorted, except those in ``out_dir``'s layout and staging.

    The exclusion matters when the output folder lies inside the input folder.
    """
    layout = [out_dir / folder_name for folder_name in IXI_FOLDERS.values()]
    excluded = [root.resolve() for root in [*layout, *out_dir.glob(f"{_STAGING_PREFIX}*")]]
    files = []
    for path in sorted(folder.rglob("*.nii*")):
        inside_output = any(root in path.resolve().parents for root in excluded)
        if path.is_file() and path.name.endswith(NIFTI_SUFFIXES) and not inside_output:
            files.append(path)
    return files


def _copy_file(source: Path, destination: Path) -> None:
    """Copy ``source`` to ``destination``."""
    shutil.copyfile(source, destination)


def _link_file(source: Path, destination: Path) -> None:
    """Make ``destination`` a symbolic link to the absolute path of ``source``."""
    destination.symlink_to(source.resolve())


def _no_volume_message(source: Path, contrast: str, skipped: list[SkippedMember]) -> str:
    """Error message for an input without any valid volume, quoting a few of its skipped members."""
    own = [item for item in skipped if item.source == str(source)]
    examples = "; ".join(f"{item.member}: {item.reason}" for item in own[:3])
    details = f" {len(own)} member(s) were skipped, e.g. {examples}." if own else " It holds no NIfTI member."
    return (
        f"IXI {contrast} input {str(source)!r} has no valid {contrast} volume named like "
        f"IXI002-Guys-0828-{contrast}.nii.gz.{details}"
    )


# ----------------------------------------------------------------------------------------------------------------
# Staging and checking
# ----------------------------------------------------------------------------------------------------------------


class _Batch:
    """The volumes and skipped members of one run, and the staging of members into the output layout."""

    def __init__(self, out_dir: Path, staging: Path) -> None:
        self.out_dir = out_dir
        self.staging = staging
        self.volumes: dict[str, IXIVolume] = {}  # by relative output path
        self.skipped: list[SkippedMember] = []

    def skip(self, source: Path, member: str, reason: str) -> None:
        """Record ``member`` of ``source`` as skipped and warn about it."""
        self.skipped.append(SkippedMember(str(source), member, reason))
        warnings.warn(f"prepare-ixi: skipping {member!r} of {str(source)!r}: {reason}", stacklevel=2)

    def admit(self, source: Path, member: str, contrast: str, write: Callable[[Path], None]) -> None:
        """Stage ``member`` with ``write``, check it and move it into the layout, or skip it with the reason.

        Only the base name of ``member`` is used, so a name like ``../../x`` cannot escape the output folder.
        """
        name = PurePosixPath(member.replace("\\", "/")).name
        info = parse_ixi_name(name)
        if info is None:
            self.skip(source, member, "the name does not follow the IXI pattern <subject>-<site>-<n>-<T1|T2>.nii.gz")
            return
        if info["contrast"] != contrast:
            self.skip(source, member, f"is a {info['contrast']} volume in the {contrast} input")
            return
        relative = f"{IXI_FOLDERS[contrast.lower()]}/{name}"
        if relative in self.volumes:
            self.skip(source, member, f"duplicate name, {relative} was already prepared from an earlier member")
            return
        staged = self.staging / name
        write(staged)
        try:
            image, shape = _read_volume(staged)
        except _InvalidVolumeError as error:
            staged.unlink()
            self.skip(source, member, str(error))
            return
        self.volumes[relative] = _describe(image, shape, info, relative)
        os.replace(staged, self.out_dir / relative)


def _read_volume(path: Path) -> tuple[nib.Nifti1Image, tuple[int, int, int]]:
    """Open ``path`` as NIfTI and read all its voxels; return the image and its 3D shape.

    Raises:
        _InvalidVolumeError: it cannot be read, is not 3D, is empty or holds NaN / inf.
    """
    # nibabel, gzip, zlib and numpy raise many unrelated exception types for a broken file, hence the broad catches.
    try:
        image = nib.load(str(path), mmap=False)
    except Exception as error:
        raise _InvalidVolumeError(f"cannot be opened as NIfTI ({type(error).__name__}: {error})") from error
    shape = _spatial_shape(image)
    try:
        data = np.asanyarray(image.dataobj)  # only decompressing all data finds a truncated .nii.gz
    except Exception as error:
        raise _InvalidVolumeError(
            f"its voxel data cannot be read, the file is truncated or corrupt ({type(error).__name__}: {error})"
        ) from error
    if data.size == 0:
        raise _InvalidVolumeError(f"is empty (shape {data.shape})")
    if np.issubdtype(data.dtype, np.inexact):
        non_finite = data.size - int(np.count_nonzero(np.isfinite(data)))
        if non_finite:
            raise _InvalidVolumeError(f"has {non_finite} non-finite voxel(s) (NaN or inf)")
    return image, shape


def _spatial_shape(image: nib.spatialimages.SpatialImage) -> tuple[int, int, int]:
    """The 3D shape of ``image``, or an _InvalidVolumeError for anything but a NIfTI volume.

    A 4D image with a single volume (shape ``(x, y, z, 1)``) is accepted as 3D: its file is kept as it is, and
    MONAI's NibabelReader reads the trailing axis as a channel of size one.
    """
    if not isinstance(image, nib.Nifti1Image):  # Nifti2Image is a subclass
        raise _InvalidVolumeError(f"is a {type(image).__name__}, not a NIfTI image")
    shape = tuple(int(size) for size in image.shape)
    if len(shape) == 4 and shape[3] == 1:
        return shape[:3]
    if len(shape) != 3:
        raise _InvalidVolumeError(f"is {len(shape)}D with shape {shape}, expected a 3D volume")
    return shape


def _describe(image: nib.Nifti1Image, shape: tuple[int, int, int], info: dict[str, str], relative: str) -> IXIVolume:
    """Manifest record of a volume from its header and its parsed file name."""
    zooms = image.header.get_zooms()[:3]
    codes = nib.aff2axcodes(image.affine)
    return IXIVolume(
        subject=info["subject"],
        site=info["site"],
        contrast=info["contrast"],
        path=relative,
        shape=shape,
        spacing_mm=tuple(round(float(zoom), 6) for zoom in zooms),
        orientation="".join(code or "?" for code in codes),  # "?" for an axis without a direction
    )


# ----------------------------------------------------------------------------------------------------------------
# Manifest
# ----------------------------------------------------------------------------------------------------------------


def _describe_output(out_dir: Path, batch: _Batch) -> list[IXIVolume]:
    """Records of every volume in the output layout: this run's, and an earlier run's read from their headers.

    An earlier file whose header cannot be read is recorded as skipped (it stays in place).
    """
    volumes = []
    for contrast, folder in IXI_FOLDERS.items():
        for path in sorted((out_dir / folder).glob("*.nii*")):
            relative = f"{folder}/{path.name}"
            info = parse_ixi_name(path)
            if relative in batch.volumes:
                volumes.append(batch.volumes[relative])
            elif info is not None and info["contrast"].lower() == contrast:  # what list_ixi_volumes picks up
                try:
                    image = nib.load(str(path))
                    volumes.append(_describe(image, _spatial_shape(image), info, relative))
                except Exception as error:  # same broad set as _read_volume: any unreadable header
                    batch.skip(out_dir, relative, f"earlier volume in the output cannot be described: {error}")
    return volumes


def _write_manifests(result: PreparedIXI, staging: Path) -> None:
    """Write ``manifest.csv`` (volumes) and ``manifest.json`` (volumes and skipped members), each atomically."""
    rows = [asdict(volume) for volume in result.volumes]
    table = [
        {
            **row,
            "shape": "x".join(str(size) for size in row["shape"]),
            "spacing_mm": "x".join(f"{spacing:g}" for spacing in row["spacing_mm"]),
        }
        for row in rows
    ]
    csv_path = write_csv(staging / _MANIFEST_CSV, table, [item.name for item in fields(IXIVolume)])
    manifest = {
        "generator": __name__,
        "counts": {contrast: result.count(contrast) for contrast in ("T1", "T2")},
        "volumes": rows,
        "skipped": [asdict(item) for item in result.skipped],
    }
    json_path = staging / _MANIFEST_JSON
    json_path.write_text(json.dumps(manifest, indent=1))
    os.replace(csv_path, result.out_dir / _MANIFEST_CSV)
    os.replace(json_path, result.out_dir / _MANIFEST_JSON)
