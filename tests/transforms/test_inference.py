from __future__ import annotations

import gzip
import math
import tempfile
import unittest
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import nibabel as nib
import numpy as np
import torch
from monai.transforms import Invertd, SpatialResample
from parameterized import parameterized
from PIL import Image

from monai_cyclegan.errors import root_cause
from monai_cyclegan.transforms import NamedLoadImaged
from monai_cyclegan.transforms.inference import (
    CheckNiftiHeader,
    CheckNiftiHeaderd,
    InvertToInputd,
    translation_preprocessing,
)

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


OBLIQUE = np.array([[1.2, 0.3, 0, 5], [-0.2, 0, 0.9, -3], [0, -1.1, 0.1, 7], [0, 0, 0, 1]])


def _prepared(tmp: str, affine: np.ndarray, shape: tuple[int, ...]) -> tuple[Path, Any, dict]:
    """A volume on ``affine``, ``shape`` prepared for translation, and a prediction (half of it) on the model grid."""
    data = (np.random.default_rng(0).random(shape) * 200 + 50).astype(np.int16)
    path = _save(Path(tmp) / "a.nii.gz", data, affine=affine)
    preprocessing = translation_preprocessing("volume", 16, 32.0)
    prepared = preprocessing({"image": str(path)})
    prepared["pred"] = prepared["image"].clone() * 0.5
    return path, preprocessing, prepared


class TestInvertToInputd(unittest.TestCase):
    @parameterized.expand(
        [
            ("oblique", OBLIQUE, (20, 17, 15), False),
            ("flipped_1mm", np.diag([-1.0, 1.0, 1.0, 1.0]), (16, 18, 12), False),
            ("one_slice", np.diag([0.8, 0.8, 3.0, 1.0]), (20, 22, 1), False),
            ("oblique_nearest", OBLIQUE, (20, 17, 15), True),
        ]
    )
    def test_same_as_invertd_slab_by_slab(self, _, affine, shape, nearest):
        with tempfile.TemporaryDirectory() as tmp:
            path, preprocessing, prepared = _prepared(tmp, affine, shape)
            invertd = Invertd("pred", preprocessing, orig_keys="image", nearest_interp=nearest)
            expected = invertd(dict(prepared))["pred"]
            chunked = InvertToInputd("pred", preprocessing, orig_keys="image", nearest_interp=nearest, chunk_voxels=300)
            with mock.patch.object(
                SpatialResample, "__call__", autospec=True, side_effect=SpatialResample.__call__
            ) as spy:
                result = chunked(dict(prepared))["pred"]
            file_affine = nib.load(path).affine
        # slabs of at most 300 voxels (one slice when a slice is larger) that cover the output once
        sizes = [call.kwargs["spatial_size"] for call in spy.call_args_list]
        self.assertEqual(sum(size[-1] for size in sizes), shape[-1])
        self.assertEqual(len(sizes), math.ceil(shape[-1] / max(1, 300 // (shape[0] * shape[1]))))
        self.assertEqual(tuple(result.shape), (1, *shape))
        self.assertEqual(result.dtype, torch.float32)
        np.testing.assert_allclose(result.affine.numpy(), file_affine, atol=1e-5)
        np.testing.assert_allclose(result.affine.numpy(), expected.affine.numpy(), atol=1e-5)
        torch.testing.assert_close(result.as_tensor(), expected.as_tensor().float(), rtol=0, atol=1e-4)
        self.assertEqual(result.meta["filename_or_obj"], str(path))

    def test_one_slab_when_it_fits(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, preprocessing, prepared = _prepared(tmp, OBLIQUE, (20, 17, 15))
            expected = Invertd("pred", preprocessing, orig_keys="image", nearest_interp=False)(dict(prepared))["pred"]
            result = InvertToInputd("pred", preprocessing, orig_keys="image", nearest_interp=False)(prepared)["pred"]
        torch.testing.assert_close(result.as_tensor(), expected.as_tensor().float(), rtol=0, atol=1e-4)

    def test_other_chains_go_through_invertd(self):
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "slice.png"
            Image.fromarray((np.random.default_rng(1).random((20, 30)) * 255).astype(np.uint8)).save(image)
            preprocessing = translation_preprocessing("slice", 32)
            prepared = preprocessing({"image": str(image)})
        prepared["pred"] = prepared["image"].clone()
        expected = Invertd("pred", preprocessing, orig_keys="image")(dict(prepared))["pred"]
        with mock.patch("monai_cyclegan.transforms.inference.resample_to_grid") as resample:
            result = InvertToInputd("pred", preprocessing, orig_keys="image")(dict(prepared))["pred"]
        resample.assert_not_called()
        self.assertEqual(tuple(result.shape), (1, 30, 20))
        torch.testing.assert_close(result.as_tensor(), expected.as_tensor())

    def test_prediction_off_the_model_grid_goes_through_invertd(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, preprocessing, prepared = _prepared(tmp, OBLIQUE, (20, 17, 15))
        prepared["pred"] = prepared["pred"][:, :-1]
        with mock.patch.object(Invertd, "__call__", return_value={"pred": "inverted"}) as invertd:
            result = InvertToInputd("pred", preprocessing, orig_keys="image")(prepared)
        invertd.assert_called_once()
        self.assertEqual(result["pred"], "inverted")

    def test_chunk_voxels_must_be_positive(self):
        with self.assertRaisesRegex(ValueError, "chunk_voxels must be a positive integer"):
            InvertToInputd("pred", translation_preprocessing("volume", 16), orig_keys="image", chunk_voxels=0)


if __name__ == "__main__":
    unittest.main()
