"""The bundle a training run writes: a tiny non-default model (ResNet generator, 32²) used from its folder alone."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import monai
import nibabel as nib
import torch
from monai.bundle import ConfigWorkflow, load

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.cli import main
from monai_cyclegan.networks import PhaseConvTranspose2d, ResnetGenerator

# Not the defaults: another generator, size and width, so that anything rebuilding the package's U-Net 256 fails.
GENERATOR = {"_target_": "monai_cyclegan.networks.ResnetGenerator", "_mode_": "callable", "ngf": "@ngf", "n_blocks": 1}
TRAIN_TINY = {"image_size": 32, "ngf": 4, "ndf": 4, "num_workers": 0, "batch_size": 2, "phantom_subjects": 2}
TRAIN_TINY |= {"phantom_scale": 0.125, "generator_def": GENERATOR, "lr": 0.0003, "pool_size": 3}
# The settings run_record.json used to miss.
ONCE_MISSING = ("generator_def", "lr", "beta1", "pool_size", "decay_epochs", "fov_mm", "slices_per_volume")


def _quiet_main(args: list[str]) -> tuple[int, str]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as errors:
        return main(args), errors.getvalue()


class TestRunBundle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        cls.out = root / "train"
        cls.workflow = run_workflow(
            bundle_dir() / "configs" / "train.json",
            "train",
            dataset_dir="",
            output_dir=str(cls.out),
            ckpt_dir=str(root / "models"),
            epochs=1,
            **TRAIN_TINY,
        )
        cls.bundle = cls.out / "bundle"
        cls.volume = sorted((cls.out / "phantom" / "IXI-T1").glob("*.nii.gz"))[0]
        cls.trained = {
            name: {k: v.detach().cpu() for k, v in cls.workflow.parser.get_parsed_content(name).state_dict().items()}
            for name in ("g_ab", "g_ba")
        }

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_layout_and_trained_weights(self):
        for name in ("LICENSE", "docs/README.md", "docs/data_license.txt", "configs/metadata.json"):
            self.assertTrue((self.bundle / name).is_file(), name)
        for name in ("train.json", "inference.json", "evaluate.json"):
            self.assertTrue((self.bundle / "configs" / name).is_file(), name)
        for network, weights in (("g_ab", "model.pt"), ("g_ba", "model_t2_to_t1.pt")):
            state = torch.load(self.bundle / "models" / weights, weights_only=True)
            self.assertEqual(set(state), set(self.trained[network]))
            for key, value in self.trained[network].items():
                torch.testing.assert_close(state[key], value, rtol=0, atol=0)
        self.assertEqual([p.name for p in self.out.iterdir() if p.name.startswith(".")], [])  # no temporary left

    def test_configs_hold_the_runs_architecture(self):
        for name in ("inference.json", "evaluate.json"):
            config = json.loads((self.bundle / "configs" / name).read_text())
            self.assertEqual((config["image_size"], config["ngf"], config["fov_mm"]), (32, 4, 256.0), name)
            self.assertEqual(config["generator_def"]["_target_"], "monai_cyclegan.networks.ResnetGenerator", name)
            self.assertEqual(config["generator_def"]["n_blocks"], 1, name)
            self.assertEqual(config["bundle_root"], ".", name)
        train = json.loads((self.bundle / "configs" / "train.json").read_text())
        self.assertEqual((train["lr"], train["pool_size"], train["epochs"]), (0.0003, 3, 1))

    def test_metadata_and_model_card(self):
        metadata = json.loads((self.bundle / "configs" / "metadata.json").read_text())
        formats = metadata["network_data_format"]
        self.assertEqual(set(formats["inputs"]), {"image", "image_t2"})
        self.assertEqual(set(formats["outputs"]), {"pred", "pred_t1"})
        self.assertEqual(formats["inputs"]["image"]["spatial_shape"], [32, 32])
        self.assertEqual(formats["outputs"]["pred_t1"]["channel_def"], {"0": "T1w"})
        self.assertIn("ResnetGenerator", metadata["description"])
        card = (self.bundle / "docs" / "README.md").read_text()
        for text in (
            "Not for diagnostic use",
            "CC BY-SA 3.0",
            "## **Intended use**",
            "## **Data licence**",
            '"n_blocks": 1',
            "| `lr` | `0.0003` |",
            "--bundle_root .",
            # the model-zoo template's sections (docs/readme_template.md)
            "### **Authors**\nmonai_cyclegan contributors",
            "### **Tags**",
            "## **Model Description**",
            "## **Data**",
            "## **Performance**",
            "## **System Configuration**",
            f"MONAI {monai.__version__}",
            "## **Limitations**",
            "## **Citation Info**",
            "@inproceedings{zhu2017unpaired",
            "## **References**",
            "ckpt_export network_def",
        ):
            self.assertIn(text, card)

    def test_run_record_has_every_setting(self):
        record = json.loads((self.out / "run_record.json").read_text())["settings"]
        train = json.loads((bundle_dir() / "configs" / "train.json").read_text())
        self.assertEqual(set(record), set(train["run_settings"]))  # one list, in train.json
        for key in ONCE_MISSING:
            self.assertIn(key, record)
        self.assertEqual(record["generator_def"]["_target_"], "monai_cyclegan.networks.ResnetGenerator")
        self.assertEqual((record["lr"], record["pool_size"], record["decay_epochs"]), (0.0003, 3, 0))

    def test_translate_evaluate_and_export_from_the_bundle_alone(self):
        with tempfile.TemporaryDirectory() as tmp:
            code, errors = _quiet_main(
                ["translate", "--checkpoint", str(self.bundle), "--input_path", str(self.volume), "--output_dir", tmp]
            )
            self.assertEqual(code, 0, errors)
            (output,) = Path(tmp).glob("*_synT2.nii.gz")
            self.assertEqual(nib.load(output).shape, nib.load(self.volume).shape)

            paired = self.out / "phantom" / "paired"
            code, errors = _quiet_main(
                ["evaluate", "--checkpoint", str(self.bundle), "--pairs", str(paired), "--output_dir", f"{tmp}/eval"]
            )
            self.assertEqual(code, 0, errors)
            self.assertRegex(errors, r"evaluating 2 pairs: 100%.*6/6")  # the progress bar: load, then both directions
            summary = json.loads(Path(tmp, "eval", "summary.json").read_text())
            self.assertEqual(summary["num_pairs"], 2)
            # the evaluation's figures are now in the bundle's metadata, as the model zoo keeps them
            metadata = json.loads((self.bundle / "configs" / "metadata.json").read_text())
            expected = {
                f"{direction}_{name}": summary["metrics"][direction]["model"][name]
                for direction in ("t1_to_t2", "t2_to_t1")
                for name in ("psnr", "ssim")
            }
            self.assertEqual(metadata["eval_metrics"], expected)
            self.assertEqual(metadata["eval_data"]["pairs"], str(paired))

            model = Path(tmp, "model.ts")
            code, errors = _quiet_main(["export", "--checkpoint", str(self.bundle), "--out", str(model)])
            self.assertEqual(code, 0, errors)
            self.assertTrue(model.is_file())

    def test_monai_ckpt_export_from_the_bundle_folder_needs_no_architecture_flag(self):
        with tempfile.TemporaryDirectory() as tmp:
            exported = Path(tmp) / "model.ts"
            cmd = [sys.executable, "-m", "monai.bundle", "ckpt_export", "network_def", "--filepath", str(exported)]
            cmd += ["--ckpt_file", "models/model.pt", "--meta_file", "configs/metadata.json"]
            cmd += ["--config_file", "configs/inference.json", "--bundle_root", "."]
            result = subprocess.run(
                cmd, cwd=self.bundle, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
            )
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            scripted = torch.jit.load(str(exported))
        trained = ResnetGenerator(ngf=4, n_blocks=1)
        trained.load_state_dict(self.trained["g_ab"])
        x = torch.rand(2, 1, 32, 32) * 2 - 1
        with torch.no_grad():
            torch.testing.assert_close(scripted(x), trained.eval()(x), rtol=1e-5, atol=1e-5)

    def test_a_weights_file_with_other_settings_names_them(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = ["translate", "--input_path", str(self.volume), "--output_dir", f"{tmp}/out"]
            weights = str(self.bundle / "models" / "model.pt")
            code, errors = _quiet_main([*args, "--checkpoint", weights])  # the package's U-Net 256
            self.assertEqual(code, 1)
            self.assertIn("image_size 32 in training, 256 here", errors)
            self.assertIn("ngf 4 in training, 64 here", errors)
            self.assertIn("generator_def", errors)
            # the same file outside any bundle: named from the weights themselves
            alone = Path(tmp, "model.pt")
            shutil.copyfile(weights, alone)
            code, errors = _quiet_main([*args, "--checkpoint", str(alone)])
            self.assertEqual(code, 1)
            self.assertIn("ngf 4 in the weights, 64 here", errors)
            self.assertIn("another generator", errors)
            self.assertFalse(Path(tmp, "out").exists() and any(Path(tmp, "out").glob("*.nii.gz")))
            # and with the settings given, the bare file works
            config = Path(tmp, "architecture.json")
            config.write_text(json.dumps({"image_size": 32, "ngf": 4, "generator_def": GENERATOR}))
            code, errors = _quiet_main([*args, "--checkpoint", str(alone), "--config", str(config)])
            self.assertEqual(code, 0, errors)
            self.assertEqual(len(list(Path(tmp, "out").glob("*_synT2.nii.gz"))), 1)

    def test_a_copied_bundle_runs_from_its_own_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "copied bundle"
            shutil.copytree(self.bundle, copy)
            cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "configs/inference.json"]
            cmd += ["--bundle_root", ".", "--input_path", str(self.volume), "--output_dir", f"{tmp}/out"]
            result = subprocess.run(
                cmd, cwd=copy, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}
            )
            self.assertEqual(result.returncode, 0, result.stderr[-3000:])
            self.assertEqual(len(list(Path(tmp, "out").glob("*_synT2.nii.gz"))), 1)

    def test_monai_bundle_load_returns_the_trained_generator(self):
        network = load(self.bundle.name, bundle_dir=str(self.bundle.parent), workflow_type="inference", device="cpu")
        self.assertIsInstance(network, ResnetGenerator)
        for key, value in network.state_dict().items():
            torch.testing.assert_close(value, self.trained["g_ab"][key], rtol=0, atol=0)
        workflow = ConfigWorkflow(
            config_file=str(self.bundle / "configs" / "inference.json"),
            workflow_type="inference",
            bundle_root=str(self.bundle),
        )
        workflow.initialize()
        loaded = workflow.parser.get_parsed_content("network")
        for key, value in loaded.state_dict().items():
            torch.testing.assert_close(value.cpu(), self.trained["g_ab"][key], rtol=0, atol=0)
        # on a CPU the translation runs the transposed convolutions in their phase form, on the same weights
        self.assertTrue(any(isinstance(m, PhaseConvTranspose2d) for m in loaded.modules()))
        self.assertFalse((self.bundle / "phantom").exists())  # no training set-up, no data generated


if __name__ == "__main__":
    unittest.main()
