from __future__ import annotations

import gzip
import tempfile
import unittest
import warnings
from pathlib import Path
from unittest import mock

import nibabel as nib
import numpy as np
from parameterized import parameterized

from monai_cyclegan.errors import root_cause
from monai_cyclegan.transforms import NamedLoadImaged
from monai_cyclegan.transforms.inference import CheckNiftiHeader, CheckNiftiHeaderd, translation_preprocessing

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def _volume(shape=(8, 9, 10), dtype=np.int16) -> np.ndarray:
    data = np.zeros(shape, dtype=dtype)
    data[2:6, 2:7, 3:8] = 100
    return data


def _save(path: Path, data: np.ndarray, affine=AFFINE, edit=None) -> Path:
    """Write ``data`` as NIfTI-1, after ``edit(image)`` may change its header."""
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    if edit is not None:
        edit(image)
    nib.save(image, str(path))
    return path


def _raw(path: Path, header: nib.Nifti1Header, data: bytes) -> Path:
    """Write ``header`` and ``data`` as a .nii.gz byte for byte: nibabel's save would repair the header."""
    header["vox_offset"] = 352
    with gzip.open(path, "wb") as f:
        f.write(header.binaryblock + b"\0" * 4 + data)
    return path


def _header(shape=(8, 9, 10), affine=AFFINE) -> nib.Nifti1Header:
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_zooms(tuple(np.linalg.norm(affine[:3, :3], axis=0)[: len(shape)]) + (1.0,) * (len(shape) - 3))
    header.set_sform(affine, code=1)
    header.set_xyzt_units("mm")
    return header


def _edited(path: Path, edit) -> Path:
    """A good int16 volume whose header fields ``edit(header)`` changes afterwards."""
    header = _header()
    edit(header)
    return _raw(path, header, _volume().tobytes(order="F"))


def _qform_only(header: nib.Nifti1Header) -> None:
    """Only a qform, with a zero first pixdim."""
    header.set_sform(None, code=0)
    header.set_qform(AFFINE, code=1)
    header["pixdim"][1] = 0.0


class TestCheckNiftiHeader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def _check(self, path: Path, spacing=(1.0, 1.0, 1.0), max_voxels: int = 10**6) -> Path:
        return CheckNiftiHeader(max_voxels, spacing)(str(path))

    def test_good_volumes_pass_unchanged(self):
        for name, dtype in (("u8", np.uint8), ("i16", np.int16), ("u16", np.uint16), ("f64", np.float64)):
            path = _save(self.root / f"{name}.nii.gz", _volume(dtype=dtype))
            self.assertEqual(self._check(path), str(path))
        single = _save(self.root / "single.nii", _volume()[..., None])  # 4D holding one volume
        self.assertEqual(self._check(single), str(single))

    def test_declared_size_is_refused_before_loading(self):
        path = _raw(self.root / "huge.nii.gz", _header((32767, 32767, 32767)), b"\0" * 64)  # 64 bytes of data
        with mock.patch.object(NamedLoadImaged, "__call__") as load:
            with self.assertRaises(RuntimeError) as caught:
                translation_preprocessing("volume", 32, 256.0, max_voxels=10**6)({"image": str(path)})
        self.assertRegex(str(root_cause(caught.exception)), rf"^{path}: its header declares 32767x32767x32767 = 35181")
        load.assert_not_called()

    def test_resampled_size_is_refused(self):
        # 10 voxels of 1 km: a few voxels on its own grid, 10^7 along one axis at the model's 1 mm
        path = _save(self.root / "far.nii.gz", _volume(), affine=np.diag([1e6, 2.0, 2.0, 1.0]))
        with self.assertRaisesRegex(
            ValueError, r"would be 8000000x18x20 = \d+ voxels at the model's \[1.0, 1.0, 1.0\]"
        ):
            self._check(path)

    @parameterized.expand(
        [
            ("nan_affine", lambda h: h["srow_x"].__setitem__(0, np.nan), "affine holds NaN"),
            ("zero_pixdim", _qform_only, r"pixdims \[0.0, 2.0, 2.0\] include zero or negative"),
            ("pixdim_vs_sform", lambda h: h["pixdim"].__setitem__(2, 3.0), r"another grid .* \[2.0, 3.0, 2.0\] may"),
            ("metres", lambda h: h.set_xyzt_units("meter"), "spatial unit is 'meter'"),
            ("complex", lambda h: h.set_data_dtype(np.complex64), "unsupported voxel type complex64"),
            (
                "singular",
                lambda h: h.set_sform(np.array([[2, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0], [0, 0, 0, 1]])),
                r"affine is singular \(axes along the same direction\)",
            ),  # fmt: skip
        ]
    )
    def test_bad_headers_name_the_file(self, name, edit, problem):
        path = _edited(self.root / f"{name}.nii.gz", edit)
        with self.assertRaisesRegex(ValueError, f"^{path}: .*{problem}"):
            self._check(path)

    @parameterized.expand([("2d", (8, 9)), ("4d", (8, 9, 10, 2)), ("empty", (8, 0, 10))])
    def test_shapes_other_than_one_volume(self, name, shape):
        path = _save(self.root / f"{name}.nii.gz", np.zeros(shape, np.int16))
        with self.assertRaisesRegex(ValueError, rf"^{path}: (expected a 3D volume|the volume is empty)"):
            self._check(path)

    def test_disagreeing_qform_and_sform_warn_and_pass(self):
        def disagree(image):
            image.set_qform(np.diag([-2.0, 2.0, 2.0, 1.0]), code=1)
            image.set_sform(AFFINE, code=1)

        path = _save(self.root / "disagree.nii.gz", _volume(), edit=disagree)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertEqual(self._check(path), str(path))
        self.assertTrue(any("qform and sform disagree" in str(w.message) for w in caught))

    def test_unreadable_files_are_left_to_the_loader(self):
        text = self.root / "text.nii.gz"
        text.write_text("not an image")
        self.assertEqual(self._check(text), str(text))
        self.assertEqual(CheckNiftiHeaderd("image")({"image": str(text)}), {"image": str(text)})

    def test_settings_are_checked(self):
        with self.assertRaisesRegex(ValueError, "max_voxels must be a positive integer"):
            CheckNiftiHeader(0)
        with self.assertRaisesRegex(ValueError, "kind must be 'volume' or 'slice'"):
            translation_preprocessing("video")


if __name__ == "__main__":
    unittest.main()
