from __future__ import annotations

import functools
import json
import shutil
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import monai
import nibabel as nib
import numpy as np
import torch

import monai_cyclegan
from monai_cyclegan.bundle import bundle_dir, load_generator
from monai_cyclegan.networks import UNetGenerator
from monai_cyclegan.run_bundle import (
    architecture_differences,
    config_value,
    find_run_bundle,
    is_run_bundle,
    read_architecture,
    record_eval_metrics,
    write_run_bundle,
)

GENERATOR = functools.partial(UNetGenerator, in_channels=1, out_channels=1, image_size=32, ngf=4)
SETTINGS = {"generator_def": GENERATOR, "image_size": 32, "crop_size": 32, "fov_mm": 256.0, "ngf": 4, "lr": 1e-3}
SETTINGS |= {"tta": True}


# The keys of the model zoo's metadata schema (meta_schema_20240725.json, which verify_metadata downloads: not
# reachable offline) and of MONAI's bundle specification, written out by hand from a zoo bundle's metadata.json.
ZOO_METADATA_KEYS = (
    "schema",
    "version",
    "changelog",
    "monai_version",
    "pytorch_version",
    "numpy_version",
    "required_packages_version",
    "task",
    "description",
    "authors",
    "copyright",
    "data_source",
    "data_type",
    "image_classes",
    "label_classes",
    "pred_classes",
    "eval_metrics",
    "intended_use",
    "references",
    "network_data_format",
)
TENSOR_KEYS = (
    "type",
    "format",
    "num_channels",
    "spatial_shape",
    "dtype",
    "value_range",
    "is_patch_data",
    "channel_def",
)


def _generators() -> dict[str, torch.nn.Module]:
    return {"t1_to_t2": GENERATOR(), "t2_to_t1": GENERATOR()}


def _summary(model: bool = True) -> dict:
    """An evaluation summary as evaluate_translation returns it: per direction and method, the mean figures."""
    metrics = {}
    for offset, direction in enumerate(("t1_to_t2", "t2_to_t1")):
        methods = {"identity": {"psnr": 9.0, "ssim": 0.1}, "intensity_mapping": {"psnr": 12.0, "ssim": 0.4}}
        if model:
            methods["model"] = {"psnr": 20.0 + offset, "ssim": (0.7, 0.8)[offset], "mae": 0.05}
        metrics[direction] = methods
    return {"pairs": "/data/pairs.csv", "kind": "volume", "num_pairs": 3, "metrics": metrics, "seconds": 1.0}


class TestMetadata(unittest.TestCase):
    def assert_zoo_metadata(self, metadata: dict, name: str) -> None:
        self.assertEqual([k for k in ZOO_METADATA_KEYS if k not in metadata], [], name)
        self.assertIn(metadata["version"], metadata["changelog"], name)
        self.assertIsInstance(metadata["eval_metrics"], dict, name)
        self.assertIsInstance(metadata["references"], list, name)
        self.assertIn("monai-cyclegan", metadata["required_packages_version"], name)
        self.assertNotIn("optional_packages_version", metadata, name)  # deprecated
        for kind in ("inputs", "outputs"):
            self.assertTrue(metadata["network_data_format"][kind], name)
            for tensor, fmt in metadata["network_data_format"][kind].items():
                self.assertEqual([k for k in TENSOR_KEYS if k not in fmt], [], f"{name} {tensor}")

    def test_the_package_bundle_has_the_zoo_keys(self):
        self.assert_zoo_metadata(json.loads((bundle_dir() / "configs" / "metadata.json").read_text()), "package")

    def test_a_run_bundle_has_the_zoo_keys_and_the_versions_it_was_trained_with(self):
        with tempfile.TemporaryDirectory() as tmp:
            # a source bundle whose metadata names other versions than those installed: the run's are written
            source = Path(shutil.copytree(bundle_dir(), Path(tmp) / "source"))
            stale = json.loads((source / "configs" / "metadata.json").read_text())
            stale |= {"monai_version": "0.0.1", "pytorch_version": "0.0.1", "numpy_version": "0.0.1"}
            stale["required_packages_version"] = {"monai-cyclegan": "0.0.1", "nibabel": "0.0.1"}
            (source / "configs" / "metadata.json").write_text(json.dumps(stale))
            folder = write_run_bundle(Path(tmp) / "bundle", SETTINGS, _generators(), source=source)
            metadata = json.loads((folder / "configs" / "metadata.json").read_text())
        self.assert_zoo_metadata(metadata, "run bundle")
        self.assertEqual(metadata["required_packages_version"]["nibabel"], nib.__version__)
        self.assertEqual(metadata["eval_metrics"], {})  # not evaluated yet
        self.assertEqual(metadata["monai_version"], monai.__version__)
        self.assertEqual(metadata["pytorch_version"], torch.__version__.split("+")[0])
        self.assertEqual(metadata["numpy_version"], np.__version__)
        self.assertEqual(metadata["required_packages_version"]["monai-cyclegan"], monai_cyclegan.__version__)


