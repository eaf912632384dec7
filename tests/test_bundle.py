from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch

from monai_cyclegan.bundle import load_generator
from monai_cyclegan.networks import UNetGenerator
from tests.unsafe_checkpoint import write_code_running_checkpoint


class TestLoadGenerator(unittest.TestCase):
    def test_weights_that_would_run_code_are_refused(self):
        network = UNetGenerator(image_size=32, ngf=4)
        with tempfile.TemporaryDirectory() as tmp:
            marker = Path(tmp) / "code-ran"
            write_code_running_checkpoint(Path(tmp) / "model.pt", marker, network.state_dict())
            with self.assertRaisesRegex(RuntimeError, r"model\.pt: refused, it holds a pickled object"):
                load_generator(network, tmp, "t1_to_t2", "cpu")
            self.assertFalse(marker.exists())

    def test_a_truncated_weights_file_names_the_file(self):
        network = UNetGenerator(image_size=32, ngf=4)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model_t2_to_t1.pt"
            torch.save(network.state_dict(), path)
            path.write_bytes(path.read_bytes()[:1000])
            with self.assertRaisesRegex(RuntimeError, r"model_t2_to_t1\.pt: cannot be read, it is truncated"):
                load_generator(network, tmp, "t2_to_t1", "cpu")


if __name__ == "__main__":
    unittest.main()
