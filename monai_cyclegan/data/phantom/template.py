"""The MNI ICBM152 2009a template the phantom's anatomy is built from, read from the files nilearn installs.

nilearn's wheel ships the ICBM152 2009a nonlinear symmetric template at 1 mm: the T1-weighted average (skull-stripped:
zero outside the brain) and the grey- and white-matter probability maps, 197 x 233 x 189 voxels in MNI space (RAS).
The files are read where nilearn installed them, found with ``importlib.util.find_spec``, without importing nilearn,
whose import takes seconds. Nothing is downloaded.

The template carries the MNI copyright notice (:data:`TEMPLATE_NOTICE`), which allows use and redistribution with
the notice kept; every phantom data set records it in its manifest. nilearn itself is BSD-3-Clause.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

__all__ = ["TEMPLATE_FILES", "TEMPLATE_NOTICE", "TemplateImages", "load_template_images", "template_folder"]

TEMPLATE_FILES = {
    contrast: f"mni_icbm152_{contrast}_tal_nlin_sym_09a_converted.nii.gz" for contrast in ("t1", "gm", "wm")
}
"""File of each template image in nilearn's ``datasets/data`` folder."""

TEMPLATE_NOTICE = (
    "MNI ICBM152 2009a nonlinear symmetric template (Fonov et al., NeuroImage 54:313-327, 2011), as shipped by "
    "nilearn. Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, Montreal Neurological "
    "Institute, McGill University. Permission to use, copy, modify, and distribute this software and its "
    "documentation for any purpose and without fee is hereby granted, provided that the above copyright notice "
    "appear in all copies. The authors and McGill University make no representations about the suitability of this "
    'software for any purpose. It is provided "as is" without express or implied warranty.'
)


@dataclass(frozen=True)
class TemplateImages:
    """The template's brain mask and tissue probability maps on its 1 mm grid.

    Attributes:
        brain: the voxels where the skull-stripped T1-weighted template is non-zero.
        gm: grey-matter probability in [0, 1], float32.
        wm: white-matter probability in [0, 1], float32.
        affine: voxel-to-MNI (mm) affine of all three.
    """

    brain: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    affine: np.ndarray


def template_folder() -> Path:
    """The folder of nilearn's package data holding the template files, found without importing nilearn.

    Raises:
        ModuleNotFoundError: nilearn is not installed.
        FileNotFoundError: the installed nilearn lacks a template file.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the phantom needs nilearn's copy of the MNI ICBM152 template: pip install 'nilearn>=0.10'"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [name for name in TEMPLATE_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks the template files {missing}; reinstall nilearn")
    return folder


def load_template_images() -> TemplateImages:
    """Read the template's T1-weighted image (for its brain mask) and its grey- and white-matter maps."""
    folder = template_folder()
    images = {key: nib.load(folder / name) for key, name in TEMPLATE_FILES.items()}
    affine = images["t1"].affine
    for key, image in images.items():
        if image.shape != images["t1"].shape or not np.allclose(image.affine, affine):
            raise ValueError(f"template image {TEMPLATE_FILES[key]} is not on the grid of the T1 template")
    probability = {key: np.asarray(images[key].dataobj, dtype=np.float32) / 255.0 for key in ("gm", "wm")}
    return TemplateImages(np.asanyarray(images["t1"].dataobj) > 0, probability["gm"], probability["wm"], affine)
