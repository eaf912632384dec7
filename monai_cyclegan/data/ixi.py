"""Discovery of T1/T2 volumes laid out like the IXI data set."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["IXI_FOLDERS", "list_ixi_volumes", "parse_ixi_name"]

IXI_FOLDERS = {"t1": "IXI-T1", "t2": "IXI-T2"}

# IXI names look like IXI002-Guys-0828-T1.nii.gz: subject id, site, series number, contrast.
_NAME = re.compile(r"^(?P<stem>(?P<subject>[^-]+)(?:-(?P<site>[^-]+))?(?:-[^-]+)*)-(?P<contrast>T1|T2)\.nii(?:\.gz)?$")


def parse_ixi_name(path: str | Path) -> dict[str, str] | None:
    """Subject id, site and contrast of an IXI-style file name, or ``None`` if the name does not follow it.

    ``IXI002-Guys-0828-T1.nii.gz`` gives ``{"subject": "IXI002", "site": "Guys", "contrast": "T1"}``.
    """
    match = _NAME.match(Path(path).name)
    if match is None:
        return None
    return {"subject": match["subject"], "site": match["site"] or "", "contrast": match["contrast"]}


def list_ixi_volumes(dataset_dir: str | Path) -> dict[str, list[dict[str, str]]]:
    """List the T1 and T2 volumes of an IXI-layout directory (``IXI-T1/*-T1.nii.gz``, ``IXI-T2/*-T2.nii.gz``).

    Returns:
        ``{"t1": [...], "t2": [...]}``, each a list of ``{"image": path, "subject": id, "site": site}`` sorted by
        file name. T1 and T2 lists are independent (unpaired training may use different subjects).

    Raises:
        FileNotFoundError: when ``dataset_dir`` does not exist.
        ValueError: when either contrast has no volume; the message says what was found and what is expected.
    """
    root = Path(dataset_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset_dir {str(root)!r} does not exist or is not a directory.")
    found: dict[str, list[dict[str, str]]] = {}
    for contrast, folder in IXI_FOLDERS.items():
        entries = []
        for path in sorted((root / folder).glob("*.nii*")):
            info = parse_ixi_name(path)
            if info is not None and info["contrast"].lower() == contrast:
                entries.append({"image": str(path), "subject": info["subject"], "site": info["site"]})
        found[contrast] = entries
    missing = [IXI_FOLDERS[c] for c, entries in found.items() if not entries]
    if missing:
        present = sorted(p.name for p in root.iterdir())[:10]
        raise ValueError(
            f"dataset_dir {str(root)!r} has no volumes in {missing}. Expected the IXI layout "
            f"IXI-T1/<subject>-<site>-<n>-T1.nii.gz and IXI-T2/<subject>-<site>-<n>-T2.nii.gz; found {present}."
        )
    return found
