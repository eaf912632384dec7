from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import tarfile
import tempfile
import unittest
import warnings
from pathlib import Path
from unittest import mock

import nibabel as nib
import numpy as np

from monai_cyclegan.data.ixi import list_ixi_volumes
from monai_cyclegan.data.phantom import write_phantom_dataset
from monai_cyclegan.data.prepare_ixi import prepare_ixi

T1_NAMES = ["PH001-Phantom-0001-T1.nii.gz", "PH002-Phantom-0002-T1.nii.gz"]
T2_NAMES = ["PH001-Phantom-0001-T2.nii.gz", "PH002-Phantom-0002-T2.nii.gz"]


def _nifti_bytes(array: np.ndarray, gzipped: bool = True) -> bytes:
    """A NIfTI file with a 1 mm RAS affine, as bytes."""
    data = nib.Nifti1Image(array, np.eye(4)).to_bytes()
    return gzip.compress(data, compresslevel=1) if gzipped else data


def _write_tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    """A tarball holding ``members`` (member name -> content), in insertion order."""
    with tarfile.open(path, mode) as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def _run(t1: Path, t2: Path, out: Path, **kwargs):
    """``prepare_ixi`` with every warning recorded: (result, warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = prepare_ixi(t1, t2, out, **kwargs)
    return result, [str(item.message) for item in caught]


def _assert_only_complete_files(test: unittest.TestCase, out: Path) -> None:
    """No staging or temporary entry is left and every volume in the layout reads completely."""
    test.assertEqual([p.name for p in out.iterdir() if p.name.startswith(".")], [])
    for path in out.rglob("*"):
        test.assertNotIn(".tmp", path.name)
        if path.name.endswith(".nii.gz"):
            np.asanyarray(nib.load(str(path)).dataobj)  # raises on a partial file


class PrepareIxiTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._class_tmp = tempfile.TemporaryDirectory()
        cls.phantom = Path(cls._class_tmp.name) / "phantom"
        write_phantom_dataset(cls.phantom, 2, scale=0.25)

    @classmethod
    def tearDownClass(cls):
        cls._class_tmp.cleanup()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.out = self.tmp / "out"

    def tearDown(self):
        self._tmp.cleanup()

    def phantom_members(self, contrast: str) -> dict[str, bytes]:
        folder = self.phantom / f"IXI-{contrast}"
        return {path.name: path.read_bytes() for path in sorted(folder.glob("*.nii.gz"))}

    def phantom_tars(self, suffix: str = ".tar", mode: str = "w") -> tuple[Path, Path]:
        return tuple(_write_tar(self.tmp / f"IXI-{c}{suffix}", self.phantom_members(c), mode) for c in ("T1", "T2"))


class TestPrepareIxiInputs(PrepareIxiTestCase):
    def test_tar_input_writes_layout_and_manifests(self):
        result, messages = _run(*self.phantom_tars(), self.out)
        self.assertEqual(messages, [])
        self.assertEqual((result.count("T1"), result.count("T2"), result.skipped), (2, 2, []))
        self.assertEqual(sorted(p.name for p in (self.out / "IXI-T1").iterdir()), T1_NAMES)
        for name in T1_NAMES:  # byte-identical extraction
            self.assertEqual((self.out / "IXI-T1" / name).read_bytes(), (self.phantom / "IXI-T1" / name).read_bytes())
        self.assertEqual(
            sorted(p.name for p in self.out.iterdir()), ["IXI-T1", "IXI-T2", "manifest.csv", "manifest.json"]
        )

        manifest = json.loads((self.out / "manifest.json").read_text())
        self.assertEqual(manifest["counts"], {"T1": 2, "T2": 2})
        self.assertEqual(manifest["skipped"], [])
        t1, t2 = manifest["volumes"][0], manifest["volumes"][2]
        self.assertEqual(
            (t1["subject"], t1["site"], t1["contrast"], t1["path"]),
            ("PH001", "Phantom", "T1", "IXI-T1/PH001-Phantom-0001-T1.nii.gz"),
        )
        phantom_t1 = nib.load(str(self.phantom / "IXI-T1" / T1_NAMES[0]))
        self.assertEqual(t1["shape"], list(phantom_t1.shape))
        np.testing.assert_allclose(t1["spacing_mm"], phantom_t1.header.get_zooms(), rtol=1e-6)
        self.assertEqual(t1["orientation"], "LSP")  # sagittal acquisition
        self.assertEqual(t2["orientation"], "LPS")  # axial acquisition
        self.assertNotEqual(t1["shape"], t2["shape"])

        with (self.out / "manifest.csv").open(newline="") as stream:
            rows = list(csv.DictReader(stream))
        self.assertEqual([row["path"] for row in rows], [v["path"] for v in manifest["volumes"]])
        self.assertEqual(rows[0]["shape"], "x".join(str(n) for n in phantom_t1.shape))
        self.assertEqual((rows[0]["orientation"], rows[0]["site"]), ("LSP", "Phantom"))

        found = list_ixi_volumes(self.out)
        self.assertEqual([v["subject"] for v in found["t1"]], ["PH001", "PH002"])
        self.assertEqual([v["site"] for v in found["t2"]], ["Phantom", "Phantom"])

    def test_gzipped_tars(self):
        t1, _ = self.phantom_tars(".tar.gz", "w:gz")
        t2 = _write_tar(self.tmp / "IXI-T2.tgz", self.phantom_members("T2"), "w:gz")
        result, messages = _run(t1, t2, self.out)
        self.assertEqual((result.count("T1"), result.count("T2"), messages), (2, 2, []))
        self.assertEqual(len(list_ixi_volumes(self.out)["t2"]), 2)

    def test_folder_input_is_copied_recursively(self):
        t1 = self.tmp / "t1"
        shutil.copytree(self.phantom / "IXI-T1", t1 / "nested")
        result, messages = _run(t1, self.phantom / "IXI-T2", self.out)
        self.assertEqual((result.count("T1"), result.count("T2"), messages), (2, 2, []))
        copied = self.out / "IXI-T1" / T1_NAMES[0]
        self.assertFalse(copied.is_symlink())
        self.assertEqual(copied.read_bytes(), (t1 / "nested" / T1_NAMES[0]).read_bytes())

    def test_progress_bars_on_stderr_for_a_tarball_and_a_folder_unless_off(self):
        t1, _ = self.phantom_tars()
        with contextlib.redirect_stderr(io.StringIO()) as bars:
            _run(t1, self.phantom / "IXI-T2", self.out)
        self.assertRegex(bars.getvalue(), r"IXI T1: IXI-T1\.tar: 100%\|.*\| (\d+k)/\1 ")  # bytes, to the end
        self.assertRegex(bars.getvalue(), r"IXI T2: IXI-T2: 100%.*2/2")  # every file of the folder
        with contextlib.redirect_stderr(io.StringIO()) as bars:
            prepare_ixi(t1, self.phantom / "IXI-T2", self.tmp / "quiet", progress=False)
        self.assertEqual(bars.getvalue(), "")

    def test_folder_input_symlinked(self):
        result, _ = _run(self.phantom / "IXI-T1", self.phantom / "IXI-T2", self.out, symlink=True)
        self.assertEqual(result.count("T2"), 2)
        linked = self.out / "IXI-T2" / T2_NAMES[1]
        self.assertTrue(linked.is_symlink())
        self.assertEqual(linked.resolve(), (self.phantom / "IXI-T2" / T2_NAMES[1]).resolve())
        self.assertEqual(len(list_ixi_volumes(self.out)["t2"]), 2)

    def test_output_inside_input_folder_is_not_read_back(self):
        source = self.tmp / "source"
        shutil.copytree(self.phantom / "IXI-T1", source)
        out = source / "prepared"
        _run(source, self.phantom / "IXI-T2", out)
        result, messages = _run(source, self.phantom / "IXI-T2", out)  # the prepared copies are under source now
        self.assertEqual((result.count("T1"), messages), (2, []))

    def test_earlier_volumes_stay_in_manifest(self):
        _run(*self.phantom_tars(), self.out)
        extra = {"IXI003-HH-1111-T1.nii.gz": _nifti_bytes(np.ones((4, 5, 6), np.float32))}
        result, _ = _run(_write_tar(self.tmp / "more.tar", extra), self.tmp / "IXI-T2.tar", self.out)
        manifest = json.loads((self.out / "manifest.json").read_text())
        self.assertEqual(manifest["counts"], {"T1": 3, "T2": 2})
        sites = {v["subject"]: v["site"] for v in manifest["volumes"]}
        self.assertEqual((sites["IXI003"], sites["PH001"]), ("HH", "Phantom"))
        self.assertEqual(len(result.volumes), 5)


class TestPrepareIxiBadMembers(PrepareIxiTestCase):
    def test_bad_members_are_skipped_with_warnings(self):
        good = self.phantom_members("T1")
        truncated = good[T1_NAMES[0]][: len(good[T1_NAMES[0]]) // 2]
        nan_volume = np.ones((4, 4, 4), np.float32)
        nan_volume[1, 2, 3] = np.nan
        bad = {
            "IXI010-Guys-0010-T1.nii.gz": truncated,
            "IXI011-HH-0011-T1.nii.gz": b"this is not an image",
            "IXI012-IOP-0012-T1.nii.gz": _nifti_bytes(np.ones((8, 8), np.int16)),
            "IXI013-Guys-0013-T1.nii.gz": _nifti_bytes(np.ones((4, 4, 4, 3), np.int16)),
            "IXI014-HH-0014-T1.nii": _nifti_bytes(nan_volume, gzipped=False),
            "IXI015_Guys_T1.nii.gz": _nifti_bytes(np.ones((4, 4, 4), np.int16)),
            "IXI016-Guys-0016-T2.nii.gz": _nifti_bytes(np.ones((4, 4, 4), np.int16)),
        }
        kept_extras = {
            "IXI017-IOP-0017-T1.nii.gz": _nifti_bytes(np.ones((4, 5, 6, 1), np.int16)),  # single-volume 4D
            "../../IXI018-HH-0018-T1.nii.gz": _nifti_bytes(np.ones((3, 3, 3), np.int16)),  # traversal: base name only
        }
        t1 = _write_tar(self.tmp / "IXI-T1.tar", {**bad, **good, **kept_extras})
        t2 = _write_tar(self.tmp / "IXI-T2.tar", self.phantom_members("T2"))
        result, messages = _run(t1, t2, self.out)

        self.assertEqual({item.member for item in result.skipped}, set(bad))
        for name in bad:
            self.assertTrue(any(name in message for message in messages), name)
        reasons = {item.member: item.reason for item in result.skipped}
        self.assertIn("truncated", reasons["IXI010-Guys-0010-T1.nii.gz"])
        self.assertIn("cannot be opened", reasons["IXI011-HH-0011-T1.nii.gz"])
        self.assertIn("2D", reasons["IXI012-IOP-0012-T1.nii.gz"])
        self.assertIn("4D", reasons["IXI013-Guys-0013-T1.nii.gz"])
        self.assertIn("NaN", reasons["IXI014-HH-0014-T1.nii"])
        self.assertIn("IXI pattern", reasons["IXI015_Guys_T1.nii.gz"])
        self.assertIn("T2 volume in the T1 input", reasons["IXI016-Guys-0016-T2.nii.gz"])

        kept = sorted(p.name for p in (self.out / "IXI-T1").iterdir())
        self.assertEqual(kept, ["IXI017-IOP-0017-T1.nii.gz", "IXI018-HH-0018-T1.nii.gz", *T1_NAMES])
        self.assertFalse((self.tmp / "IXI018-HH-0018-T1.nii.gz").exists())
        manifest = json.loads((self.out / "manifest.json").read_text())
        self.assertEqual({item["member"] for item in manifest["skipped"]}, set(bad))
        self.assertEqual({item["source"] for item in manifest["skipped"]}, {str(t1)})
        single_volume = next(v for v in manifest["volumes"] if v["subject"] == "IXI017")
        self.assertEqual(single_volume["shape"], [4, 5, 6])
        _assert_only_complete_files(self, self.out)

    def test_truncated_archive_keeps_the_members_before_the_damage(self):
        _, t2 = self.phantom_tars()
        complete = (self.tmp / "IXI-T1.tar").read_bytes()
        second_header = 512 + -(-len(self.phantom_members("T1")[T1_NAMES[0]]) // 512) * 512
        t1 = self.tmp / "truncated-T1.tar"
        t1.write_bytes(complete[: second_header + 512 + 1024])  # ends inside the second member's data
        result, messages = _run(t1, t2, self.out)
        self.assertEqual([v.path for v in result.volumes if v.contrast == "T1"], [f"IXI-T1/{T1_NAMES[0]}"])
        self.assertEqual([item.member for item in result.skipped], [T1_NAMES[1]])
        self.assertIn("truncated", result.skipped[0].reason)
        self.assertTrue(any(T1_NAMES[1] in message for message in messages))
        _assert_only_complete_files(self, self.out)


class TestPrepareIxiErrors(PrepareIxiTestCase):
    def test_missing_input_names_the_path(self):
        t1, t2 = self.phantom_tars()
        with self.assertRaisesRegex(FileNotFoundError, "no-such-T2.tar"):
            prepare_ixi(t1, self.tmp / "no-such-T2.tar", self.out)
        with self.assertRaisesRegex(FileNotFoundError, "no-such-folder"):
            prepare_ixi(self.tmp / "no-such-folder", t2, self.out)
        self.assertFalse(self.out.exists())  # checked before anything is written

    def test_no_valid_t1_names_the_input(self):
        swapped = _write_tar(self.tmp / "swapped.tar", self.phantom_members("T2"))
        _, t2 = self.phantom_tars()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with self.assertRaisesRegex(ValueError, r"swapped\.tar.*no valid T1 volume.*T2 volume in the T1 input"):
                prepare_ixi(swapped, t2, self.out)
        _assert_only_complete_files(self, self.out)

    def test_not_a_tar_names_the_input(self):
        _, t2 = self.phantom_tars()
        not_tar = self.tmp / "broken-T1.tar"
        not_tar.write_bytes(b"definitely not a tar archive" * 40)
        with self.assertRaisesRegex(ValueError, r"broken-T1\.tar.*not a readable tar"):
            prepare_ixi(not_tar, t2, self.out)

    def test_input_inside_output_layout_is_refused(self):
        _run(*self.phantom_tars(), self.out)
        with self.assertRaisesRegex(ValueError, "inside the output folder"):
            prepare_ixi(self.out / "IXI-T1", self.tmp / "IXI-T2.tar", self.out, symlink=True)
        self.assertFalse((self.out / "IXI-T1" / T1_NAMES[0]).is_symlink())


class TestPrepareIxiInterruption(PrepareIxiTestCase):
    def test_failure_while_moving_into_place_leaves_only_complete_files(self):
        real_replace = os.replace
        calls = []

        def failing_replace(source, destination):
            calls.append(destination)
            if len(calls) == 2:
                raise OSError("disk full (injected)")
            real_replace(source, destination)

        with mock.patch("monai_cyclegan.data.prepare_ixi.os.replace", side_effect=failing_replace):
            with self.assertRaisesRegex(OSError, "injected"):
                prepare_ixi(*self.phantom_tars(), self.out)
        self.assertEqual(sorted(p.name for p in (self.out / "IXI-T1").iterdir()), T1_NAMES[:1])
        self.assertFalse((self.out / "manifest.json").exists())
        _assert_only_complete_files(self, self.out)

    def test_keyboard_interrupt_during_validation_removes_staging(self):
        with mock.patch("monai_cyclegan.data.prepare_ixi._read_volume", side_effect=KeyboardInterrupt):
            with self.assertRaises(KeyboardInterrupt):
                prepare_ixi(*self.phantom_tars(), self.out)
        self.assertEqual(list((self.out / "IXI-T1").iterdir()), [])
        _assert_only_complete_files(self, self.out)

    def test_manifest_is_replaced_atomically(self):
        _run(*self.phantom_tars(), self.out)
        before = {name: (self.out / name).read_text() for name in ("manifest.csv", "manifest.json")}
        with mock.patch("monai_cyclegan.data.prepare_ixi.json.dumps", side_effect=RuntimeError("injected")):
            with self.assertRaisesRegex(RuntimeError, "injected"):
                prepare_ixi(self.tmp / "IXI-T1.tar", self.tmp / "IXI-T2.tar", self.out)
        self.assertEqual({name: (self.out / name).read_text() for name in before}, before)
        _assert_only_complete_files(self, self.out)


if __name__ == "__main__":
    unittest.main()
