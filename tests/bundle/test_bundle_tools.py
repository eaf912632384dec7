"""MONAI's bundle tools on this bundle: verify_net_in_out and ckpt_export (TorchScript)."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from monai.bundle import ckpt_export, verify_net_in_out

from monai_cyclegan.bundle import bundle_dir
from monai_cyclegan.networks import UNetGenerator

CONFIGS = bundle_dir() / "configs"
TOOL_ARGS = {"meta_file": str(CONFIGS / "metadata.json"), "config_file": str(CONFIGS / "inference.json"), "ngf": 4}


class TestBundleTools(unittest.TestCase):
    def test_verify_net_in_out(self):
        verify_net_in_out(net_id="network_def", **TOOL_ARGS)  # raises if the metadata's shapes do not hold

    def test_ckpt_export_gives_the_pytorch_output(self):
        torch.manual_seed(0)
        network = UNetGenerator(image_size=256, ngf=4).eval()
        with tempfile.TemporaryDirectory() as tmp:
            weights, exported = Path(tmp) / "model.pt", Path(tmp) / "model.ts"
            torch.save(network.state_dict(), weights)
            ckpt_export(net_id="network_def", filepath=str(exported), ckpt_file=str(weights), **TOOL_ARGS)
            scripted = torch.jit.load(str(exported))
        x = torch.rand(2, 1, 256, 256) * 2 - 1
        with torch.no_grad():
            torch.testing.assert_close(scripted(x), network(x), rtol=1e-5, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
