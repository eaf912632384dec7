"""The bundle's configs agree where they repeat one another.

Each config runs alone (``python -m monai.bundle run --config_file configs/inference.json``, as MONAI's bundles
do; MONAI resolves a config reference to another file against the working directory, not the bundle), so the IDs
that shape the model are written in each of them. These tests keep the copies one truth: change one and they fail
until the others follow.
"""

from __future__ import annotations

import json
import unittest

from monai.bundle import ConfigParser

from monai_cyclegan.bundle import bundle_dir
from monai_cyclegan.directions import DIRECTION_NAMES

CONFIGS = bundle_dir() / "configs"
# the IDs that decide which network is built, on which grid, from where
MODEL_IDS = ("generator_def", "network_def", "image_size", "crop_size", "ngf", "fov_mm", "bundle_root", "device")
# what inference and evaluation must do alike for evaluation to score what inference gives
TRANSLATION_IDS = ("architecture", "sw_batch_size", "tta")


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


class TestConfigsAgree(unittest.TestCase):
    def test_the_model_ids_are_the_same_in_training_inference_and_evaluation(self):
        train, inference, evaluate = (_config(f"{n}.json") for n in ("train", "inference", "evaluate"))
        for key in MODEL_IDS:
            with self.subTest(key):
                self.assertEqual(inference[key], train[key])
                self.assertEqual(evaluate[key], train[key])

    def test_inference_and_evaluation_translate_alike(self):
        inference, evaluate = _config("inference.json"), _config("evaluate.json")
        for key in TRANSLATION_IDS:
            with self.subTest(key):
                self.assertEqual(evaluate[key], inference[key])

    def test_evaluation_scores_the_package_directions(self):
        parser = ConfigParser(_config("evaluate.json"))
        self.assertEqual(tuple(parser.get_parsed_content("directions")), DIRECTION_NAMES)


if __name__ == "__main__":
    unittest.main()
