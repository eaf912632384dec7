from __future__ import annotations

import functools
import json
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import torch

from monai_cyclegan.bundle import load_generator
from monai_cyclegan.networks import UNetGenerator
from monai_cyclegan.run_bundle import (
    architecture_differences,
    config_value,
    find_run_bundle,
    is_run_bundle,
    read_architecture,
    write_run_bundle,
)

GENERATOR = functools.partial(UNetGenerator, in_channels=1, out_channels=1, image_size=32, ngf=4)
SETTINGS = {"generator_def": GENERATOR, "image_size": 32, "crop_size": 32, "fov_mm": 256.0, "ngf": 4, "lr": 1e-3}


def _generators() -> dict[str, torch.nn.Module]:
    return {"t1_to_t2": GENERATOR(), "t2_to_t1": GENERATOR()}


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
