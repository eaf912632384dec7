"""Tests of the procedural head phantom (monai_cyclegan.data.phantom)."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import nibabel as nib
import numpy as np
from parameterized import parameterized

from monai_cyclegan.data import phantom
from monai_cyclegan.data.phantom import (
    TISSUE_LABELS,
    ensure_phantom_dataset,
    load_phantom_manifest,
    phantom_grids,
    simulate_subject,
    spoiled_gre_signal,
    tissue_signals,
    write_phantom_dataset,
)

SCALE = 0.25
LABEL = TISSUE_LABELS
EXPECTED_GRIDS = {
    # name: (shape at SCALE, spacing at SCALE, orientation codes)
    "t1": ((38, 64, 64), (4.8, 3.75, 3.75), ("L", "S", "P")),
    "t2": ((64, 64, 32), (3.75, 3.75, 5.0), ("L", "P", "S")),
    "paired": ((45, 54, 45), (4.0, 4.0, 4.0), ("R", "A", "S")),
}


def tissue_means(image: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {name: float(image[labels == value].mean()) for name, value in TISSUE_LABELS.items()}


def far_from_head(labels: np.ndarray, margin: int = 2) -> np.ndarray:
    """Air voxels at least `margin` voxels (in every axis direction) away from any tissue."""
    padded = np.pad(labels > 0, margin)
    near = np.zeros_like(padded)
    for shift in range(-margin, margin + 1):
        for axis in range(3):
            near |= np.roll(padded, shift, axis=axis)
    return ~near[margin:-margin, margin:-margin, margin:-margin]


def file_mtimes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


class TestSignalModel(unittest.TestCase):
    def test_tissue_contrast_order(self):
        t1, t2 = tissue_signals("t1"), tissue_signals("t2")
        self.assertGreater(t1[LABEL["wm"]], t1[LABEL["gm"]])
        self.assertGreater(t1[LABEL["gm"]], t1[LABEL["csf"]])
        self.assertGreater(t2[LABEL["csf"]], t2[LABEL["gm"]])
        self.assertGreater(t2[LABEL["gm"]], t2[LABEL["wm"]])
        self.assertGreater(t2[LABEL["fat"]], t2[LABEL["gm"]])  # apparent fat T2 on turbo spin echo
        self.assertEqual(t1[LABEL["air"]], 0.0)
        self.assertLess(max(t1[LABEL["skull"]], t2[LABEL["skull"]]), 1e-3)

    def test_plain_spoiled_gre_has_almost_no_grey_white_contrast(self):
        # The reason the default T1w model is inversion-prepared: IXI's readout alone gives GM ~ WM.
        wm, gm = (phantom.TISSUE_PROPERTIES[name] for name in ("wm", "gm"))
        pd, t1, t2 = (np.array([getattr(wm, key), getattr(gm, key)]) for key in ("proton_density", "t1_ms", "t2_ms"))
        signal = spoiled_gre_signal(pd, t1, t2)
        self.assertLess(abs(signal[1] / signal[0] - 1.0), 0.1)
        prepared = tissue_signals("t1")
        self.assertLess(prepared[LABEL["gm"]] / prepared[LABEL["wm"]], 0.85)

    def test_unknown_contrast_raises(self):
        with self.assertRaisesRegex(ValueError, "contrast"):
            tissue_signals("flair")


class TestGrids(unittest.TestCase):
    @parameterized.expand(list(EXPECTED_GRIDS))
    def test_grid_geometry(self, name):
        shape, spacing, codes = EXPECTED_GRIDS[name]
        grid = phantom_grids(SCALE)[name]
        self.assertEqual(grid.shape, shape)
        np.testing.assert_allclose(grid.spacing_mm, spacing)
        self.assertEqual(nib.aff2axcodes(grid.affine), codes)
        np.testing.assert_allclose(np.abs(grid.affine[:3, :3]).sum(axis=0), spacing)  # axis-aligned
        centre = grid.affine @ np.append((np.array(shape) - 1) / 2.0, 1.0)
        np.testing.assert_allclose(centre[:3], 0.0, atol=1e-9)

    def test_full_scale_shapes(self):
        grids = phantom_grids(1.0)
        self.assertEqual(grids["t1"].shape, (150, 256, 256))
        self.assertEqual(grids["t2"].shape, (256, 256, 130))
        self.assertEqual(grids["paired"].shape, (180, 216, 180))

    def test_deep_region_holds_the_deep_structures(self):
        params = dataclasses.replace(phantom.sample_subject_parameters(1), ventricle_factor=1.6)
        points = np.mgrid[-36:36:0.5, -44:38:0.5, -16:31:0.5].reshape(3, -1).astype(np.float32)
        inside = (phantom._ventricle_sdf(points, params) > 0) | (phantom._deep_grey_sdf(points) > 0)
        for axis, (low, high) in enumerate(phantom._DEEP_REGION_MM):
            self.assertGreater(points[axis, inside].min(), low)
            self.assertLess(points[axis, inside].max(), high)


class TestSimulatedSubject(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.subject = simulate_subject(1, seed=0, scale=SCALE)

    def test_t1w_contrast_order_in_labels(self):
        means = tissue_means(self.subject.paired_t1, self.subject.labels)
        self.assertGreater(means["wm"], 1.15 * means["gm"])
        self.assertGreater(means["gm"], 1.3 * means["csf"])
        self.assertLess(means["air"], 0.1 * means["wm"])

    def test_t2w_contrast_order_in_labels(self):
        means = tissue_means(self.subject.paired_t2, self.subject.labels)
        self.assertGreater(means["csf"], 1.15 * means["gm"])
        self.assertGreater(means["gm"], 1.3 * means["wm"])
        self.assertLess(means["air"], 0.1 * means["wm"])

    def test_background_is_a_rician_noise_floor(self):
        for image, contrast in ((self.subject.paired_t1, "t1"), (self.subject.paired_t2, "t2")):
            sigma = self.subject.parameters.noise_fraction[contrast] * self.subject.parameters.wm_level[contrast]
            background = image[far_from_head(self.subject.labels)].astype(float)
            self.assertGreater(background.size, 10_000)
            # Rayleigh distribution: mean sigma * sqrt(pi / 2), standard deviation sigma * sqrt(2 - pi / 2).
            self.assertAlmostEqual(background.mean() / sigma, np.sqrt(np.pi / 2), delta=0.05)
            self.assertAlmostEqual(background.std() / sigma, np.sqrt(2 - np.pi / 2), delta=0.05)

    def test_intensity_ranges_and_dtypes(self):
        for name in ("t1", "t2", "paired_t1", "paired_t2"):
            image = getattr(self.subject, name)
            self.assertEqual(image.dtype, np.int16)
            self.assertGreaterEqual(image.min(), 0)
            self.assertTrue(200 < np.percentile(image[image > 100], 90) < 4000, name)
        self.assertEqual(self.subject.labels.dtype, np.uint8)

    def test_every_tissue_is_labelled(self):
        self.assertEqual(set(np.unique(self.subject.labels)), set(TISSUE_LABELS.values()))

    def test_head_is_inside_every_field_of_view(self):
        for index in range(1, 7):
            params = phantom.sample_subject_parameters(index, seed=0)
            for name, grid in phantom_grids(SCALE).items():
                _, labels = phantom._render_grid(params, grid, (), with_labels=True)
                border = [labels[[0, -1]], labels[:, [0, -1]], labels[:, :, [0, -1]]]
                self.assertFalse(any(face.any() for face in border), (index, name))
                self.assertGreater((labels > 0).mean(), 0.05, (index, name))

    def test_tissue_fractions_are_a_partition(self):
        points = np.random.default_rng(0).uniform(-90, 90, size=(3, 50_000)).astype(np.float32)
        fractions = phantom._tissue_fractions(*points, self.subject.parameters, voxel_mm=2.0)
        self.assertGreaterEqual(fractions.min(), 0.0)
        np.testing.assert_allclose(fractions.sum(axis=0), 1.0, atol=1e-5)


class TestDeterminism(unittest.TestCase):
    def test_same_seed_gives_identical_images(self):
        first, second = simulate_subject(2, seed=5, scale=0.2), simulate_subject(2, seed=5, scale=0.2)
        for name in ("t1", "t2", "paired_t1", "paired_t2", "labels"):
            np.testing.assert_array_equal(getattr(first, name), getattr(second, name))

    def test_different_seed_gives_different_images(self):
        first, second = simulate_subject(2, seed=5, scale=0.2), simulate_subject(2, seed=6, scale=0.2)
        self.assertGreater((first.labels != second.labels).mean(), 0.01)
        self.assertFalse(np.array_equal(first.t1, second.t1))

    def test_same_seed_gives_bit_identical_files(self):
        with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
            write_phantom_dataset(first, num_subjects=1, scale=0.2, seed=3)
            write_phantom_dataset(second, num_subjects=1, scale=0.2, seed=3)
            files = sorted(path.relative_to(first) for path in Path(first).rglob("*") if path.is_file())
            self.assertEqual(len(files), 6)
            for name in files:
                self.assertEqual((Path(first) / name).read_bytes(), (Path(second) / name).read_bytes(), name)

    def test_subjects_differ_in_shape_and_pose(self):
        first, second = (simulate_subject(index, seed=0, scale=0.2) for index in (1, 2))
        self.assertGreater((first.labels != second.labels).mean(), 0.02)
        self.assertNotEqual(first.parameters.rotation_deg, second.parameters.rotation_deg)
        self.assertNotEqual(first.parameters.size_factors, second.parameters.size_factors)
        self.assertNotEqual(first.parameters.ventricle_factor, second.parameters.ventricle_factor)
        self.assertNotEqual(first.parameters.fold_phases, second.parameters.fold_phases)

    def test_anatomy_does_not_depend_on_scale(self):
        self.assertEqual(phantom.sample_subject_parameters(3, 1), phantom.sample_subject_parameters(3, 1))
        coarse, fine = simulate_subject(3, seed=1, scale=0.1), simulate_subject(3, seed=1, scale=0.2)
        self.assertEqual(coarse.parameters, fine.parameters)
        head_volumes = [(s.labels > 0).sum() / scale**3 for s, scale in ((coarse, 0.1), (fine, 0.2))]  # mm^3
        self.assertLess(abs(head_volumes[0] / head_volumes[1] - 1.0), 0.1)


class TestWritePhantomDataset(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name) / "phantom"
        cls.records = write_phantom_dataset(cls.root, num_subjects=2, scale=SCALE, seed=0, first_index=7)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_records_and_file_names(self):
        self.assertEqual([r["subject"] for r in self.records], ["PH007", "PH008"])
        record = self.records[0]
        self.assertEqual(set(record), {"subject", "t1", "t2", "paired_t1", "paired_t2", "labels"})
        self.assertEqual(record["t1"], str(self.root / "IXI-T1" / "PH007-Phantom-0007-T1.nii.gz"))
        self.assertEqual(record["t2"], str(self.root / "IXI-T2" / "PH007-Phantom-0007-T2.nii.gz"))
        self.assertEqual(record["paired_t1"], str(self.root / "paired" / "PH007-T1.nii.gz"))
        self.assertEqual(record["paired_t2"], str(self.root / "paired" / "PH007-T2.nii.gz"))
        self.assertEqual(record["labels"], str(self.root / "paired" / "PH007-labels.nii.gz"))
        for path in (p for r in self.records for key, p in r.items() if key != "subject"):
            self.assertTrue(os.path.isabs(path) and os.path.isfile(path), path)

    @parameterized.expand(
        [
            ("t1", "t1", np.int16),
            ("t2", "t2", np.int16),
            ("paired_t1", "paired", np.int16),
            ("paired_t2", "paired", np.int16),
            ("labels", "paired", np.uint8),
        ]
    )
    def test_headers(self, key, grid_name, dtype):
        shape, spacing, codes = EXPECTED_GRIDS[grid_name]
        image = nib.load(self.records[0][key])
        self.assertEqual(image.shape, shape)
        np.testing.assert_allclose(image.header.get_zooms(), spacing, rtol=1e-6)
        self.assertEqual(nib.aff2axcodes(image.affine), codes)
        self.assertEqual(image.get_data_dtype(), dtype)
        self.assertEqual(int(image.header["qform_code"]), 1)
        self.assertEqual(int(image.header["sform_code"]), 1)
        np.testing.assert_allclose(image.header.get_qform(), image.header.get_sform(), atol=1e-5)

    def test_paired_images_share_one_grid(self):
        images = [nib.load(self.records[1][key]) for key in ("paired_t1", "paired_t2", "labels")]
        for image in images[1:]:
            np.testing.assert_allclose(image.affine, images[0].affine)

    def test_files_match_in_memory_simulation(self):
        subject = simulate_subject(8, seed=0, scale=SCALE)
        np.testing.assert_array_equal(np.asanyarray(nib.load(self.records[1]["t2"]).dataobj), subject.t2)
        np.testing.assert_array_equal(np.asanyarray(nib.load(self.records[1]["labels"]).dataobj), subject.labels)

    def test_manifest(self):
        manifest = json.loads((self.root / "manifest.json").read_text())
        self.assertEqual(
            manifest["parameters"],
            {"num_subjects": 2, "scale": SCALE, "seed": 0, "first_index": 7, "version": phantom.PHANTOM_VERSION},
        )
        self.assertEqual([s["subject"] for s in manifest["subjects"]], ["PH007", "PH008"])
        self.assertIn("ventricle_factor", manifest["subjects"][0]["parameters"])
        self.assertEqual(load_phantom_manifest(self.root), self.records)


class TestEnsurePhantomDataset(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.parent = Path(self.tmp.name)
        self.root = self.parent / "phantom"

    def test_second_call_regenerates_nothing(self):
        self.assertEqual(ensure_phantom_dataset(self.root, num_subjects=2, scale=0.2), self.root)
        before = file_mtimes(self.root)
        self.assertEqual(len(before), 1 + 2 * 5)
        with mock.patch.object(phantom, "write_phantom_dataset") as write:
            ensure_phantom_dataset(str(self.root), num_subjects=2, scale=0.2)
        write.assert_not_called()
        self.assertEqual(file_mtimes(self.root), before)
        self.assertEqual(sorted(p.name for p in self.parent.iterdir()), ["phantom"])  # no staging left behind

    def test_changed_parameters_regenerate(self):
        ensure_phantom_dataset(self.root, num_subjects=2, scale=0.2)
        ensure_phantom_dataset(self.root, num_subjects=3, scale=0.2, seed=4)
        manifest = json.loads((self.root / "manifest.json").read_text())
        self.assertEqual(manifest["parameters"]["num_subjects"], 3)
        self.assertEqual(manifest["parameters"]["seed"], 4)
        self.assertEqual(len(list((self.root / "paired").iterdir())), 9)
        self.assertEqual(sorted(p.name for p in self.parent.iterdir()), ["phantom"])

    def test_interrupted_generation_leaves_nothing_that_looks_complete(self):
        real_simulate = phantom.simulate_subject

        def fail_on_second_subject(index, seed, scale):
            if index == 2:
                raise KeyboardInterrupt
            return real_simulate(index, seed, scale)

        with mock.patch.object(phantom, "simulate_subject", side_effect=fail_on_second_subject):
            with self.assertRaises(KeyboardInterrupt):
                ensure_phantom_dataset(self.root, num_subjects=2, scale=0.2)
        self.assertEqual(list(self.parent.iterdir()), [])
        ensure_phantom_dataset(self.root, num_subjects=2, scale=0.2)
        self.assertEqual(len(load_phantom_manifest(self.root)), 2)

    def test_refuses_to_replace_a_foreign_directory(self):
        self.root.mkdir()
        (self.root / "notes.txt").write_text("not a phantom")
        with self.assertRaisesRegex(FileExistsError, "not a phantom"):
            ensure_phantom_dataset(self.root, num_subjects=1, scale=0.2)
        self.assertEqual((self.root / "notes.txt").read_text(), "not a phantom")

    @parameterized.expand(
        [
            ("no_subjects", {"num_subjects": 0}, "num_subjects"),
            ("fractional_subjects", {"num_subjects": 1.5}, "num_subjects"),
            ("zero_scale", {"scale": 0.0}, "scale"),
            ("negative_scale", {"scale": -1.0}, "scale"),
            ("nan_scale", {"scale": float("nan")}, "scale"),
            ("negative_seed", {"seed": -1}, "seed"),
            ("negative_first_index", {"first_index": -3}, "first_index"),
        ]
    )
    def test_bad_parameters_raise(self, _, kwargs, name):
        arguments = {"num_subjects": 1, "scale": 0.2, **kwargs}
        for function in (ensure_phantom_dataset, write_phantom_dataset):
            with self.assertRaisesRegex(ValueError, name):
                function(self.root, **arguments)
        self.assertFalse(self.root.exists())

    def test_unwritable_out_dir_raises_os_error(self):
        blocker = self.parent / "a_file"
        blocker.write_text("")
        for function in (ensure_phantom_dataset, write_phantom_dataset):
            with self.assertRaises(OSError):
                function(blocker / "phantom", num_subjects=1, scale=0.2)
            with self.assertRaisesRegex(OSError, "a_file"):
                function(blocker, num_subjects=1, scale=0.2)


if __name__ == "__main__":
    unittest.main()