class TestRecordEvalMetrics(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.folder = write_run_bundle(Path(self._tmp.name) / "bundle", SETTINGS, _generators())
        self.metadata_path = self.folder / "configs" / "metadata.json"

    def tearDown(self):
        self._tmp.cleanup()

    def test_the_models_figures_per_direction_replace_eval_metrics(self):
        before = json.loads(self.metadata_path.read_text())
        for checkpoint in (self.folder, self.folder / "models"):
            self.assertEqual(record_eval_metrics(checkpoint, _summary()), self.metadata_path)
            metadata = json.loads(self.metadata_path.read_text())
            expected = {"t1_to_t2_psnr": 20.0, "t1_to_t2_ssim": 0.7, "t2_to_t1_psnr": 21.0, "t2_to_t1_ssim": 0.8}
            self.assertEqual(metadata["eval_metrics"], expected)
            self.assertEqual(
                (metadata["eval_data"]["pairs"], metadata["eval_data"]["num_pairs"]), ("/data/pairs.csv", 3)
            )
            self.assertEqual(
                {k: v for k, v in metadata.items() if k not in ("eval_metrics", "eval_data")},
                {k: v for k, v in before.items() if k != "eval_metrics"},
            )
        self.assertEqual(sorted(p.name for p in self.metadata_path.parent.iterdir() if p.name.startswith(".")), [])

    def test_nothing_is_written_for_what_is_not_the_whole_run_bundle(self):
        before = self.metadata_path.read_bytes()
        self.assertIsNone(record_eval_metrics(self.folder / "models" / "model.pt", _summary()))  # one file
        self.assertIsNone(record_eval_metrics(self.folder, _summary(model=False)))  # baselines only
        self.assertIsNone(record_eval_metrics(Path(self._tmp.name), _summary()))  # not a bundle
        with mock.patch("monai_cyclegan.run_bundle.bundle_dir", return_value=self.folder):
            self.assertIsNone(record_eval_metrics(self.folder, _summary()))  # the package's bundle, a template
        self.assertEqual(self.metadata_path.read_bytes(), before)

    def test_a_failed_write_leaves_the_metadata_whole(self):
        before = self.metadata_path.read_bytes()
        with mock.patch("monai_cyclegan.files.os.replace", side_effect=OSError("disk full")):
            with self.assertRaisesRegex(OSError, "disk full"):
                record_eval_metrics(self.folder, _summary())
        self.assertEqual(self.metadata_path.read_bytes(), before)
        self.assertEqual(sorted(p.name for p in self.metadata_path.parent.iterdir() if p.name.startswith(".")), [])


class TestConfigValue(unittest.TestCase):
    def test_callable_component_becomes_its_public_target_and_arguments(self):
        value = config_value({"generator_def": GENERATOR, "size": (32, 32), "device": torch.device("cpu")})
        self.assertEqual(
            value["generator_def"],
            {
                "_target_": "monai_cyclegan.networks.UNetGenerator",
                "_mode_": "callable",
                "in_channels": 1,
                "out_channels": 1,
                "image_size": 32,
                "ngf": 4,
            },
        )
        self.assertEqual((value["size"], value["device"]), ([32, 32], "cpu"))
        json.dumps(value)

    def test_a_value_with_no_json_form_is_refused(self):
        with self.assertRaisesRegex(TypeError, "Linear"):
            config_value({"network": torch.nn.Linear(1, 1)})


class TestWriteRunBundle(unittest.TestCase):
    def test_configs_carry_the_settings_with_references_where_they_agree(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_run_bundle(Path(tmp) / "bundle", SETTINGS, _generators())
            self.assertTrue(is_run_bundle(folder))
            inference = json.loads((folder / "configs" / "inference.json").read_text())
            self.assertEqual(
                (inference["image_size"], inference["crop_size"], inference["ngf"]), (32, "@image_size", 4)
            )
            self.assertEqual(inference["generator_def"]["image_size"], "@crop_size")  # an override still reaches it
            self.assertEqual(inference["network_def"]["_target_"], "monai_cyclegan.networks.UNetGenerator")
            self.assertNotIn("_mode_", inference["network_def"])  # a component: net_override can change it
            self.assertEqual(json.loads((folder / "configs" / "train.json").read_text())["lr"], 1e-3)
            evaluate = json.loads((folder / "configs" / "evaluate.json").read_text())
            self.assertEqual((inference["tta"], evaluate["tta"]), (True, True))  # it translates as it was trained to
            self.assertNotIn("lr", inference)
            architecture = ("generator_def", "image_size", "crop_size", "fov_mm", "ngf")
            self.assertEqual(read_architecture(folder), {k: config_value(SETTINGS)[k] for k in architecture})

    def test_a_failed_write_keeps_the_previous_bundle_whole(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_run_bundle(Path(tmp) / "bundle", SETTINGS, _generators())
            before = (folder / "models" / "model.pt").read_bytes()
            with mock.patch("monai_cyclegan.run_bundle.torch.save", side_effect=OSError("disk full")):
                with self.assertRaisesRegex(OSError, "disk full"):
                    write_run_bundle(folder, {**SETTINGS, "lr": 5.0}, _generators())
            self.assertEqual((folder / "models" / "model.pt").read_bytes(), before)
            self.assertEqual(json.loads((folder / "configs" / "train.json").read_text())["lr"], 1e-3)
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), ["bundle"])  # no temporary left
            write_run_bundle(folder, {**SETTINGS, "lr": 5.0}, _generators())  # a later run replaces it
            self.assertEqual(json.loads((folder / "configs" / "train.json").read_text())["lr"], 5.0)
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), ["bundle"])

    def test_both_generators_are_needed(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(ValueError, "t2_to_t1"):
            write_run_bundle(Path(tmp) / "bundle", SETTINGS, {"t1_to_t2": GENERATOR()})
            self.assertFalse((Path(tmp) / "bundle").exists())

    def test_find_run_bundle_of_a_folder_its_models_and_a_weights_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_run_bundle(Path(tmp) / "bundle", SETTINGS, _generators())
            for path in (folder, folder / "models", folder / "models" / "model.pt"):
                self.assertEqual(find_run_bundle(path), folder, path)
            self.assertIsNone(find_run_bundle(Path(tmp)))


class TestMismatch(unittest.TestCase):
    def test_differences_name_the_settings(self):
        here = {"generator_def": GENERATOR, "image_size": 64, "crop_size": 64, "fov_mm": 256.0, "ngf": 4}
        differences = architecture_differences(SETTINGS, here)
        self.assertIn("image_size 32 in training, 64 here", differences)
        self.assertIn("crop_size 32 in training, 64 here", differences)
        self.assertEqual(len(differences), 2)
        self.assertEqual(architecture_differences(SETTINGS, SETTINGS), [])

    def test_loading_into_another_size_names_what_differs_and_loads_nothing(self):
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_run_bundle(Path(tmp) / "bundle", SETTINGS, _generators())
            bigger = functools.partial(UNetGenerator, in_channels=1, out_channels=1, image_size=64, ngf=4)
            network = bigger()
            initial = {k: v.clone() for k, v in network.state_dict().items()}
            here = {**SETTINGS, "generator_def": bigger, "image_size": 64, "crop_size": 64}
            with self.assertRaisesRegex(RuntimeError, "image_size 32 in training, 64 here") as caught:
                load_generator(network, folder / "models" / "model.pt", "t1_to_t2", "cpu", here)
            self.assertIn(str(folder), str(caught.exception))
            for key, value in network.state_dict().items():  # never a partial load
                torch.testing.assert_close(value, initial[key])

    def test_a_bare_file_is_described_from_its_weights(self):
        with tempfile.TemporaryDirectory() as tmp:
            torch.save(GENERATOR().state_dict(), Path(tmp) / "model.pt")
            wider = UNetGenerator(image_size=32, ngf=8)
            with self.assertRaisesRegex(RuntimeError, "ngf 4 in the weights, 8 here.*bundle folder"):
                load_generator(wider, Path(tmp) / "model.pt", "t1_to_t2", "cpu")


if __name__ == "__main__":
    unittest.main()
