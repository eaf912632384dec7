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
# The smallest demo measured to learn the contrast (about a minute on two cores): 4 subjects at a quarter of IXI's
# resolution, 64², 400 updates. At 50 epochs with ngf 8 the same check failed (CSF darker than white matter, SSIM
# below the baseline's), so it can.
LEARNS = {"subjects": 4, "phantom_scale": 0.25, "image_size": 64, "ngf": 16, "ndf": 16, "epochs": 100}


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


class TestDemoLearns(unittest.TestCase):
    def test_synthetic_t2_has_t2_contrast_and_beats_the_baseline(self):
        with tempfile.TemporaryDirectory() as tmp:
            summary = run_demo(tmp, **LEARNS)
        cores = summary["synthetic_tissue_core_means"]
        self.assertTrue(summary["csf_bright_wm_dark"], cores)
        self.assertGreater(cores["csf"], cores["wm"] + 0.1)  # T2's order, by a margin: CSF bright, white matter dark
        self.assertGreater(summary["psnr_over_baseline_db"], 1.0, summary["metrics"])
        self.assertGreater(summary["metrics"]["ssim"], summary["baseline_metrics"]["ssim"])


if __name__ == "__main__":
    unittest.main()
