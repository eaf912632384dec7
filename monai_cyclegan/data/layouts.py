"""Detection of the layout a ``dataset_dir`` holds: IXI volumes, the public 2D slice set, or plain t1/ + t2/ folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monai_cyclegan.data.inputs import IMAGE_SUFFIXES, NIFTI_SUFFIXES, files_by_kind
from monai_cyclegan.data.ixi import IXI_FOLDERS, list_ixi_volumes
from monai_cyclegan.data.subject_folders import SUBJECT_FILES, list_subject_folders

__all__ = ["LAYOUTS", "DatasetLayout", "detect_layout", "file_subject"]

# Per layout: the T1 and T2 folders (relative to dataset_dir) and what they hold.
LAYOUTS: dict[str, dict[str, str]] = {
    "ixi": {"t1": IXI_FOLDERS["t1"], "t2": IXI_FOLDERS["t2"], "holds": "IXI-named NIfTI volumes"},
    "slice_dataset": {"t1": "Tr1/TrainT1", "t2": "Tr2/TrainT2", "holds": "2D PNG/JPEG slices"},
    "t1_t2_folders": {"t1": "t1", "t2": "t2", "holds": "2D PNG/JPEG slices, or NIfTI volumes"},
    "subject_folders": {"t1": "<subject>/T1.nii.gz", "t2": "<subject>/T2.nii.gz", "holds": "a folder per subject"},
}
_FOLDER_LAYOUTS = ("ixi", "slice_dataset", "t1_t2_folders")  # the layouts found by their two contrast folders
_MASK_SUFFIX = "-mask"  # optional masks of IXI-T1/x.nii.gz live in IXI-T1-mask/x.nii.gz


@dataclass(frozen=True)
class DatasetLayout:
    """What a data set directory holds.

    Attributes:
        name: a key of :data:`LAYOUTS`.
        kind: ``"volume"`` (3D NIfTI, sliced axially) or ``"slice"`` (2D image files).
        root: the data set directory.
        t1, t2: per contrast, ``{"image": path, "subject": id}`` dictionaries sorted by file name, with ``"site"`` for
            IXI names and ``"mask"`` where a mask folder (or a subject folder) provides one.
    """

    name: str
    kind: str
    root: str
    t1: list[dict[str, str]] = field(default_factory=list)
    t2: list[dict[str, str]] = field(default_factory=list)


def _expected() -> str:
    return "; ".join(f"{v['t1']}/ + {v['t2']}/ ({v['holds']})" for v in LAYOUTS.values())


def _folder(root: Path, relative: str) -> Path | None:
    """``root/relative`` matched case-insensitively per component (``T1/`` and ``t1/`` both work), or ``None``."""
    current = root
    for part in Path(relative).parts:
        matches = [p for p in current.iterdir() if p.is_dir() and p.name.lower() == part.lower()]
        if not matches:
            return None
        if len(matches) > 1:
            raise ValueError(
                f"dataset_dir {str(root)!r} is ambiguous: {sorted(str(m) for m in matches)} differ only in case."
            )
        current = matches[0]
    return current


def file_subject(path: str | Path) -> str:
    """The file name without its image or NIfTI extension: the subject id of a file in the slice layouts."""
    path = Path(path)
    name = path.name
    for suffix in (*NIFTI_SUFFIXES, *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _with_masks(entries: list[dict[str, str]], folder: Path) -> list[dict[str, str]]:
    """Attach ``folder-mask/<same name>`` masks; a mask folder must cover every volume of its contrast."""
    mask_folder = folder.with_name(folder.name + _MASK_SUFFIX)
    if not mask_folder.is_dir():
        return entries
    missing = [Path(e["image"]).name for e in entries if not (mask_folder / Path(e["image"]).name).is_file()]
    if missing:
        raise ValueError(f"mask folder {str(mask_folder)!r} has no mask for {missing[:5]} (it needs one per volume).")
    return [{**e, "mask": str(mask_folder / Path(e["image"]).name)} for e in entries]


def _folder_layout(root: Path, name: str, folders: dict[str, Path | None]) -> DatasetLayout:
    """A layout of two folders of 2D images (or, for ``t1/`` + ``t2/``, of NIfTI volumes)."""
    spec = LAYOUTS[name]
    found = {contrast: files_by_kind(folder) if folder else {} for contrast, folder in folders.items()}
    for contrast, kinds in found.items():
        if len(kinds) > 1:
            raise ValueError(
                f"{folders[contrast]} mixes 2D images ({kinds['slice'][0].name}, ...) and NIfTI volumes "
                f"({kinds['volume'][0].name}, ...); keep one kind per data set."
            )
        if not kinds:
            other = "t2" if contrast == "t1" else "t1"
            raise ValueError(
                f"dataset_dir {str(root)!r} is one-sided: {str(folders[contrast] or root / spec[contrast])!r} holds "
                f"no {contrast.upper()} images ({', '.join(IMAGE_SUFFIXES + NIFTI_SUFFIXES)}) while {spec[other]}/ "
                f"holds {sum(map(len, found[other].values()))} files. Training needs both contrasts."
            )
    kinds = {kind for files in found.values() for kind in files}
    if len(kinds) > 1 or (name == "slice_dataset" and "volume" in kinds):
        raise ValueError(f"dataset_dir {str(root)!r} mixes 2D images and NIfTI volumes across its T1 and T2 folders.")
    kind = kinds.pop()
    entries = {}
    for contrast, folder in folders.items():
        rows = [{"image": str(p), "subject": file_subject(p)} for p in found[contrast][kind]]
        entries[contrast] = _with_masks(rows, folder) if kind == "volume" else rows  # type: ignore[arg-type]
    return DatasetLayout(name, kind, str(root), entries["t1"], entries["t2"])


def _subject_folder_layout(root: Path, subjects: list[dict[str, str]]) -> DatasetLayout:
    """The layout of a folder per subject (:func:`~.subject_folders.list_subject_folders`), volumes only.

    Masks select the training slices only when every subject of a contrast has one, as with mask folders.
    """
    entries: dict[str, list[dict[str, str]]] = {}
    for contrast in ("t1", "t2"):
        having = [s for s in subjects if contrast in s]
        if not having:
            raise ValueError(
                f"dataset_dir {str(root)!r} is one-sided: its subject folders hold no {contrast.upper()} volume "
                f"({'/'.join(n.upper() for n in SUBJECT_FILES[contrast])}.nii.gz). Training needs both contrasts."
            )
        masked = all("mask" in s for s in having)
        entries[contrast] = [
            {"image": s[contrast], "subject": s["subject"], **({"mask": s["mask"]} if masked else {})} for s in having
        ]
    return DatasetLayout("subject_folders", "volume", str(root), entries["t1"], entries["t2"])


def detect_layout(dataset_dir: str | Path) -> DatasetLayout:
    """Find which of :data:`LAYOUTS` ``dataset_dir`` holds and list its T1 and T2 images.

    Raises:
        FileNotFoundError: when ``dataset_dir`` is not a directory.
        ValueError: when it is empty or holds no known layout, holds more than one (ambiguous), or holds only one
            contrast; the message says what was found and what is expected.
    """
    root = Path(dataset_dir)
    if not str(dataset_dir) or not root.is_dir():
        raise FileNotFoundError(f"dataset_dir {str(root)!r} does not exist or is not a directory.")
    folders = {name: {c: _folder(root, LAYOUTS[name][c]) for c in ("t1", "t2")} for name in _FOLDER_LAYOUTS}
    present = [name for name, found in folders.items() if any(found.values())]
    if not present:
        subjects = list_subject_folders(root)
        if subjects:
            return _subject_folder_layout(root, subjects)
        contents = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
        what = f"found {contents[:10]}" if contents else "it is empty"
        raise ValueError(
            f"dataset_dir {str(root)!r} holds no known data set layout ({what}). Expected one of: {_expected()}."
        )
    if len(present) > 1:
        names = [f"{LAYOUTS[n]['t1']}/ or {LAYOUTS[n]['t2']}/" for n in present]
        raise ValueError(
            f"dataset_dir {str(root)!r} is ambiguous: it holds the folders of several layouts ({'; '.join(names)}). "
            "Point dataset_dir at a directory with one layout."
        )
    name = present[0]
    if name != "ixi":
        return _folder_layout(root, name, folders[name])
    volumes = list_ixi_volumes(root)
    t1, t2 = (_with_masks(volumes[c], root / IXI_FOLDERS[c]) for c in ("t1", "t2"))
    return DatasetLayout(name, "volume", str(root), t1, t2)
