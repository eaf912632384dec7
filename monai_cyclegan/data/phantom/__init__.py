"""The embedded default data set: a T1w/T2w head phantom built from real anatomy, written in the IXI layout.

Each subject is the MNI ICBM152 2009a template's brain (read from nilearn's installed files, :mod:`.template`) with a
skull, scalp and neck built around it (:mod:`.anatomy`), deformed into a brain of its own (:mod:`.deformation`),
optionally given MS-like white-matter lesions (:mod:`.lesions`), imaged with the MR signal equations of IXI's T1w and
T2w sequences (:mod:`.signal`) on IXI's grids with a bias field and Rician noise (:mod:`.acquisition`, :mod:`.subject`),
and written as a data set with paired ground truth (:mod:`.dataset`). ``docs/phantom.md`` describes the model.
"""

from __future__ import annotations

from monai_cyclegan.data.phantom.acquisition import GridSpec, phantom_grids
from monai_cyclegan.data.phantom.anatomy import TISSUE_LABELS, TISSUES
from monai_cyclegan.data.phantom.dataset import (
    PHANTOM_VERSION,
    ensure_phantom_dataset,
    load_phantom_manifest,
    write_phantom_dataset,
)
from monai_cyclegan.data.phantom.subject import (
    SimulatedSubject,
    SubjectParameters,
    sample_subject_parameters,
    simulate_subject,
    subject_id,
)

__all__ = [
    "PHANTOM_VERSION",
    "TISSUES",
    "TISSUE_LABELS",
    "GridSpec",
    "SimulatedSubject",
    "SubjectParameters",
    "ensure_phantom_dataset",
    "load_phantom_manifest",
    "phantom_grids",
    "sample_subject_parameters",
    "simulate_subject",
    "subject_id",
    "write_phantom_dataset",
]
