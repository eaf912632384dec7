from __future__ import annotations

import csv
import json
import tempfile
import unittest
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from monai_cyclegan.data.phantom import write_phantom_dataset
from monai_cyclegan.registration import MIN_DICE, MIN_NMI, foreground_mask, pair_dataset, pair_volumes
from tests.registration.motion import rigid_motion


def save_like(source: str | Path, target: Path, array: np.ndarray | None = None, motion: np.ndarray | None = None):
    """Copy of a NIfTI file with other voxel values and/or a header moved by a rigid motion."""
    image = nib.load(source)
    affine = image.affine if motion is None else motion @ image.affine
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj) if array is None else array, affine), str(target))
    return target


class TestPairVolumes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls._tmp.name)
        cls.records = write_phantom_dataset(cls.root / "data", num_subjects=1, scale=0.5, seed=0)
        cls.t1, cls.t2 = cls.records[0]["t1"], cls.records[0]["t2"]
        cls.t1_image = nib.load(cls.t1)
        cls.unshifted = pair_volumes(cls.t1, cls.t2, cls.root / "unshifted-T2.nii.gz")
        cls.motion = rigid_motion((3.0, -4.0, 5.0), (6.0, -5.0, 4.0))
        moved = save_like(cls.t2, cls.root / "moved-T2.nii.gz", motion=cls.motion)
        cls.shifted = pair_volumes(cls.t1, moved, cls.root / "shifted-T2.nii.gz", "auto")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_agreeing_headers_keep_the_header_resampling(self):
        result = self.unshifted
        self.assertEqual((result.method, result.status), ("header", "ok"))
        self.assertEqual((result.dice_after, result.nmi_after), (result.dice_before, result.nmi_before))
        self.assertGreater(result.dice_after, 0.95)
        self.assertLess(result.displacement_mm, 1.0)  # registration ran and found no motion worth applying

    def test_outputs_lie_on_the_t1_grid(self):
        output, mask = nib.load(self.unshifted.output), nib.load(self.unshifted.mask)
        self.assertEqual(Path(self.unshifted.mask).name, "unshifted-T2-mask.nii.gz")
        for image in (output, mask):
            self.assertEqual(image.shape, self.t1_image.shape)
            np.testing.assert_allclose(image.affine, self.t1_image.affine, atol=1e-5)
        self.assertEqual(output.get_data_dtype(), np.float32)
        mask_array = np.asarray(mask.dataobj)
        self.assertEqual(mask_array.dtype, np.uint8)
        t1_head = foreground_mask(np.asarray(self.t1_image.dataobj))
        self.assertFalse((mask_array.astype(bool) & ~t1_head).any())
        self.assertGreater(mask_array.sum(), 0.9 * t1_head.sum())
        self.assertEqual(sorted(p.name for p in self.root.glob(".*")), [])  # no temporary files left

    def test_shifted_pair_is_registered_and_recovered(self):
        result = self.shifted
        self.assertEqual((result.method, result.status), ("rigid", "ok"))
        self.assertEqual(self.unshifted.status, "ok")
        self.assertGreater(result.dice_after, result.dice_before + 0.03)
        self.assertGreater(result.nmi_after, result.nmi_before + 0.1)
        self.assertGreater(result.displacement_mm, 15.0)
        self.assertAlmostEqual(result.rotation_deg, 7.07, delta=0.5)
        affine, shape = self.t1_image.affine, np.asarray(self.t1_image.shape)
        centre = affine @ np.r_[(shape - 1) / 2, 1.0]
        np.testing.assert_allclose(result.translation_mm, (self.motion @ centre - centre)[:3], atol=0.5)
        # The registered T2 looks like the T2 that was never moved, much more than the header resampling does.
        truth = np.asarray(nib.load(self.unshifted.output).dataobj)
        recovered = np.asarray(nib.load(result.output).dataobj)
        head = np.asarray(nib.load(self.unshifted.mask).dataobj).astype(bool)
        self.assertLess(np.abs(recovered - truth)[head].mean(), 0.1 * truth[head].mean())

    def test_header_method_skips_registration(self):
        moved = save_like(self.t2, self.root / "moved-again-T2.nii.gz", motion=self.motion)
        result = pair_volumes(self.t1, moved, self.root / "header-T2.nii.gz", "header")
        self.assertEqual((result.method, result.rotation_deg, result.translation_mm), ("header", None, None))
        self.assertEqual(result.status, "poor")  # a 7 degree, 9 mm misalignment left as it is
        self.assertLess(result.nmi_after, MIN_NMI)

    def test_failed_pairing_is_poor(self):
        shape = nib.load(self.t2).shape
        noise = np.random.default_rng(0).integers(0, 1000, shape).astype(np.int16)
        noise_path = save_like(self.t2, self.root / "noise-T2.nii.gz", array=noise)
        result = pair_volumes(
            self.t1, noise_path, self.root / "noise-out.nii.gz", registration_options={"iterations": 20}
        )
        self.assertEqual(result.status, "poor")
        self.assertLess(result.dice_after, MIN_DICE)
        self.assertTrue(Path(result.output).is_file())

    def test_errors_name_the_file(self):
        with self.assertRaisesRegex(ValueError, "method must be one of"):
            pair_volumes(self.t1, self.t2, self.root / "x.nii.gz", "affine")
        with self.assertRaisesRegex(FileNotFoundError, "missing-T2.nii.gz"):
            pair_volumes(self.t1, self.root / "missing-T2.nii.gz", self.root / "x.nii.gz")
        corrupt = self.root / "corrupt-T2.nii.gz"
        corrupt.write_bytes(b"not a volume")
        with self.assertRaisesRegex(ValueError, "corrupt-T2.nii.gz"):
            pair_volumes(self.t1, corrupt, self.root / "x.nii.gz")
        empty = save_like(self.t1, self.root / "empty-T1.nii.gz", array=np.zeros(self.t1_image.shape, np.int16))
        with self.assertRaisesRegex(ValueError, "empty-T1.nii.gz.*no head"):
            pair_volumes(empty, self.t2, self.root / "x.nii.gz")
        self.assertFalse((self.root / "x.nii.gz").exists())


