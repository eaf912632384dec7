from __future__ import annotations

import os
import tempfile
import unittest
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor, NibabelWriter
from monai.transforms import LoadImaged, SaveImaged
from parameterized import parameterized

from monai_cyclegan.transforms import AtomicSaveImage, AtomicSaveImaged, NamedLoadImaged
from tests.shared_data import write_nifti

AFFINE = np.diag([2.0, 1.5, 3.0, 1.0])
NOBODY = 65534  # the uid and gid of 'nobody' on Linux


def _write_probe(folder: Path) -> list[str]:
    """The output-folder check of AtomicSaveImaged on ``folder``, then an actual file write there."""
    try:
        AtomicSaveImaged("pred", output_dir=folder)
        outcome = ["accepted"]
    except PermissionError as e:
        outcome = [f"refused: {e}"]
    try:
        (folder / "probe").write_text("")
        return [*outcome, "write ok"]
    except PermissionError:
        return [*outcome, "write denied"]


class _FailingWriter(NibabelWriter):
    """Writes a few bytes under the name it is given, then fails, like a full disk."""

    def write(self, filename, verbose=True, **kwargs):
        Path(filename).write_bytes(b"partial")
        raise OSError("No space left on device")


def _image(name: str) -> MetaTensor:
    """A channel-first volume whose metadata says it came from ``/in/<name>``."""
    volume = torch.arange(4 * 5 * 6, dtype=torch.float32).reshape(1, 4, 5, 6) / 120
    return MetaTensor(volume, affine=torch.as_tensor(AFFINE), meta={"filename_or_obj": f"/in/{name}"})


