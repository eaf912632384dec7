from __future__ import annotations

import contextlib
import io
import json
import tempfile
import unittest
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image

from monai_cyclegan.cli import main
from monai_cyclegan.demo import run_demo

TINY = {"subjects": 2, "phantom_scale": 0.25, "image_size": 32, "ngf": 4, "ndf": 4, "epochs": 1}


class TestDemo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.out = Path(cls._tmp.name)
        cls.summary = run_demo(cls.out, **TINY)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_writes_every_product(self):
        summary, out = self.summary, self.out
        for path in ("models/model.pt", "demo.png", "summary.json"):
            self.assertTrue((out / path).is_file(), path)
        self.assertTrue(any((out / "train" / "tensorboard").iterdir()))
        synthetic, source = nib.load(summary["synthetic"]), nib.load(summary["input"])
        self.assertEqual(synthetic.shape, source.shape)
        np.testing.assert_allclose(synthetic.affine, source.affine, atol=1e-4)
        self.assertIn("/holdout/", summary["input"])  # the translated subject was never trained on
        picture = np.asarray(Image.open(out / "demo.png"))
        panels = np.split(picture[40:], 4, axis=1)  # input | synthetic | truth | error, below the titles
        self.assertTrue(all(panel.max() > 0 for panel in panels))
        saved = json.loads((out / "summary.json").read_text())
        self.assertEqual(set(saved["metrics"]), {"psnr", "ssim", "mae", "nmse"})
        self.assertEqual(set(saved["baseline_metrics"]), {"psnr", "ssim", "mae", "nmse"})
        self.assertAlmostEqual(
            saved["psnr_over_baseline_db"], saved["metrics"]["psnr"] - saved["baseline_metrics"]["psnr"]
        )
        lesions = saved["lesion_contrast"]  # the demo's phantom has lesions, bright in the true T2
        self.assertGreater(lesions["truth"]["contrast"], 1.2)
        self.assertEqual(set(lesions), {"synthetic", "truth", "baseline", "synthetic_relative_error", "lesion_voxels"})
        self.assertEqual(set(saved["synthetic_tissue_core_means"]), {"csf", "gm", "wm"})
        self.assertIsInstance(saved["csf_bright_wm_dark"], bool)

    def test_the_demos_bundle_translates_with_no_other_setting(self):
        """``monai-cyclegan translate --checkpoint <demo output>/train/bundle``: a ResNet at 32², not the defaults."""
        bundle = self.out / "train" / "bundle"
        self.assertEqual(self.summary["bundle"], str(bundle))
        with tempfile.TemporaryDirectory() as tmp:
            argv = ["translate", "--checkpoint", str(bundle), "--input_path", self.summary["input"]]
            argv += ["--output_dir", tmp]
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as errors:
                code = main(argv)
            self.assertEqual(code, 0, errors.getvalue())
            (output,) = Path(tmp).glob("*_synT2.nii.gz")
            self.assertEqual(nib.load(output).shape, nib.load(self.summary["input"]).shape)

    def test_unknown_setting(self):
        with self.assertRaisesRegex(ValueError, "unknown demo settings"):
            run_demo("/tmp/unused", learning_rate=1)


if __name__ == "__main__":
    unittest.main()