class TestPairDataset(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.data = self.root / "data"
        self.records = write_phantom_dataset(self.data, num_subjects=3, scale=0.25, seed=0)

    def tearDown(self):
        self._tmp.cleanup()

    def test_writes_pairs_masks_and_reports_and_warns_about_poor_subjects(self):
        t2 = self.records[2]["t2"]  # PH003's T2 replaced by noise: pairing must be reported as poor
        save_like(t2, Path(t2), array=np.random.default_rng(0).integers(0, 1000, nib.load(t2).shape, dtype=np.int16))
        save_like(self.records[0]["t1"], self.data / "IXI-T1" / "PH009-Phantom-0009-T1.nii.gz")  # T1 only
        out = self.root / "paired"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            results = pair_dataset(self.data, out, method="header")
        messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
        self.assertEqual([r.subject for r in results], ["PH001", "PH002", "PH003"])
        self.assertEqual([r.status for r in results], ["ok", "ok", "poor"])
        self.assertTrue(any("PH003" in m and "poor" in m and "Dice" in m for m in messages), messages)
        self.assertFalse(any("PH001" in m or "PH002" in m for m in messages), messages)
        self.assertTrue(any("PH009" in m and "only one" in m for m in messages), messages)
        for subject in ("PH001", "PH002", "PH003"):
            for kind in ("T1", "T2", "mask"):
                self.assertTrue((out / f"{subject}-{kind}.nii.gz").is_file(), (subject, kind))
        self.assertEqual((out / "PH001-T1.nii.gz").read_bytes(), Path(self.records[0]["t1"]).read_bytes())
        self.assertFalse((out / "PH009-T1.nii.gz").exists())

        with open(out / "pairing_report.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        report = json.loads((out / "pairing_report.json").read_text())
        self.assertEqual([row["subject"] for row in rows], ["PH001", "PH002", "PH003"])
        self.assertEqual([row["status"] for row in report], ["ok", "ok", "poor"])
        self.assertEqual(report[0], results[0].as_row())
        self.assertAlmostEqual(float(rows[0]["dice_after"]), results[0].dice_after)
        self.assertIn("translation_x_mm", rows[0])
        self.assertIsNone(report[0]["rotation_deg"])
        self.assertEqual(sorted(p.name for p in out.glob(".*")), [])

    def test_unreadable_input_names_the_file(self):
        Path(self.records[1]["t2"]).write_bytes(b"\x1f\x8b broken")
        with self.assertRaisesRegex(ValueError, "PH002-Phantom-0002-T2.nii.gz"):
            pair_dataset(self.data, self.root / "paired", method="header")

    def test_duplicate_and_missing_pairs(self):
        save_like(self.records[0]["t2"], self.data / "IXI-T2" / "PH001-Other-0001-T2.nii.gz")
        with self.assertRaisesRegex(ValueError, "PH001 has more than one T2"):
            pair_dataset(self.data, self.root / "paired", method="header")
        for record in self.records:
            Path(record["t2"]).rename(Path(record["t2"]).with_name(f"X{Path(record['t2']).name}"))
        Path(self.data / "IXI-T2" / "PH001-Other-0001-T2.nii.gz").unlink()
        with self.assertRaisesRegex(ValueError, "no subject .* has both"):
            pair_dataset(self.data, self.root / "paired", method="header")


if __name__ == "__main__":
    unittest.main()
