"""Header fuzzing of translation: NIfTI files with every kind of odd header go through ``configs/inference.json``.

Hypothesis draws one file of each class below per example (oblique and flipped affines, anisotropic and odd spacings,
qform/sform disagreements, zero, negative and inconsistent pixdims, NaN in the affine, the common dtypes, 2D, 4D and
singleton dimensions, very large declared dimensions) and the bundle translates the folder in one run. Every file must
either be translated onto its own grid (shape, affine, units) and in the right orientation, or be refused with a
one-line error that starts with its name; classes whose outcome is certain must have it. The network is the identity
(``--network '$torch.nn.Identity()'``), so that a translated output must show the input's head where the input has it:
a flipped or transposed result would not correlate with it. Derandomized, a few examples: a few seconds.
"""

from __future__ import annotations

import collections
import csv
import gzip
import tempfile
import unittest
import warnings
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.errors import root_cause

CONFIGS = bundle_dir() / "configs"
# 2 mm model voxels (32 px over 64 mm), the identity network, and a small volume limit so "large" stays cheap
MODEL = {"image_size": 32, "fov_mm": 64.0, "network": "$torch.nn.Identity()", "max_voxels": 200_000, "amp": False}
HEAD_CENTRE = np.array([4.0, -6.0, 9.0])  # mm, in world (RAS) coordinates
DTYPES = {"uint8": 200, "int16": 3000, "uint16": 60000, "float64": 1.5}  # dtype -> brightest value
# class -> outcome it must have: "translated", "failed", or None where either is right
CLASSES = {
    "oblique": "translated",
    "flipped_and_permuted": "translated",
    "anisotropic_odd_spacing": "translated",
    "dtype": "translated",
    "qform_sform_disagree": "translated",
    "one_volume_4d": "translated",
    "one_volume_4d_sform_only": "failed",  # MONAI's NibabelReader replaces the affine of such files
    "elongated": "translated",
    "singleton_dims": None,
    "pixdim_vs_sform": "failed",
    "nonpositive_pixdim": "failed",
    "nan_affine": "failed",
    "2d": "failed",
    "series_4d": "failed",
    "huge_declared": "failed",
}
OUTCOMES: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


@dataclass
class Case:
    """One NIfTI file to write: its data shape, the header's shape and geometry fields, and its voxel type."""

    name: str
    kind: str
    shape: tuple[int, ...]
    dtype: str = "int16"
    sform: np.ndarray | None = None  # sform_code 1 when given
    qform: np.ndarray | None = None  # qform_code 1 when given
    pixdim: tuple[float, float, float] | None = None  # else the norms of the affine's columns
    declared: tuple[int, ...] | None = None  # a header shape other than the data's

    @property
    def affine(self) -> np.ndarray:
        """The grid the voxel values are drawn on: the sform, else the qform, else 1 mm."""
        for candidate in (self.sform, self.qform):
            if candidate is not None and np.isfinite(candidate).all():
                return candidate
        return np.eye(4)


def _head(world: np.ndarray) -> np.ndarray:
    """An asymmetric head in world coordinates (mm), 0 outside and up to 1 inside: a gradient, a bright block."""
    p = world - HEAD_CENTRE
    inside = np.sqrt(((p / np.array([30.0, 25.0, 20.0])) ** 2).sum(-1)) < 1
    block = (np.abs(p - np.array([12.0, 9.0, 7.0])) < 6).all(-1)
    return inside * (0.35 + 0.25 * (p[..., 0] + 30) / 60 + 0.15 * (p[..., 2] + 20) / 40) + block * 0.4


