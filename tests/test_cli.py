from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import unittest
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_cyclegan.cli import build_parser, main
from monai_cyclegan.data import list_ixi_volumes, load_splits
from monai_cyclegan.data.phantom import write_phantom_dataset
from tests.evaluation.slices import write_slice_pairs

VERBS = ("demo", "phantom", "preview", "train", "translate", "export", "prepare-ixi", "split", "pair", "evaluate")


class TestCli(unittest.TestCase):
    def test_help_of_every_verb(self):
        for argv in (["--help"], *([verb, "--help"] for verb in VERBS)):
            result = subprocess.run([sys.executable, "-m", "monai_cyclegan.cli", *argv], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("usage: monai-cyclegan", result.stdout)

    def test_demo_arguments(self):
        args = build_parser().parse_args(["demo", "--output_dir", "x", "--epochs", "3"])
        self.assertEqual((args.output_dir, args.epochs, args.seed), ("x", 3, 0))

    def test_split_from_a_pairs_list(self):
        with tempfile.TemporaryDirectory() as tmp:
            pairs = write_slice_pairs(Path(tmp), count=5)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                code = main(["split", "--dataset_dir", tmp, "--pairs", str(pairs), "--out", f"{tmp}/s.json"])
            self.assertEqual(code, 0)
            self.assertIn("train 6, validation 0, test 4 subjects", out.getvalue())

    def test_errors_exit_non_zero_with_one_line(self):
        with self.assertRaises(SystemExit) as caught:
            main(["no-such-verb"])
        self.assertNotEqual(caught.exception.code, 0)


class TestPhantomAndTrain(unittest.TestCase):
    def test_phantom_then_train_on_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            data, out = Path(tmp) / "phantom", Path(tmp) / "run"
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = main(["phantom", "--out", str(data), "--subjects", "2", "--scale", "0.125", "--seed", "3"])
            self.assertEqual(code, 0)
            self.assertIn(f"{data}: 2 T1 and 2 T2 volumes", printed.getvalue())
            paired = sorted(p.name for p in (data / "paired").glob("*.nii.gz"))  # both contrasts on one grid, labels
            self.assertEqual(paired, [f"PH00{i}-{kind}.nii.gz" for i in (1, 2) for kind in ("T1", "T2", "labels")])
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = main(["preview", "--dataset_dir", str(data), "--out", f"{tmp}/p.png", "--image_size", "32"])
            self.assertEqual((code, printed.getvalue().strip()), (0, f"{tmp}/p.png"))
            tiny = Path(tmp) / "tiny.json"
            tiny.write_text('{"ngf": 4, "ndf": 4, "image_size": 32}')
            argv = ["train", "--dataset_dir", str(data), "--output_dir", str(out), "--ckpt_dir", str(out / "models")]
            argv += ["--epochs", "1", "--image_size", "32", "--num_workers", "0", "--config", str(tiny)]
            argv += ["--amp", "--amp_dtype", "bfloat16", "--channels_last"]
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = main(argv)
            self.assertEqual(code, 0)
            self.assertIn("trained 1 epochs", printed.getvalue())
            settings = json.loads((out / "run_record.json").read_text())["settings"]
            expected = {"amp": True, "amp_dtype": "bfloat16", "channels_last": True, "compile": False}
            self.assertEqual({k: settings[k] for k in expected}, expected)
            self.assertTrue((out / "models" / "model.pt").is_file())
            self.assertTrue((out / "checkpoints" / "cyclegan_checkpoint_epoch=1.pt").is_file())

            argv = ["translate", "--input_path", str(data / "IXI-T2"), "--output_dir", str(out / "synT1")]
            argv += ["--direction", "t2_to_t1", "--checkpoint", str(out / "models"), "--config", str(tiny)]
            with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.redirect_stderr(io.StringIO()) as bar:
                code = main(argv)
            self.assertEqual(code, 0)
            self.assertIn(f"2 file(s) translated t2_to_t1 into {out / 'synT1'}", printed.getvalue())
            self.assertIn("translating 2 volume file(s)", bar.getvalue())  # the progress bar
            self.assertIn("translation: 2 translated, 0 skipped", printed.getvalue())  # the report's summary
            with contextlib.redirect_stdout(io.StringIO()) as printed, contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(main([*argv, "--skip_existing"]), 0)
            self.assertIn(f"0 file(s) translated t2_to_t1 into {out / 'synT1'}, 2 skipped", printed.getvalue())
            tta = [*argv[:4], str(out / "synT1_tta"), *argv[5:], "--tta"]  # averaged views: another output
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self.assertEqual(main(tta), 0)
            name = next((data / "IXI-T2").glob("*.nii.gz")).name.replace(".nii.gz", "_synT1.nii.gz")
            plain, averaged = (nib.load(out / d / name).get_fdata() for d in ("synT1", "synT1_tta"))
            self.assertEqual(plain.shape, averaged.shape)
            self.assertGreater(np.abs(plain - averaged).max(), 1e-3)
            bad = Path(tmp) / "bad"
            bad.mkdir()
            (bad / "notes.nii.gz").write_text("not a volume")
            argv_bad = ["translate", "--input_path", str(bad), "--output_dir", str(out / "bad")]
            argv_bad += ["--checkpoint", str(out / "models"), "--config", str(tiny)]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
                self.assertEqual(main(argv_bad), 1)
            self.assertRegex(
                err.getvalue(), rf"monai-cyclegan translate: error: {bad / 'notes.nii.gz'}: cannot read it as an image"
            )
            self.assertIn(f"1 of 1 input(s) failed; see {out / 'bad' / 'translation_report.csv'}", err.getvalue())
            argv = ["export", "--out", f"{tmp}/g.onnx", "--format", "onnx", "--direction", "t2_to_t1"]
            argv += ["--checkpoint", str(out / "models"), "--config", str(tiny)]
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                self.assertEqual(main(argv), 0)
            self.assertRegex(printed.getvalue(), r"g\.onnx: onnx generator t2_to_t1, matches PyTorch within")
            for source in sorted((data / "IXI-T2").glob("*.nii.gz")):
                result = nib.load(out / "synT1" / source.name.replace(".nii.gz", "_synT1.nii.gz"))
                self.assertEqual(result.shape, nib.load(source).shape)
                np.testing.assert_allclose(result.affine, nib.load(source).affine, atol=1e-4)

    def test_bad_phantom_settings_exit_1_with_one_line(self):
        with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(["phantom", "--out", tmp + "/p", "--subjects", "0"])
        self.assertEqual(code, 1)
        self.assertRegex(err.getvalue(), r"^monai-cyclegan phantom: error: .*subjects")


class TestDataVerbs(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        write_phantom_dataset(self.tmp / "src", num_subjects=3, scale=0.125)

    def tearDown(self):
        self._tmp.cleanup()

    def _tar(self, contrast: str, truncate: str | None = None) -> Path:
        path = self.tmp / f"IXI-{contrast}.tar"
        with tarfile.open(path, "w") as tar:
            for volume in sorted((self.tmp / "src" / f"IXI-{contrast}").iterdir()):
                data = volume.read_bytes()
                info = tarfile.TarInfo(volume.name)
                data = data[: len(data) // 2] if volume.name.startswith(truncate or "-") else data
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path

    def test_prepare_ixi_then_split(self):
        out, err = io.StringIO(), io.StringIO()
        argv = ["prepare-ixi", "--t1", str(self._tar("T1", truncate="PH002")), "--t2", str(self._tar("T2"))]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True):
            code = main([*argv, "--out", str(self.tmp / "ixi")])
        self.assertEqual(code, 0, err.getvalue())
        self.assertIn("2 T1 and 3 T2 volumes", out.getvalue())
        self.assertRegex(err.getvalue(), r"IXI T2: IXI-T2\.tar: 100%")  # the progress bars
        self.assertIn("IXI T1: IXI-T1.tar", err.getvalue())  # (damaged: the bar stops where reading did)
        self.assertRegex(out.getvalue(), r"skipped PH002-Phantom-0002-T1\.nii\.gz .*truncated")
        self.assertEqual(len(list_ixi_volumes(self.tmp / "ixi")["t1"]), 2)
        with contextlib.redirect_stdout(out):
            code = main(["split", "--dataset_dir", str(self.tmp / "ixi"), "--out", str(self.tmp / "s.json")])
        self.assertEqual(code, 0)
        self.assertEqual(len(sum(load_splits(self.tmp / "s.json").values(), [])), 3)

    def test_pair_by_headers(self):
        write_phantom_dataset(self.tmp / "quarter", num_subjects=2, scale=0.25)  # the quality thresholds need <= 4 mm
        out, err = io.StringIO(), io.StringIO()
        argv = ["pair", "--dataset_dir", str(self.tmp / "quarter"), "--out", str(self.tmp / "p"), "--method", "header"]
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always")
            code = main(argv)
        self.assertEqual(code, 0)
        self.assertRegex(err.getvalue(), r"pairing 2 subjects: 100%.*2/2")  # the progress bar
        self.assertEqual([str(w.message) for w in caught if "poor" in str(w.message)], [])  # a poor pairing warns
        self.assertRegex(out.getvalue(), r"PH001: ok \(header\); Dice 0\.9\d\d -> 0\.9\d\d")
        self.assertIn("2 subjects paired", out.getvalue())
        self.assertEqual(len(list((self.tmp / "p").glob("PH00?-T2.nii.gz"))), 2)
        self.assertTrue((self.tmp / "p" / "pairing_report.csv").is_file())

    def test_missing_input_is_one_line_and_exit_1(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(["prepare-ixi", "--t1", "/nope/IXI-T1.tar", "--t2", "/nope/T2", "--out", str(self.tmp / "o")])
        self.assertEqual(code, 1)
        self.assertRegex(err.getvalue(), r"^monai-cyclegan prepare-ixi: error: .*/nope/IXI-T1\.tar.*does not exist")
        self.assertFalse((self.tmp / "o").exists())


if __name__ == "__main__":
    unittest.main()
