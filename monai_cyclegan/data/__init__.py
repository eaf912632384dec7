"""Data sources: layout detection, subject splits, unpaired datasets, inference inputs, the synthetic phantom."""

from __future__ import annotations

from monai_cyclegan.data.datasets import paired_validation_dataset, resolve_dataset_dir, unpaired_slice_dataset
from monai_cyclegan.data.inputs import (
    IMAGE_SUFFIXES,
    NIFTI_SUFFIXES,
    InferenceInputs,
    file_kind,
    files_by_kind,
    list_inference_inputs,
)
from monai_cyclegan.data.ixi import IXI_FOLDERS, list_ixi_volumes, parse_ixi_name
from monai_cyclegan.data.layouts import LAYOUTS, DatasetLayout, detect_layout, file_subject
from monai_cyclegan.data.pairs_list import read_pairs_list
from monai_cyclegan.data.prepare_ixi import IXIVolume, PreparedIXI, SkippedMember, prepare_ixi
from monai_cyclegan.data.splits import (
    SPLITS,
    load_splits,
    select_split,
    split_dataset,
    split_from_pairs,
    split_named,
    split_subjects,
    write_splits,
)
from monai_cyclegan.data.unpaired import UnpairedDataset

__all__ = [
    "IMAGE_SUFFIXES",
    "IXI_FOLDERS",
    "LAYOUTS",
    "NIFTI_SUFFIXES",
    "SPLITS",
    "DatasetLayout",
    "InferenceInputs",
    "IXIVolume",
    "PreparedIXI",
    "SkippedMember",
    "UnpairedDataset",
    "detect_layout",
    "file_kind",
    "file_subject",
    "files_by_kind",
    "list_ixi_volumes",
    "list_inference_inputs",
    "load_splits",
    "paired_validation_dataset",
    "parse_ixi_name",
    "prepare_ixi",
    "read_pairs_list",
    "resolve_dataset_dir",
    "select_split",
    "split_dataset",
    "split_from_pairs",
    "split_named",
    "split_subjects",
    "unpaired_slice_dataset",
    "write_splits",
]
