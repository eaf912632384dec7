"""The documented example of reusing the bundle's generator in an ordinary MONAI pipeline."""

from __future__ import annotations

import importlib.util
import tempfile
import unittest
from pathlib import Path

import nibabel as nib
import numpy as np
import torch

from monai_cyclegan.bundle import bundle_dir, run_workflow
from monai_cyclegan.data.phantom import ensure_phantom_dataset
from monai_cyclegan.networks import UNetGenerator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "translate_in_a_monai_pipeline.py"


def _example():
    spec = importlib.util.spec_from_file_location("translate_in_a_monai_pipeline", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestTranslateInAMonaiPipeline(unittest.TestCase):
    def test_same_result_as_the_bundle_on_the_input_grid(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            volume = sorted((ensure_phantom_dataset(tmp / "phantom", 1, scale=0.125) / "IXI-T1").glob("*.nii.gz"))[0]
            torch.manual_seed(0)
            torch.save(UNetGenerator(image_size=32, ngf=4).state_dict(), tmp / "model.pt")
            _example().translate(tmp / "model.pt", volume, tmp / "example", image_size=32, ngf=4)
            run_workflow(
                bundle_dir() / "configs" / "inference.json",
                "infer",
                input_path=str(volume),
                output_dir=str(tmp / "bundle"),
                checkpoint=str(tmp / "model.pt"),
                image_size=32,
                ngf=4,
                amp=False,
            )
            name = volume.name.replace(".nii.gz", "_synT2.nii.gz")
            example, bundle, source = (nib.load(p) for p in (tmp / "example" / name, tmp / "bundle" / name, volume))
            self.assertEqual(example.shape, source.shape)
            np.testing.assert_allclose(example.affine, source.affine, atol=1e-4)
            np.testing.assert_allclose(example.get_fdata(), bundle.get_fdata(), atol=1e-3)


if __name__ == "__main__":
    unittest.main()