def _grid(linear: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The affine with ``linear`` whose grid of ``shape`` is centred on the head."""
    affine = np.eye(4)
    affine[:3, :3] = linear
    affine[:3, 3] = HEAD_CENTRE - linear @ ((np.asarray(shape[:3], dtype=float) - 1) / 2)
    return affine


def _write(case: Case, folder: Path) -> Path:
    """Write ``case`` byte for byte (nibabel's save would repair the header fields under test)."""
    shape3 = (tuple(case.shape) + (1, 1, 1))[:3]
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape3], indexing="ij"), -1).astype(float)
    values = _head(ijk @ case.affine[:3, :3].T + case.affine[:3, 3])
    data = np.broadcast_to(values.reshape(case.shape[:3] + (1,) * (len(case.shape) - 3)), case.shape)
    if len(case.shape) == 2:
        data = values[:, :, 0]
    data = (data * DTYPES[case.dtype]).astype(case.dtype)
    header = nib.Nifti1Header()
    header.set_data_dtype(case.dtype)
    header.set_data_shape(case.declared or case.shape)
    for form, code in ((case.qform, "qform"), (case.sform, "sform")):
        if form is not None:
            getattr(header, f"set_{code}")(np.nan_to_num(form) if code == "qform" else np.eye(4), code=1)
    if case.sform is not None:
        header["srow_x"], header["srow_y"], header["srow_z"] = case.sform[:3]  # NaN kept
    zooms = case.pixdim or tuple(np.linalg.norm(np.nan_to_num(case.affine[:3, :3]), axis=0))
    header["pixdim"][1:4] = zooms
    header.set_xyzt_units("mm", "sec")
    header["vox_offset"] = 352
    path = folder / f"{case.name}.nii.gz"
    with gzip.open(path, "wb") as f:
        f.write(header.binaryblock + b"\0" * 4 + np.asfortranarray(data).tobytes(order="F"))
    return path


_sides = st.integers(6, 14)
# integers only: the bundle turns on torch.set_flush_denormal for the process, under which hypothesis cannot draw floats
_spacing = st.integers(700, 4000).map(lambda s: s / 1000)


@st.composite
def _linear(draw: st.DrawFn, oblique: bool, permute: bool) -> np.ndarray:
    """Axis directions (a rotation, or a flip and permutation) times voxel sizes."""
    sizes = np.diag([draw(_spacing) for _ in range(3)])
    if oblique:
        angles = [draw(st.integers(-40, 40)) for _ in range(3)]
        directions = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    else:
        directions = np.eye(3)
    if permute:
        order = draw(st.permutations([0, 1, 2]))
        signs = [draw(st.sampled_from([-1.0, 1.0])) for _ in range(3)]
        directions = directions[:, order] * np.array(signs)
    return directions @ sizes


@st.composite
def _case(draw: st.DrawFn, kind: str) -> Case:
    shape = tuple(draw(_sides) for _ in range(3))
    name = f"{kind}-{draw(st.integers(0, 9999)):04d}"
    linear = draw(_linear(oblique=kind != "flipped_and_permuted", permute=kind != "oblique"))
    case = Case(name, kind, shape, draw(st.sampled_from(sorted(DTYPES))) if kind == "dtype" else "int16")
    case.sform = _grid(linear, shape)
    if kind == "anisotropic_odd_spacing":
        sizes = [draw(st.sampled_from([0.3, 0.9375, 1.2, 3.3, 5.5])) for _ in range(3)]
        case.sform = _grid(np.diag(sizes) * np.array([-1.0, 1.0, 1.0]), shape)
    elif kind == "qform_sform_disagree":  # both valid, same voxel sizes, another rotation and origin in the qform
        other = Rotation.from_euler("z", draw(st.integers(20, 90)), degrees=True).as_matrix() @ linear
        case.qform = _grid(other, shape)
        case.qform[:3, 3] += draw(st.integers(5, 30))
    elif kind == "one_volume_4d":  # as dcm2niix writes one: qform and sform
        case.shape, case.qform = (*shape, 1), case.sform.copy()
    elif kind == "one_volume_4d_sform_only":
        case.shape = (*shape, 1)
    elif kind == "elongated":
        case.shape = (draw(st.integers(60, 120)), draw(st.integers(2, 4)), draw(st.integers(2, 4)))
        case.sform = _grid(np.diag([0.5, 3.0, 3.0]), case.shape)
    elif kind == "singleton_dims":
        case.shape = tuple(1 if draw(st.booleans()) else n for n in shape)
        case.sform = _grid(linear, case.shape)
    elif kind == "pixdim_vs_sform":  # MONAI would rescale the affine to the pixdims
        factor = draw(st.sampled_from([0.5, 1.5, 2.0]))
        case.pixdim = tuple(np.linalg.norm(linear, axis=0) * [factor, 1.0, 1.0])
    elif kind == "nonpositive_pixdim":  # no sform: the qform's pixdims set the grid
        case.qform, case.sform = case.sform, None
        case.pixdim = (draw(st.sampled_from([0.0, -1.0, -2.5])), 1.0, 1.0)
    elif kind == "nan_affine":
        case.sform[draw(st.integers(0, 2)), draw(st.integers(0, 3))] = np.nan
    elif kind == "2d":
        case.shape = shape[:2]
    elif kind == "series_4d":
        case.shape = (*shape, draw(st.integers(2, 3)))
    elif kind == "huge_declared":
        case.declared = tuple(draw(st.integers(200, 32767)) for _ in range(3))
        case.shape = (2, 2, 2)  # a few bytes of data behind a header declaring up to 3.5e13 voxels
    return case


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


