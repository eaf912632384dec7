"""Every bad input of issue 6 through the bundle: an error naming the file (or setting) and the problem, no output.

Inference runs ``configs/inference.json`` on one bad file at a time with an untrained tiny generator (the weights do
not matter to these errors); it records the failure in ``translation_report.csv``, goes on with the other inputs of a
folder (issue 16) and fails at the end. Training runs ``configs/train.json`` on a data set with one bad file;
``monai-cyclegan evaluate`` and ``python -m monai.bundle run inferring`` are each tried once as well.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import nibabel as nib
import numpy as np
import torch
from monai.data import ITKWriter, NibabelWriter
from parameterized import parameterized
from PIL import Image

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.cli import main
from monai_cyclegan.data.phantom import write_phantom_dataset
from monai_cyclegan.networks import UNetGenerator
from monai_cyclegan.translation import REPORT_NAME
from tests.shared_data import write_nifti

CONFIGS = bundle_dir() / "configs"
TINY = {"image_size": 32, "ngf": 4}
TRAIN_TINY = {**TINY, "ndf": 4, "num_workers": 0, "batch_size": 2, "epochs": 1}
AFFINE = np.diag([-8.0, 8.0, 8.0, 1.0])  # LAS, 8 mm voxels: the 32 px model's spacing over 256 mm

# name of the bad file -> what the error says about it
BAD_VOLUMES = {
    "truncated.nii.gz": "cannot read it as an image: EOFError: Compressed file ended",
    "text.nii.gz": "cannot read it as an image: ImageFileError: .* is not a gzip file",
    "flat.nii.gz": r"expected a 3D volume, got an array of shape \(24, 20\)",
    "series.nii.gz": r"expected a 3D volume, got an array of shape \(24, 20, 16, 2\)",
    "nan.nii.gz": "the volume holds NaN or infinite voxels",
    "inf.nii.gz": "the volume holds NaN or infinite voxels",
    "zeros.nii.gz": r"image has no foreground \(it is empty or constant\)",
}
BAD_IMAGES = {
    "corrupt.png": "cannot read it as an image: OSError: image file is truncated",
    "text.png": "cannot read it as an image: UnidentifiedImageError: cannot identify image file",
}


def _messages(error: BaseException) -> list[str]:
    """The messages of an error and of its causes, outermost first (MONAI wraps the package's errors)."""
    messages = []
    while error is not None:
        messages.append(str(error))
        error = error.__cause__
    return messages


def _head() -> np.ndarray:
    """A bright box in air, (24, 20, 16) voxels."""
    volume = np.zeros((24, 20, 16), np.float32)
    volume[4:20, 4:16, 3:13] = np.linspace(100, 300, 10, dtype=np.float32)
    return volume


def _write_bad_files(folder: Path) -> None:
    """Every file of :data:`BAD_VOLUMES` and :data:`BAD_IMAGES`, and a good volume and image beside them."""
    head = _head()
    good = write_nifti(head, AFFINE, folder / "good.nii.gz").read_bytes()
    (folder / "truncated.nii.gz").write_bytes(good[: len(good) // 2])
    (folder / "text.nii.gz").write_text("patient notes, not an image")
    write_nifti(head[:, :, 8], AFFINE, folder / "flat.nii.gz")
    write_nifti(np.stack([head, head], axis=-1), AFFINE, folder / "series.nii.gz")
    for name, value in (("nan", np.nan), ("inf", np.inf)):
        broken = head.copy()
        broken[10, 10, 8] = value
        write_nifti(broken, AFFINE, folder / f"{name}.nii.gz")
    write_nifti(np.zeros_like(head), AFFINE, folder / "zeros.nii.gz")
    Image.fromarray(np.linspace(0, 255, 40 * 30).reshape(40, 30).astype(np.uint8)).save(folder / "good.png")
    png = (folder / "good.png").read_bytes()
    (folder / "corrupt.png").write_bytes(png[: len(png) // 2])
    (folder / "text.png").write_text("not a PNG")


class TestBadInputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        cls.bad = cls.root / "bad"
        cls.bad.mkdir()
        _write_bad_files(cls.bad)
        cls.weights = cls.root / "tiny.pt"
        torch.save(UNetGenerator(**TINY).state_dict(), cls.weights)
        cls.phantom = cls.root / "phantom"
        write_phantom_dataset(cls.phantom, num_subjects=2, scale=0.125)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def setUp(self):
        self.case = Path(tempfile.mkdtemp(dir=self.root))
        self.out = self.case / "out"

    def _assert_fails(self, run, *expected: str) -> None:
        """Run ``run()``; it must raise, and one message of the error chain must match each of ``expected``."""
        with self.assertRaises(Exception) as caught:
            run()
        messages = _messages(caught.exception)
        for pattern in expected:
            self.assertTrue(any(re.search(pattern, m) for m in messages), f"{pattern!r} not in {messages}")

    def _assert_no_output(self, *folders: Path) -> None:
        """No file at all under ``folders``: neither an output nor a temporary file of one."""
        for folder in folders:
            files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
            self.assertEqual(files, [], folder)

    def _assert_only_report(self, folder: Path, failed: list[Path], translated: tuple[str, ...] = ()) -> None:
        """``folder`` holds the outputs ``translated`` and the report, whose rows mark ``failed`` as failed."""
        self.assertEqual(sorted(p.name for p in folder.iterdir()), sorted([*translated, REPORT_NAME]))
        with (folder / REPORT_NAME).open() as f:
            rows = {row["input"]: row for row in csv.DictReader(f)}
        for path in failed:
            row = rows[str(path)]
            self.assertEqual((row["status"], row["output"]), ("failed", ""))
            self.assertTrue(row["error"].startswith(f"{path}: "), row["error"])

    def _infer(self, input_path: Path, config: Path | list[Path] = CONFIGS / "inference.json", **overrides):
        settings = {"output_dir": str(self.out), "checkpoint": str(self.weights), **TINY, **overrides}
        return run_workflow(config, "infer", input_path=str(input_path), **settings)

    def _train(self, dataset_dir: Path, **overrides):
        settings = {"output_dir": str(self.case / "run"), "ckpt_dir": str(self.case / "models"), **TRAIN_TINY}
        return run_workflow(CONFIGS / "train.json", "train", dataset_dir=str(dataset_dir), **{**settings, **overrides})

    @parameterized.expand(sorted({**BAD_VOLUMES, **BAD_IMAGES}.items()))
    def test_inference_names_the_bad_file(self, name, problem):
        path = self.bad / name
        self._assert_fails(lambda: self._infer(path), f"^{re.escape(str(path))}: {problem}")
        self._assert_only_report(self.out, failed=[path])

    @parameterized.expand(
        [
            ("truncated.nii.gz", "IXI-T1/PH002-Phantom-0002-T1.nii.gz"),
            ("series.nii.gz", "IXI-T2/PH001-Phantom-0001-T2.nii.gz"),
            ("nan.nii.gz", "IXI-T1/PH001-Phantom-0001-T1.nii.gz"),
            ("zeros.nii.gz", "IXI-T2/PH002-Phantom-0002-T2.nii.gz"),
        ]
    )
    def test_training_names_the_bad_volume(self, name, replaced):
        data = self.case / "data"
        shutil.copytree(self.phantom, data)
        shutil.copyfile(self.bad / name, data / replaced)
        self._assert_fails(lambda: self._train(data), f"^{re.escape(str(data / replaced))}: {BAD_VOLUMES[name]}")
        self._assert_no_output(self.case / "run", self.case / "models")

    def test_training_names_the_corrupt_png(self):
        data = self.case / "pngs"
        for contrast in ("t1", "t2"):
            (data / contrast).mkdir(parents=True)
            shutil.copyfile(self.bad / "good.png", data / contrast / "a.png")
        shutil.copyfile(self.bad / "corrupt.png", data / "t2" / "b.png")
        bad = re.escape(str(data / "t2" / "b.png"))
        self._assert_fails(lambda: self._train(data), f"^{bad}: {BAD_IMAGES['corrupt.png']}")
        self._assert_no_output(self.case / "run", self.case / "models")

    def test_empty_and_one_sided_dataset_dirs(self):
        empty = self.case / "empty"
        empty.mkdir()
        one_sided = self.case / "one_sided"
        shutil.copytree(self.phantom / "IXI-T1", one_sided / "IXI-T1")
        for data, problem in ((empty, "holds no known data set layout (it is empty)"), (one_sided, "has no volumes")):
            with self.subTest(data.name):
                self._assert_fails(
                    lambda data=data: self._train(data), f"^dataset_dir '{re.escape(str(data))}' {re.escape(problem)}"
                )
        self._assert_no_output(self.case / "run", self.case / "models")

    def test_empty_input_folder(self):
        empty = self.case / "in"
        empty.mkdir()
        (empty / "notes.txt").write_text("")
        self._assert_fails(
            lambda: self._infer(empty), f"^input_path '{re.escape(str(empty))}' is a folder with no NIfTI"
        )
        self._assert_no_output(self.out)

    def test_unwritable_output_dir(self):
        blocker = self.case / "a file"
        blocker.write_text("")
        out = blocker / "out"
        with mock.patch.object(UNetGenerator, "forward") as forward:
            self._assert_fails(
                lambda: self._infer(self.bad / "good.nii.gz", output_dir=str(out)),
                f"^{re.escape(str(out))}: cannot create the output folder: Not a directory",
            )
        forward.assert_not_called()  # it fails before translating anything

    def test_checkpoint_of_another_architecture(self):
        wide = self.case / "wide.pt"
        torch.save(UNetGenerator(image_size=32, ngf=8).state_dict(), wide)
        self._assert_fails(
            lambda: self._infer(self.bad / "good.nii.gz", checkpoint=str(wide)),
            f"^{re.escape(str(wide))}: the weights do not fit the t1_to_t2 generator: ngf 8 in the weights, 4 here",
        )
        self._assert_no_output(self.out)

    def test_missing_checkpoint(self):
        missing = self.case / "none.pt"
        self._assert_fails(
            lambda: self._infer(self.bad / "good.nii.gz", checkpoint=str(missing)),
            f"^{re.escape(str(missing))}: no generator weights for t1_to_t2",
        )

    @parameterized.expand(
        [
            ("ngf", "abc", "ngf must be a positive integer, got 'abc'"),
            ("image_size", "abc", "image_size must be (a positive )?(an )?integer, got 'abc'"),
            ("fov_mm", "big", "fov_mm must be a positive number of millimetres, got 'big'"),
            ("direction", "t1_t2", "direction must be one of .*, got 't1_t2'"),
        ]
    )
    def test_mistyped_inference_setting_is_named(self, key, value, message):
        self._assert_fails(lambda: self._infer(self.bad / "good.nii.gz", **{key: value}), message)
        self._assert_no_output(self.out)

    def test_mistyped_training_setting_is_named(self):
        # MONAI names the setting in the expression that fails: "$__local_refs['epochs'] // 2"
        self._assert_fails(lambda: self._train(self.phantom, epochs="abc"), r"'epochs'\] // 2", "unsupported operand")
        self._assert_fails(lambda: self._train(self.phantom, ngf="abc"), "ngf must be a positive integer, got 'abc'")
        self._assert_no_output(self.case / "run", self.case / "models")

    def test_config_with_a_missing_or_misspelt_reference(self):
        inference = json.loads((CONFIGS / "inference.json").read_text())
        del inference["inferer"]
        missing = self.case / "configs" / "inference.json"
        missing.parent.mkdir()
        missing.write_text(json.dumps(inference))
        good = self.bad / "good.nii.gz"
        self._assert_fails(lambda: self._infer(good, missing), "referring item `@inferer` is not defined")
        misspelt = self.case / "misspelt.json"
        misspelt.write_text(json.dumps({"network_def": "$@generator_deff()"}))
        self._assert_fails(
            lambda: self._infer(good, [CONFIGS / "inference.json", misspelt]),
            "referring item `@generator_deff` is not defined",
        )
        self._assert_no_output(self.out)

    def test_crash_while_writing_leaves_no_partial_output(self):
        def write_half_and_fail(writer, filename, **kwargs):
            Path(filename).write_bytes(b"\x1f\x8b half a volume")
            raise OSError("No space left on device")

        # a .nii.gz is written by nibabel, else by ITK: both fail
        with (
            mock.patch.object(NibabelWriter, "write", write_half_and_fail),
            mock.patch.object(ITKWriter, "write", write_half_and_fail),
        ):
            self._assert_fails(lambda: self._infer(self.bad / "good.nii.gz"), "cannot find a suitable writer")
        self._assert_only_report(self.out, failed=[self.bad / "good.nii.gz"])

    def test_a_bad_file_in_a_folder_does_not_stop_the_others(self):
        inputs = self.case / "in"
        inputs.mkdir()
        for name, source in (("a", "good"), ("b", "nan"), ("c", "good"), ("d", "truncated")):
            shutil.copyfile(self.bad / f"{source}.nii.gz", inputs / f"{name}.nii.gz")
        bad = re.escape(str(inputs / "b.nii.gz"))
        self._assert_fails(
            lambda: self._infer(inputs),
            f"^{bad}: the volume holds NaN",
            r"2 of 4 input\(s\) failed; see .*translation_report\.csv$",
        )
        failed = [inputs / "b.nii.gz", inputs / "d.nii.gz"]
        self._assert_only_report(self.out, failed, translated=("a_synT2.nii.gz", "c_synT2.nii.gz"))  # no temporary
        self.assertEqual(nib.load(self.out / "c_synT2.nii.gz").shape, _head().shape)

    def test_evaluate_names_the_bad_volume(self):
        pairs = self.case / "pairs"
        shutil.copytree(self.phantom / "paired", pairs)
        shutil.copyfile(self.bad / "series.nii.gz", pairs / "PH002-T2.nii.gz")
        args = ["evaluate", "--pairs", str(pairs), "--checkpoint", str(self.weights), "--output_dir", str(self.out)]
        with contextlib.redirect_stderr(io.StringIO()) as errors:
            self.assertEqual(main([*args, "--image_size", "32", "--ngf", "4"]), 1)
        # the progress bar is closed first, so the error stands on a line of its own at the end
        self.assertEqual(
            errors.getvalue().split("\n")[-2:],
            [
                f"monai-cyclegan evaluate: error: {pairs / 'PH002-T2.nii.gz'}: expected a 3D volume, got an array of "
                "shape (24, 20, 16, 2).",
                "",
            ],
        )
        self._assert_no_output(self.out)


class TestBadInputsCommandLine(unittest.TestCase):
    """``python -m monai.bundle run inferring``: a non-zero exit, the file and the problem on stderr, no output."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        _write_bad_files(cls.root)
        cls.weights = cls.root / "tiny.pt"
        torch.save(UNetGenerator(**TINY).state_dict(), cls.weights)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def _run(
        self, input_name: str, *overrides: str, out: Path | None = None
    ) -> tuple[subprocess.CompletedProcess, Path]:
        out = out or Path(tempfile.mkdtemp(dir=self.root)) / "out"
        cmd = [
            sys.executable,
            "-m",
            "monai.bundle",
            "run",
            "inferring",
            "--config_file",
            str(CONFIGS / "inference.json"),
        ]
        cmd += [
            "--input_path",
            str(self.root / input_name),
            "--output_dir",
            str(out),
            "--checkpoint",
            str(self.weights),
        ]
        cmd += ["--image_size", "32", *overrides]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, env=env), out

    def test_truncated_volume(self):
        result, out = self._run("truncated.nii.gz", "--ngf", "4")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{self.root / 'truncated.nii.gz'}: {BAD_VOLUMES['truncated.nii.gz']}", result.stderr)
        self.assertIn("0 translated, 0 skipped (already complete), 1 failed, of 1 input(s)", result.stdout)
        self.assertEqual([p.name for p in out.iterdir()], [REPORT_NAME])  # the report, and no output

    def test_a_folder_with_a_bad_file_then_skip_existing(self):
        """Every good file is translated, the run exits non-zero naming the bad one; a rerun skips the finished ones."""
        folder = self.root / "folder"
        folder.mkdir()
        for name, source in (("a", "good"), ("b", "zeros"), ("c", "good")):
            shutil.copyfile(self.root / f"{source}.nii.gz", folder / f"{name}.nii.gz")
        result, out = self._run("folder", "--ngf", "4")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{folder / 'b.nii.gz'}: {BAD_VOLUMES['zeros.nii.gz'].replace(chr(92), '')}", result.stderr)
        self.assertIn("2 translated, 0 skipped (already complete), 1 failed, of 3 input(s)", result.stdout)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["a_synT2.nii.gz", "c_synT2.nii.gz", REPORT_NAME])
        (folder / "b.nii.gz").unlink()  # the bad file removed, the run continued
        again, _ = self._run("folder", "--ngf", "4", "--skip_existing", "true", out=out)
        self.assertEqual(again.returncode, 0, again.stderr[-2000:])
        self.assertIn("0 translated, 2 skipped (already complete), 0 failed, of 2 input(s)", again.stdout)

    def test_mistyped_override(self):
        result, out = self._run("good.nii.gz", "--ngf", "abc")  # fire passes "abc" on as a string
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("ValueError: ngf must be a positive integer, got 'abc'.", result.stderr)
        self.assertFalse(out.exists() and any(out.iterdir()))


if __name__ == "__main__":
    unittest.main()
