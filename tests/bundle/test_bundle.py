"""The bundle end to end on a tiny phantom: training (phantom default), resume, inference, the CLI forms."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import itk
import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigWorkflow
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.cli import main
from monai_cyclegan.engines import LOSS_KEYS
from monai_cyclegan.evaluation.evaluate import INTENSITY_CONVENTION
from monai_cyclegan.handlers import latest_checkpoint
from monai_cyclegan.networks import UNetGenerator

CONFIGS = bundle_dir() / "configs"
TINY = {"image_size": 32, "ngf": 4}  # 8 mm voxels over the default 256 mm field of view
TRAIN_TINY = {**TINY, "ndf": 4, "num_workers": 0, "batch_size": 2, "phantom_subjects": 2, "phantom_scale": 0.125}
STATE_KEYS = {"trainer", "g_ab", "g_ba", "d_a", "d_b", "g_optimizer", "d_optimizer", "g_scheduler", "d_scheduler"}
STATE_KEYS |= {"g_scaler", "d_scaler", "pool_a", "pool_b", "random_states"}


def _run(config: str, workflow_type: str, **overrides) -> ConfigWorkflow:
    return run_workflow(CONFIGS / config, workflow_type, **overrides)  # raises if a required property is missing


def _train(out: Path, models: Path, epochs: int, **overrides) -> ConfigWorkflow:
    """Train on the default data (no dataset_dir: the phantom) with the tiny model."""
    return _run(
        "train.json", "train", dataset_dir="", output_dir=str(out), ckpt_dir=str(models), epochs=epochs, **overrides
    )


class TestBundle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls.tmp.name) / "train"
        cls.models = Path(cls.tmp.name) / "models"
        cls.workflow = _train(cls.out, cls.models, epochs=1, **TRAIN_TINY)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_phantom_is_the_default_data(self):
        self.assertEqual(len(list((self.out / "phantom" / "IXI-T1").glob("*-T1.nii.gz"))), 2)
        self.assertEqual(self.workflow.trainer.state.epoch, 1)

    def test_deployed_weights_load_weights_only(self):
        for name in ("model.pt", "model_t2_to_t1.pt"):
            state = torch.load(self.models / name, weights_only=True)
            UNetGenerator(**TINY).load_state_dict(state)  # a bare state dict of the generator

    def test_speed_options_train_and_deploy_plain_weights(self):
        """Channels-last and torch.compile (the aot_eager backend here, for speed) train through the bundle."""
        with tempfile.TemporaryDirectory() as tmp:
            options = {"channels_last": True, "compile": True, "compile_backend": "aot_eager"}
            workflow = _train(
                Path(tmp) / "out",
                Path(tmp) / "models",
                1,
                **TRAIN_TINY,
                **options,
                phantom_dir=str(self.out / "phantom"),
            )
            for name in ("g_ab", "g_ba", "d_a", "d_b"):
                network = workflow.parser.get_parsed_content(name)
                self.assertIsNotNone(network._compiled_call_impl, name)
                conv = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d))
                self.assertTrue(conv.weight.is_contiguous(memory_format=torch.channels_last), name)
            losses = workflow.trainer.state.output
            self.assertTrue(all(torch.isfinite(torch.as_tensor(losses[k])) for k in LOSS_KEYS if k in losses))
            # the compiled modules keep plain state dict keys: the deployed weights load into a bare generator
            UNetGenerator(**TINY).load_state_dict(torch.load(Path(tmp) / "models" / "model.pt", weights_only=True))

    def test_amp_dtype_picks_the_autocast_type_and_loss_scaling(self):
        """amp_dtype float16 (CUDA's default, here on the CPU) scales the losses; bfloat16 needs no scaling."""
        for amp_dtype, scaled in (("float16", True), ("bfloat16", False)):
            with self.subTest(amp_dtype=amp_dtype), tempfile.TemporaryDirectory() as tmp:
                workflow = _train(
                    Path(tmp) / "out",
                    Path(tmp) / "models",
                    1,
                    **TRAIN_TINY,
                    amp=True,
                    amp_dtype=amp_dtype,
                    phantom_dir=str(self.out / "phantom"),
                )
                trainer = workflow.trainer
                self.assertEqual(trainer.amp_kwargs["dtype"], getattr(torch, amp_dtype))
                self.assertEqual((trainer.g_scaler.is_enabled(), trainer.d_scaler.is_enabled()), (scaled, scaled))
                self.assertTrue(
                    all(torch.isfinite(torch.as_tensor(trainer.state.output[k])) for k in trainer.loss_keys)
                )

    def test_full_state_checkpoint(self):
        checkpoints = list((self.out / "checkpoints").glob("cyclegan_checkpoint_epoch=1.pt"))
        self.assertEqual(len(checkpoints), 1)
        state = torch.load(checkpoints[0], weights_only=True)
        self.assertEqual(set(state), STATE_KEYS)
        self.assertEqual(state["trainer"]["iteration"], state["trainer"]["epoch_length"])  # end of epoch 1
        self.assertGreater(state["pool_a"]["images"].shape[0], 0)
        self.assertGreater(len(state["random_states"]["data"]), 0)  # the random flips and contrast changes

    def test_progress_animation_and_loss_curves(self):
        with Image.open(self.out / "training_progress.gif") as gif:
            self.assertEqual(gif.n_frames, self.workflow.trainer.state.epoch)  # one frame per epoch
        for name in ("losses_generator.png", "losses_discriminator.png"):
            self.assertTrue((self.out / name).is_file(), name)

    def test_run_record(self):
        record = json.loads((self.out / "run_record.json").read_text())
        # the last run into this output directory (the resume test may have added an epoch)
        state = torch.load(latest_checkpoint(self.out / "checkpoints"), weights_only=True)["trainer"]
        epochs = state["iteration"] // state["epoch_length"]
        self.assertEqual((record["epochs"], record["iterations"]), (epochs, state["iteration"]))
        self.assertEqual((record["settings"]["ngf"], record["settings"]["image_size"]), (4, 32))
        self.assertGreater(record["train_seconds"], 0)

    def test_evaluate_on_the_phantom_pairs(self):
        """`monai-cyclegan evaluate` on the phantom's paired volumes, with the deployed weights and the run record."""
        paired = self.out / "phantom" / "paired"
        with tempfile.TemporaryDirectory() as tmp:
            args = ["evaluate", "--pairs", str(paired), "--checkpoint", str(self.models), "--output_dir", tmp]
            args += ["--image_size", "32", "--ngf", "4", "--run_record", str(self.out / "run_record.json")]
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                self.assertEqual(main(args), 0)
            self.assertIn("t2_to_t1 intensity_mapping", printed.getvalue())
            summary = json.loads(Path(tmp, "summary.json").read_text())
            self.assertEqual((summary["kind"], summary["num_pairs"]), ("volume", 2))
            self.assertEqual(summary["intensity_convention"], INTENSITY_CONVENTION["volume"])
            results = json.loads(Path(tmp, "results.json").read_text())
            self.assertEqual(set(results), {"t1_to_t2", "t2_to_t1", "baselines", "train_minutes", "commit"})
            self.assertGreater(results["train_minutes"], 0)
            self.assertTrue(Path(tmp, "t1_to_t2.png").is_file() and Path(tmp, "metrics.csv").is_file())

    def test_evaluate_with_the_wrong_architecture_is_a_clear_error(self):
        paired = self.out / "phantom" / "paired"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "eval"
            args = ["evaluate", "--pairs", str(paired), "--checkpoint", str(self.models), "--output_dir", str(out)]
            with contextlib.redirect_stderr(io.StringIO()) as errors:
                self.assertEqual(main([*args, "--image_size", "32", "--ngf", "8"]), 1)
            self.assertRegex(errors.getvalue(), r"model.pt: the weights do not fit the t1_to_t2 generator")
            self.assertFalse(out.exists())

    def test_tensorboard_has_losses_learning_rates_and_panels(self):
        events = EventAccumulator(str(self.out / "tensorboard"), size_guidance={"images": 0})
        events.Reload()
        scalars = set(events.Tags()["scalars"])
        self.assertEqual(set(self.workflow.trainer.loss_keys) - scalars, set())
        self.assertIn("lr/generators", scalars)
        self.assertIn("lr/discriminators", scalars)
        images = events.Tags()["images"]
        self.assertTrue(any(t.startswith("A2B") for t in images) and any(t.startswith("B2A") for t in images))

    def test_inference_keeps_geometry_units_and_shape_in_both_directions(self):
        phantom = self.out / "phantom"
        for direction, folder, weights in (
            ("t1_to_t2", "IXI-T1", "model.pt"),
            ("t2_to_t1", "IXI-T2", "model_t2_to_t1.pt"),
        ):
            with self.subTest(direction=direction), tempfile.TemporaryDirectory() as pred_dir:
                _run(
                    "inference.json",
                    "infer",
                    input_path=str(phantom / folder),
                    output_dir=pred_dir,
                    direction=direction,
                    checkpoint=str(self.models / weights),
                    **TINY,
                )
                inputs = sorted((phantom / folder).glob("*.nii.gz"))
                outputs = sorted(Path(pred_dir).glob("*.nii.gz"))
                self.assertEqual(len(outputs), len(inputs))
                postfix = "_synT2" if direction == "t1_to_t2" else "_synT1"
                for source, result in zip(inputs, outputs, strict=True):
                    self.assertEqual(result.name, source.name.replace(".nii.gz", f"{postfix}.nii.gz"))
                    src, res = nib.load(source), nib.load(result)
                    self.assertEqual(res.shape, src.shape)
                    np.testing.assert_allclose(res.affine, src.affine, atol=1e-4)
                    self.assertEqual(res.header.get_xyzt_units()[0], "mm")
                    self.assertIn(b"not for diagnostic use", res.header["descrip"].item())
                    # ITK, which 3D Slicer and ITK-SNAP read NIfTI with, places it where it places the input
                    src_itk, res_itk = itk.imread(str(source)), itk.imread(str(result))
                    for geometry in ("GetOrigin", "GetSpacing"):
                        np.testing.assert_allclose(
                            tuple(getattr(res_itk, geometry)()), tuple(getattr(src_itk, geometry)()), atol=1e-4
                        )
                    np.testing.assert_allclose(
                        itk.array_from_matrix(res_itk.GetDirection()),
                        itk.array_from_matrix(src_itk.GetDirection()),
                        atol=1e-5,
                    )
                    data = res.get_fdata()
                    self.assertTrue(np.isfinite(data).all() and data.min() >= 0 and data.max() <= 1)

    def test_a_half_done_folder_continues_with_skip_existing(self):
        """The second run keeps the complete output, redoes a damaged one and reports which is which."""
        inputs = sorted((self.out / "phantom" / "IXI-T1").glob("*.nii.gz"))
        with tempfile.TemporaryDirectory() as pred_dir:
            settings = {"input_path": str(inputs[0].parent), "output_dir": pred_dir, **TINY}
            settings["checkpoint"] = str(self.models / "model.pt")
            _run("inference.json", "infer", **settings)
            outputs = sorted(Path(pred_dir).glob("*.nii.gz"))
            kept, damaged = outputs
            kept_bytes = kept.read_bytes()
            damaged.write_bytes(damaged.read_bytes()[:-100])  # as a copy cut short by a full disk
            workflow = _run("inference.json", "infer", skip_existing=True, **settings)
            report = workflow.parser.get_parsed_content("report")
            self.assertEqual([r.status for r in report.records], ["skipped", "translated"])
            self.assertEqual([r.output for r in report.records], [str(kept), str(damaged)])
            self.assertEqual(kept.read_bytes(), kept_bytes)  # not rewritten
            self.assertEqual(nib.load(damaged).get_fdata().shape, nib.load(inputs[1]).shape)  # complete again
            with (Path(pred_dir) / "translation_report.csv").open() as f:
                self.assertEqual([row["status"] for row in csv.DictReader(f)], ["skipped", "translated"])

    def test_speed_options_of_inference_agree_with_float32(self):
        """inference.json runs the generator in bf16 by default (amp): within 0.02 of float32 (outputs in [0, 1]);
        channels-last weights give float32's output within 1e-5."""
        volume = sorted((self.out / "phantom" / "IXI-T1").glob("*.nii.gz"))[0]
        results = {}
        for name, options in (
            ("fp32", {"amp": False}),
            ("bf16", {"amp": True}),
            ("channels_last", {"amp": False, "channels_last": True}),
        ):
            with tempfile.TemporaryDirectory() as pred_dir:
                _run(
                    "inference.json",
                    "infer",
                    input_path=str(volume),
                    output_dir=pred_dir,
                    checkpoint=str(self.models / "model.pt"),
                    **options,
                    **TINY,
                )
                results[name] = nib.load(next(Path(pred_dir).glob("*.nii.gz"))).get_fdata()
        difference = np.abs(results["bf16"] - results["fp32"])
        self.assertGreater(difference.max(), 0)  # bf16 really ran
        self.assertLess(difference.max(), 0.02)
        psnr = 10 * np.log10(1 / np.mean(difference**2))
        self.assertGreater(psnr, 45)
        np.testing.assert_allclose(results["channels_last"], results["fp32"], atol=1e-5)

    def test_inference_of_png_slices_keeps_their_size(self):
        """2D slices of any size come back at their own size, as 8-bit PNG, in the same order of rows and columns."""
        with tempfile.TemporaryDirectory() as tmp:
            inputs = Path(tmp) / "in 1"  # MONAI configs read "#" in a value as an ID separator, names are fine
            inputs.mkdir()
            grey = np.zeros((217, 181), dtype=np.uint8)
            grey[60:160, 40:140] = 200  # a bright square off-centre: its place must survive the round trip
            Image.fromarray(grey).save(inputs / "Image #10.png")
            Image.fromarray(np.stack([grey[:100, :150]] * 3, -1)).save(inputs / "small rgb.png")
            _run(
                "inference.json",
                "infer",
                input_path=str(inputs),
                output_dir=f"{tmp}/out",
                checkpoint=str(self.models / "model.pt"),
                **TINY,
            )
            for name, shape in (("Image #10", (217, 181)), ("small rgb", (100, 150))):
                result = np.asarray(Image.open(Path(tmp, "out", f"{name}_synT2.png")))
                self.assertEqual((result.shape, result.dtype), (shape, np.uint8), name)
            # the tiny model is untrained, but its output still follows the input's layout: the square differs from
            # the background around it
            result = np.asarray(Image.open(Path(tmp, "out", "Image #10_synT2.png"))).astype(float)
            self.assertGreater(abs(result[100:120, 80:100].mean() - result[5:25, 5:25].mean()), 1.0)

    def test_resume_continues_from_the_latest_checkpoint(self):
        workflow = _train(self.out, self.models, epochs=2, resume=True, **TRAIN_TINY)
        state = workflow.trainer.state
        self.assertEqual(state.epoch, 2)
        self.assertEqual(state.iteration, 2 * state.epoch_length)  # epoch 1 came from the checkpoint
        self.assertTrue((self.out / "checkpoints" / "cyclegan_checkpoint_epoch=2.pt").exists())

    def test_resume_without_checkpoint_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as empty, self.assertRaises(RuntimeError) as caught:
            _run(
                "train.json",
                "train",
                output_dir=empty,
                dataset_dir=str(self.out / "phantom"),
                resume=True,
                **TRAIN_TINY,
            )
        self.assertIn("holds no checkpoint", str(caught.exception.__cause__))


class TestBundleCommandLine(unittest.TestCase):
    def test_run_training_from_another_directory(self):
        """`python -m monai.bundle run training ...` works outside the repository (targets are the package)."""
        with tempfile.TemporaryDirectory() as tmp:
            overrides = [f"--{k}={v}" for k, v in TRAIN_TINY.items()]
            cmd = [
                sys.executable,
                "-m",
                "monai.bundle",
                "run",
                "training",
                "--config_file",
                str(CONFIGS / "train.json"),
            ]
            cmd += ["--output_dir", f"{tmp}/out", "--ckpt_dir", f"{tmp}/models", "--epochs", "1", *overrides]
            result = subprocess.run(
                cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
            )
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            self.assertTrue(Path(tmp, "models", "model.pt").exists())


if __name__ == "__main__":
    unittest.main()
