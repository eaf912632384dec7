"""Data sources: IXI-layout discovery, unpaired datasets, inference inputs, the synthetic phantom."""

from __future__ import annotations

from monai_cyclegan.data.datasets import resolve_dataset_dir, unpaired_slice_dataset
from monai_cyclegan.data.inputs import NIFTI_SUFFIXES, list_nifti_files
from monai_cyclegan.data.ixi import IXI_FOLDERS, list_ixi_volumes, parse_ixi_name
from monai_cyclegan.data.unpaired import UnpairedDataset

__all__ = [
    "IXI_FOLDERS",
    "NIFTI_SUFFIXES",
    "UnpairedDataset",
    "list_ixi_volumes",
    "list_nifti_files",
    "parse_ixi_name",
    "resolve_dataset_dir",
    "unpaired_slice_dataset",
]