class TestNamedLoadImaged(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        good = write_nifti(
            np.random.default_rng(0).random((8, 9, 10)).astype(np.float32), AFFINE, cls.root / "ok.nii.gz"
        )
        cls.good = good
        data = good.read_bytes()
        (cls.root / "head_only.nii.gz").write_bytes(data[:300])
        (cls.root / "half.nii.gz").write_bytes(data[: len(data) // 2])
        (cls.root / "notes.nii.gz").write_text("not an image")
        (cls.root / "notes.png").write_text("not an image")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    @parameterized.expand(
        [
            # ITK, which MONAI falls back to, reads this one as a volume of zeros
            ("head_only.nii.gz", "NibabelReader", "ImageFileError: Cannot work out file type"),
            ("half.nii.gz", "NibabelReader", "EOFError: Compressed file ended"),
            ("notes.nii.gz", "NibabelReader", "ImageFileError: .* is not a gzip file"),
            ("notes.png", "PILReader", "UnidentifiedImageError: cannot identify image file"),
        ]
    )
    def test_bad_files_name_the_file_and_the_readers_cause(self, name, reader, cause):
        path = str(self.root / name)
        with self.assertRaisesRegex(ValueError, f"^{path}: cannot read it as an image: {cause}"):
            NamedLoadImaged("image", reader=reader, image_only=True)({"image": path})

    def test_good_file_with_and_without_a_reader(self):
        for reader in ("NibabelReader", None):
            image = NamedLoadImaged("image", reader=reader, image_only=True)({"image": str(self.good)})["image"]
            self.assertEqual(tuple(image.shape), (8, 9, 10))


class TestAtomicSaveImaged(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.out = Path(self._tmp.name) / "out"

    def tearDown(self):
        self._tmp.cleanup()

    def _files(self) -> list[str]:
        return sorted(p.name for p in self.out.iterdir())

    @parameterized.expand([(".nii.gz", "PH001-T1.nii.gz"), (".png", "Image #1.png")])
    def test_same_names_and_content_as_save_imaged(self, ext, source):
        settings = {"output_postfix": "synT2", "output_ext": ext, "separate_folder": False, "print_log": False}
        if ext == ".png":
            settings.update(scale=255, output_dtype=np.uint8)
        image = _image(source)[..., 0] if ext == ".png" else _image(source)
        AtomicSaveImaged("pred", output_dir=self.out, **settings)({"pred": image})
        reference = Path(self._tmp.name) / "reference"
        SaveImaged("pred", output_dir=reference, **settings)({"pred": image})
        expected = sorted(p.name for p in reference.iterdir())
        self.assertEqual(self._files(), expected)  # nothing else, no temporary file left
        self.assertEqual((self.out / expected[0]).read_bytes(), (reference / expected[0]).read_bytes())

    def test_failed_write_leaves_no_file(self):
        image = {"pred": _image("a.nii.gz")}
        with self.assertRaisesRegex(RuntimeError, "cannot find a suitable writer"):
            AtomicSaveImaged("pred", output_dir=self.out, writer=_FailingWriter, separate_folder=False)(image)
        self.assertEqual(self._files(), [])
        # MONAI's SaveImaged leaves the partial file under the final name
        with self.assertRaises(RuntimeError):
            SaveImaged("pred", output_dir=self.out, writer=_FailingWriter, separate_folder=False)(image)
        self.assertEqual(self._files(), ["a_trans.nii.gz"])

    def test_existing_output_is_replaced(self):
        save = AtomicSaveImaged("pred", output_dir=self.out, separate_folder=False, print_log=False)
        save({"pred": _image("a.nii.gz")})
        save({"pred": _image("a.nii.gz") * 2})
        self.assertEqual(self._files(), ["a_trans.nii.gz"])
        saved = nib.load(self.out / "a_trans.nii.gz").get_fdata()
        np.testing.assert_allclose(saved, _image("a.nii.gz")[0].numpy() * 2, rtol=1e-6)

    def test_saved_path_and_explicit_file_name(self):
        image = _image("a.nii.gz")
        AtomicSaveImage(self.out, separate_folder=False, print_log=False, savepath_in_metadict=True)(image)
        self.assertEqual(image.meta["saved_to"], str(self.out / "a_trans.nii.gz"))
        AtomicSaveImage(self.out, output_ext=".NII.GZ", print_log=False)(image, filename=self.out / "named")
        self.assertEqual(self._files(), ["a_trans.nii.gz", "named.nii.gz"])

    @parameterized.expand([(".nii.gz", "PH001-T1.nii.gz"), (".png", "Image #1.png")])
    def test_output_path_is_where_the_save_writes(self, ext, source):
        settings = {"output_postfix": "synT2", "output_ext": ext, "separate_folder": False, "print_log": False}
        settings.update({"scale": 255, "output_dtype": np.uint8} if ext == ".png" else {})
        save = AtomicSaveImaged("pred", output_dir=self.out, savepath_in_metadict=True, **settings)
        image = _image(source)[..., 0] if ext == ".png" else _image(source)
        expected = save.output_path(f"/in/{source}")  # known before anything is loaded or saved
        self.assertFalse(expected.exists())
        save({"pred": image})
        self.assertEqual((image.meta["saved_to"], self._files()), (str(expected), [expected.name]))

    def test_singleton_dimensions_are_kept(self):
        """A one-slice volume stays (X, Y, 1): MONAI's writer would save it as a 2D (X, Y) image."""
        one_slice = MetaTensor(
            torch.rand(1, 4, 5, 1), affine=torch.as_tensor(AFFINE), meta={"filename_or_obj": "/in/a"}
        )
        AtomicSaveImaged("pred", output_dir=self.out, separate_folder=False, print_log=False)({"pred": one_slice})
        self.assertEqual(nib.load(self.out / "a_trans.nii.gz").shape, (4, 5, 1))

    def test_output_folder_that_cannot_be_created(self):
        blocker = Path(self._tmp.name) / "a file"
        blocker.write_text("")
        folder = blocker / "out"
        with self.assertRaisesRegex(OSError, f"^{folder}: cannot create the output folder: Not a directory"):
            AtomicSaveImaged("pred", output_dir=folder)

    def _probe_as_unprivileged_user(self, folder: Path) -> list[str]:
        """Run :func:`_write_probe` in a forked child process as an ordinary user; return what it reports.

        As root (who may write into any folder), the child drops to ``nobody``; otherwise it runs as the current user.
        A fork rather than a new interpreter: ``nobody`` may not be allowed to run this one (e.g. under ``/root``).
        """
        # the temporary folder is private (0o700): let the unprivileged child reach the folder inside it
        Path(self._tmp.name).chmod(0o755)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report through the pipe, never return into the test runner
            code = 1
            try:
                os.close(read_end)
                if os.geteuid() == 0:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                os.write(write_end, "\n".join(_write_probe(folder)).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as report:
            lines = report.read().splitlines()
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, lines)
        return lines

    def test_read_only_output_folder(self):
        # the real permission check (os.access, no mock), run by an ordinary user, agrees with a real write
        self.out.mkdir()
        self.out.chmod(0o555)
        try:
            refused = self._probe_as_unprivileged_user(self.out)
        finally:
            self.out.chmod(0o755)
        self.assertEqual(refused, [f"refused: {self.out}: the output folder is not writable.", "write denied"])

    def test_writable_output_folder_passes_the_check(self):
        # the same child and check with a folder that user may write to: the refusal above is the check's doing
        self.out.mkdir()
        self.out.chmod(0o777)
        self.assertEqual(self._probe_as_unprivileged_user(self.out), ["accepted", "write ok"])

    def test_root_may_write_into_a_read_only_folder(self):
        # for root the OS allows the write, and the real check agrees instead of refusing
        if os.geteuid() != 0:
            self.skipTest("needs root: an ordinary user cannot write into a 0o555 folder")
        self.out.mkdir()
        self.out.chmod(0o555)
        try:
            AtomicSaveImaged("pred", output_dir=self.out, separate_folder=False, print_log=False)(
                {"pred": _image("a.nii.gz")}
            )
        finally:
            self.out.chmod(0o755)
        self.assertEqual(self._files(), ["a_trans.nii.gz"])

    def test_nifti_keeps_the_input_units_and_carries_a_description(self):
        source = Path(self._tmp.name) / "in" / "PH001-T1.nii.gz"
        source.parent.mkdir()
        volume = nib.Nifti1Image(np.random.default_rng(0).random((4, 5, 6), dtype=np.float32), AFFINE)
        volume.header.set_xyzt_units("micron", "msec")
        nib.save(volume, source)
        loaded = LoadImaged("image", image_only=True, ensure_channel_first=True)({"image": str(source)})
        settings = {"output_postfix": "synT2", "separate_folder": False, "print_log": False}
        AtomicSaveImaged("image", output_dir=self.out, nifti_description="synthetic T2w " + "x" * 90, **settings)(
            loaded
        )
        saved = nib.load(self.out / "PH001-T1_synT2.nii.gz")
        self.assertEqual(saved.header.get_xyzt_units(), ("micron", "msec"))
        self.assertEqual(saved.header["descrip"].item(), ("synthetic T2w " + "x" * 90).encode()[:79])
        # one geometry for every viewer: sform and qform both hold the affine, as scanner coordinates (code 1)
        self.assertEqual((int(saved.header["sform_code"]), int(saved.header["qform_code"])), (1, 1))
        np.testing.assert_allclose(saved.get_sform(), AFFINE)
        np.testing.assert_allclose(saved.get_qform(), AFFINE)
        np.testing.assert_array_equal(saved.get_fdata(), volume.get_fdata())
        # MONAI's own writer forgets the units
        SaveImaged("image", output_dir=Path(self._tmp.name) / "monai", **settings)(loaded)
        monai_saved = nib.load(Path(self._tmp.name) / "monai" / "PH001-T1_synT2.nii.gz")
        self.assertEqual(monai_saved.header.get_xyzt_units(), ("unknown", "unknown"))

    def test_an_extension_is_needed(self):
        with self.assertRaisesRegex(ValueError, "needs an output_ext"):
            AtomicSaveImage(self.out, output_ext="")


if __name__ == "__main__":
    unittest.main()
