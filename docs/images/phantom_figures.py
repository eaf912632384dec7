"""Draw the phantom pictures of docs/phantom.md and docs/demo.md.

``python docs/images/phantom_figures.py [PATIENT_FOLDER]`` writes, next to this file:

* ``phantom_views.png``: subject PH001 (seed 0, lesions, 1 mm) on its paired grid, T1w and T2w, in three planes;
* ``phantom_vs_patient.png``: the same subject beside a real MS patient at two similar axial levels, T1w and T2w
  (default folder: ``../shared/data/ljubljana_ms/patient19`` beside the repository, skull-stripped and in MNI space).

Each image is scaled by the 99.5th percentile of its brain (the phantom's fat, brighter, is clipped).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from monai_cyclegan.data.phantom import TISSUE_LABELS, simulate_subject
from monai_cyclegan.data.phantom.deformation import head_centre, rotation_matrix
from monai_cyclegan.visualization import axial_display, save_panel_png

__all__ = ["main"]

HERE = Path(__file__).parent
PATIENT = Path(__file__).parents[3] / "shared" / "data" / "ljubljana_ms" / "patient19"
MNI_LEVELS_MM = (18.0, 36.0)  # axial levels compared: lateral ventricles, centrum semiovale


def brain_scaled(image: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """``image`` divided by the 99.5th percentile of its ``brain`` voxels, clipped to [0, 1]."""
    return np.clip(image / np.percentile(image[brain], 99.5), 0.0, 1.0)


def display(section: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A RAS section in display orientation, zero-padded (centred) to ``shape``."""
    shown = axial_display(torch.as_tensor(section)).numpy()
    pads = [
        ((size - have) // 2, size - have - (size - have) // 2) for size, have in zip(shape, shown.shape, strict=True)
    ]
    return np.pad(shown, pads)


def phantom_views(subject, brain: np.ndarray) -> None:
    """Write phantom_views.png: T1w and T2w in three planes through the most lesion voxels."""
    lesions = subject.lesions.astype(bool)
    z = int(lesions.sum(axis=(0, 1)).argmax())
    y = int(lesions.sum(axis=(0, 2)).argmax())
    x = int(lesions.sum(axis=(1, 2)).argmax())
    shape = (max(subject.labels.shape[1:]), max(subject.labels.shape[:2]))
    rows = []
    for image in (subject.paired_t1, subject.paired_t2):
        scaled = brain_scaled(image.astype(np.float32), brain)
        rows.append([display(scaled[:, :, z], shape), display(scaled[:, y, :], shape), display(scaled[x], shape)])
    titles = ["axial", "coronal", "sagittal"]
    save_panel_png(rows, HERE / "phantom_views.png", titles=titles, row_labels=["T1w", "T2w"])


def world_level(subject, mni_z: float) -> float:
    """World z of the phantom's anatomy at MNI height ``mni_z`` on the midline (ignoring the small deformation)."""
    params = subject.parameters
    point = np.asarray(params.size_factors) * (np.array([0.0, -18.0, mni_z]) - head_centre())
    return float((rotation_matrix(params.rotation_deg) @ point + np.asarray(params.translation_mm))[2])


def phantom_vs_patient(subject, brain: np.ndarray, patient: Path) -> None:
    """Write phantom_vs_patient.png: phantom and patient, T1w and T2w, at the axial levels of MNI_LEVELS_MM."""
    volumes = {c: nib.as_closest_canonical(nib.load(patient / f"{c}.nii.gz")) for c in ("T1", "T2")}  # to RAS
    patient_brain = np.all([np.asarray(v.dataobj) > 0 for v in volumes.values()], axis=0)
    patient_images = [brain_scaled(np.asarray(v.dataobj, dtype=np.float32), patient_brain) for v in volumes.values()]
    phantom_images = [brain_scaled(i.astype(np.float32), brain) for i in (subject.paired_t1, subject.paired_t2)]
    shape = (220, 184)
    rows = []
    for mni_z in MNI_LEVELS_MM:
        level = np.linalg.inv(subject.affines["paired"]) @ [0.0, 0.0, world_level(subject, mni_z), 1.0]
        patient_level = np.linalg.inv(volumes["T1"].affine) @ [0.0, 0.0, mni_z, 1.0]
        phantom_z, patient_z = round(level[2]), round(patient_level[2])
        rows.append(
            [display(image[:, :, phantom_z], shape) for image in phantom_images]
            + [display(image[:, :, patient_z], shape) for image in patient_images]
        )
    titles = ["phantom T1w", "phantom T2w", "MS patient T1w", "MS patient T2w"]
    save_panel_png(rows, HERE / "phantom_vs_patient.png", titles=titles, row_labels=[f"z {z:g}" for z in MNI_LEVELS_MM])


def main() -> None:
    """Simulate the subject and draw both pictures."""
    patient = Path(sys.argv[1]) if len(sys.argv) > 1 else PATIENT
    subject = simulate_subject(1, seed=0, scale=1.0, lesions=True)
    brain = np.isin(subject.labels, [TISSUE_LABELS[t] for t in ("csf", "gm", "wm", "lesion")])
    phantom_views(subject, brain)
    phantom_vs_patient(subject, brain, patient)


if __name__ == "__main__":
    main()