class TestHeaderFuzzing(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        rows = [f"  {kind:24s} {dict(OUTCOMES[kind])}" for kind in CLASSES]
        total = sum(sum(c.values()) for c in OUTCOMES.values())
        print(f"\nheader fuzzing: {total} cases\n" + "\n".join(rows))

    def _check_translated(self, case: Case, source: Path, output: Path) -> None:
        src, out = nib.load(source), nib.load(output)
        self.assertEqual(out.shape, src.shape[:3], case.name)
        np.testing.assert_allclose(out.affine, src.affine, atol=1e-4, err_msg=case.name)
        self.assertEqual(out.header.get_xyzt_units()[0], "mm", case.name)
        result = np.asarray(out.dataobj)
        self.assertTrue(np.isfinite(result).all() and result.min() >= 0 and result.max() <= 1, case.name)
        expected = np.asarray(src.dataobj, dtype=float).reshape(src.shape[:3])
        if min(expected.shape) >= 4 and expected.std() > 0:  # the head, where the input has it, not mirrored
            same = _correlation(result, expected)
            self.assertGreater(same, 0.8, case.name)
            for axis in range(3):
                mirrored = np.flip(expected, axis)
                if _correlation(expected, mirrored) < 0.9:
                    self.assertGreater(same, _correlation(result, mirrored) + 0.05, f"{case.name} axis {axis}")

    @settings(max_examples=3, derandomize=True, deadline=None, database=None)
    @given(cases=st.tuples(*(_case(kind) for kind in CLASSES)))
    def test_every_header_translates_on_its_grid_or_is_refused_by_name(self, cases):
        with tempfile.TemporaryDirectory() as tmp:
            folder, out = Path(tmp) / "in", Path(tmp) / "out"
            folder.mkdir()
            paths = {case.name: _write(case, folder) for case in cases}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # nibabel's repairs, the qform/sform warning
                try:
                    run_workflow(
                        CONFIGS / "inference.json", "infer", input_path=str(folder), output_dir=str(out), **MODEL
                    )
                except RuntimeError as e:  # the run fails when any file failed, after all of them
                    self.assertIn("input(s) failed; see", str(root_cause(e)))
            with (out / "translation_report.csv").open() as f:
                rows = {Path(row["input"]).name: row for row in csv.DictReader(f)}
            self.assertEqual(len(rows), len(cases))
            for case in cases:
                row = rows[paths[case.name].name]
                OUTCOMES[case.kind][row["status"]] += 1
                expected = CLASSES[case.kind]
                if expected is not None:
                    self.assertEqual(row["status"], expected, f"{case.name}: {row['error']}")
                if row["status"] == "translated":
                    self._check_translated(case, paths[case.name], Path(row["output"]))
                else:
                    self.assertEqual(row["status"], "failed", case.name)
                    self.assertTrue(row["error"].startswith(f"{paths[case.name]}: "), row["error"])
                    self.assertNotIn("\n", row["error"])
                    self.assertFalse(list(out.glob(f"{case.name}_*")), case.name)  # no output, no temporary file


if __name__ == "__main__":
    unittest.main()
