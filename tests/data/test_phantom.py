"""Tests of the phantom's subjects and data sets (monai_cyclegan.data.phantom)."""

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
import torch
from monai.data import MetaTensor
from monai.transforms import ResampleToMatch
from parameterized import parameterized

from monai_cyclegan.data.phantom import (
    PHANTOM_VERSION,
    TISSUE_LABELS,
    ensure_phantom_dataset,
    load_phantom_manifest,
    phantom_grids,
    sample_subject_parameters,
    simulate_subject,
    write_phantom_dataset,
)
from monai_cyclegan.data.phantom import dataset as phantom_dataset
from monai_cyclegan.data.phantom.subject import _render_grid
from monai_cyclegan.data.phantom.template import TEMPLATE_NOTICE

SCALE = 0.5  # about 2 mm voxels
FILE_SCALE = 0.25  # the data sets written to disk
EXPECTED_GRIDS = {
    # name: (shape at FILE_SCALE, spacing at FILE_SCALE, orientation codes)
    "t1": ((38, 64, 64), (4.8, 3.75, 3.75), ("L", "S", "P")),
    "t2": ((64, 64, 32), (3.75, 3.75, 5.0), ("L", "P", "S")),
    "paired": ((45, 54, 45), (4.0, 4.0, 4.0), ("R", "A", "S")),
}


def label_means(image: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {
        name: float(image[labels == value].mean()) for name, value in TISSUE_LABELS.items() if (labels == value).any()
    }


def far_from_head(labels: np.ndarray, margin: int = 2) -> np.ndarray:
    """Air voxels at least `margin` voxels (in every axis direction) away from any tissue."""
    padded = np.pad(labels > 0, margin)
    near = np.zeros_like(padded)
    for shift in range(-margin, margin + 1):
        for axis in range(3):
            near |= np.roll(padded, shift, axis=axis)
    return ~near[margin:-margin, margin:-margin, margin:-margin]


def to_ras(axcodes: tuple[str, str, str]) -> np.ndarray:
    """nibabel orientation transform from an array with these axis codes to RAS."""
    orientations = nib.orientations
    return orientations.ornt_transform(orientations.axcodes2ornt(axcodes), orientations.axcodes2ornt(("R", "A", "S")))


def file_mtimes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in root.rglob("*") if path.is_file()}


class TestGrids(unittest.TestCase):
    @parameterized.expand(list(EXPECTED_GRIDS))
    def test_grid_geometry(self, name):
        shape, spacing, codes = EXPECTED_GRIDS[name]
        grid = phantom_grids(FILE_SCALE)[name]
        self.assertEqual(grid.shape, shape)
        np.testing.assert_allclose(grid.spacing_mm, spacing)
        self.assertEqual(nib.aff2axcodes(grid.affine), codes)
        np.testing.assert_allclose(np.abs(grid.affine[:3, :3]).sum(axis=0), spacing)  # axis-aligned
        centre = grid.affine @ np.append((np.array(shape) - 1) / 2.0, 1.0)
        np.testing.assert_allclose(centre[:3], 0.0, atol=1e-9)

    def test_full_scale_shapes_are_ixis(self):
        grids = phantom_grids(1.0)
        self.assertEqual(grids["t1"].shape, (150, 256, 256))
        np.testing.assert_allclose(grids["t1"].spacing_mm, (1.2, 0.9375, 0.9375))
        self.assertEqual(grids["t2"].shape, (256, 256, 130))
        self.assertEqual(grids["paired"].shape, (180, 216, 180))


class TestSimulatedSubject(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.subject = simulate_subject(1, seed=0, scale=SCALE, lesions=True)

    def test_t1w_contrast_order_in_labels(self):
        means = label_means(self.subject.paired_t1, self.subject.labels)
        self.assertGreater(means["wm"], 1.1 * means["gm"])
        self.assertGreater(means["gm"], 1.3 * means["csf"])
        self.assertLess(means["air"], 0.1 * means["wm"])

    def test_t2w_contrast_order_in_labels(self):
        means = label_means(self.subject.paired_t2, self.subject.labels)
        self.assertGreater(means["csf"], 1.3 * means["gm"])
        self.assertGreater(means["gm"], 1.2 * means["wm"])
        self.assertLess(means["air"], 0.1 * means["wm"])

    def test_lesions_dark_in_t1w_and_bright_in_t2w(self):
        lesions = self.subject.lesions.astype(bool)
        self.assertGreater(lesions.sum(), 20)
        np.testing.assert_array_equal(lesions, self.subject.labels == TISSUE_LABELS["lesion"])
        white = self.subject.labels == TISSUE_LABELS["wm"]
        for image, lower, upper in ((self.subject.paired_t1, 0.4, 0.9), (self.subject.paired_t2, 1.3, 2.5)):
            ratio = image[lesions].mean() / image[white].mean()
            self.assertTrue(lower < ratio < upper, ratio)

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
        for name in ("labels", "lesions"):
            self.assertEqual(getattr(self.subject, name).dtype, np.uint8)

    def test_every_tissue_is_labelled(self):
        self.assertEqual(set(np.unique(self.subject.labels)), set(TISSUE_LABELS.values()))

    def test_brain_size_follows_the_size_factors(self):
        # The deformation keeps the brain's volume on average, so it scales with the product of the size factors.
        brain = [TISSUE_LABELS[name] for name in ("gm", "wm", "lesion")]
        other = simulate_subject(2, seed=0, scale=SCALE)
        volumes = [np.isin(s.labels, brain).sum() / np.prod(s.parameters.size_factors) for s in (self.subject, other)]
        self.assertAlmostEqual(volumes[0] / volumes[1], 1.0, delta=0.04)

    def test_acquisitions_sit_where_their_affines_say(self):
        # Each acquisition, resampled through its own affine onto the paired grid, matches the paired image there.
        for contrast in ("t1", "t2"):
            acquired = torch.as_tensor(getattr(self.subject, contrast), dtype=torch.float32)[None]
            paired = torch.as_tensor(getattr(self.subject, f"paired_{contrast}"), dtype=torch.float32)[None]
            resampled = ResampleToMatch()(
                MetaTensor(acquired, affine=torch.as_tensor(self.subject.affines[contrast])),
                img_dst=MetaTensor(paired, affine=torch.as_tensor(self.subject.affines["paired"])),
            )[0]
            head = torch.as_tensor(self.subject.labels > 0) & (resampled > 0)
            correlation = np.corrcoef(resampled[head].numpy(), paired[0][head].numpy())[0, 1]
            self.assertGreater(correlation, 0.85, contrast)

    def test_head_fits_the_sides_and_top_of_every_field_of_view(self):
        for index in range(1, 7):
            params = sample_subject_parameters(index, seed=0)
            subject_map = params.subject_map()
            for name, grid in phantom_grids(FILE_SCALE).items():
                _, labels = _render_grid(params, subject_map, grid, (), with_labels=True)
                head = nib.orientations.apply_orientation(labels, to_ras(grid.axcodes)) > 0
                sides = [head[[0, -1]], head[:, [0, -1]], head[:, :, -1]]  # the neck leaves through the bottom
                self.assertFalse(any(face.any() for face in sides), (index, name))
                self.assertGreater(head.mean(), 0.05, (index, name))


class TestDeterminism(unittest.TestCase):
    def test_same_seed_gives_identical_images(self):
        first, second = (simulate_subject(2, seed=5, scale=FILE_SCALE, lesions=True) for _ in range(2))
        for name in ("t1", "t2", "paired_t1", "paired_t2", "labels", "lesions"):
            np.testing.assert_array_equal(getattr(first, name), getattr(second, name))

    def test_subjects_differ_in_anatomy_size_and_pose(self):
        first, second = (sample_subject_parameters(index, seed=0) for index in (1, 2))
        for name in ("rotation_deg", "size_factors", "ventricle_expansion_mm", "elastic", "layers"):
            self.assertNotEqual(getattr(first, name), getattr(second, name), name)
        labels = [simulate_subject(index, seed=0, scale=FILE_SCALE).labels for index in (1, 2)]
        self.assertGreater((labels[0] != labels[1]).mean(), 0.02)

    def test_options_change_only_their_own_part(self):
        plain = sample_subject_parameters(3, seed=1)
        lesioned = sample_subject_parameters(3, seed=1, lesions=True)
        varied = sample_subject_parameters(3, seed=1, vary_sequences=True)
        self.assertEqual(plain.lesions, ())
        self.assertGreater(len(lesioned.lesions), 0)
        self.assertEqual(dataclasses.replace(lesioned, lesions=()), plain)
        self.assertNotEqual(varied.sequences, plain.sequences)
        self.assertEqual(dataclasses.replace(varied, sequences=plain.sequences), plain)

    def test_without_lesions_nothing_is_labelled_lesion(self):
        subject = simulate_subject(4, seed=0, scale=0.125)
        self.assertFalse(subject.lesions.any())
        self.assertNotIn(TISSUE_LABELS["lesion"], np.unique(subject.labels))

    def test_anatomy_does_not_depend_on_scale(self):
        coarse, fine = simulate_subject(3, seed=1, scale=0.125), simulate_subject(3, seed=1, scale=0.25)
        self.assertEqual(coarse.parameters, fine.parameters)
        head_volumes = [(s.labels > 0).sum() / scale**3 for s, scale in ((coarse, 0.125), (fine, 0.25))]  # mm^3
        self.assertLess(abs(head_volumes[0] / head_volumes[1] - 1.0), 0.1)


class TestWritePhantomDataset(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name) / "phantom"
        cls.records = write_phantom_dataset(
            cls.root, num_subjects=2, scale=FILE_SCALE, seed=0, first_index=7, lesions=True
        )

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_records_and_file_names(self):
        self.assertEqual([r["subject"] for r in self.records], ["PH007", "PH008"])
        record = self.records[0]
        self.assertEqual(set(record), {"subject", "t1", "t2", "paired_t1", "paired_t2", "labels", "lesions"})
        self.assertEqual(record["t1"], str(self.root / "IXI-T1" / "PH007-Phantom-0007-T1.nii.gz"))
        self.assertEqual(record["t2"], str(self.root / "IXI-T2" / "PH007-Phantom-0007-T2.nii.gz"))
        for key, suffix in (("paired_t1", "T1"), ("paired_t2", "T2"), ("labels", "labels"), ("lesions", "lesions")):
            self.assertEqual(record[key], str(self.root / "paired" / f"PH007-{suffix}.nii.gz"))
        for path in (p for r in self.records for key, p in r.items() if key != "subject"):
            self.assertTrue(os.path.isabs(path) and os.path.isfile(path), path)

    @parameterized.expand(
        [
            ("t1", "t1", np.int16),
            ("t2", "t2", np.int16),
            ("paired_t1", "paired", np.int16),
            ("paired_t2", "paired", np.int16),
            ("labels", "paired", np.uint8),
            ("lesions", "paired", np.uint8),
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
        images = [nib.load(self.records[1][key]) for key in ("paired_t1", "paired_t2", "labels", "lesions")]
        for image in images[1:]:
            np.testing.assert_allclose(image.affine, images[0].affine)

    def test_files_match_in_memory_simulation(self):
        subject = simulate_subject(8, seed=0, scale=FILE_SCALE, lesions=True)
        for key in ("t2", "labels", "lesions"):
            np.testing.assert_array_equal(np.asanyarray(nib.load(self.records[1][key]).dataobj), getattr(subject, key))

    def test_manifest(self):
        manifest = json.loads((self.root / "manifest.json").read_text())
        self.assertEqual(
            manifest["parameters"],
            {
                "num_subjects": 2,
                "scale": FILE_SCALE,
                "seed": 0,
                "first_index": 7,
                "lesions": True,
                "vary_sequences": False,
                "version": PHANTOM_VERSION,
            },
        )
        self.assertEqual(manifest["template"], TEMPLATE_NOTICE)
        self.assertEqual([s["subject"] for s in manifest["subjects"]], ["PH007", "PH008"])
        parameters = manifest["subjects"][0]["parameters"]
        self.assertIn("ventricle_expansion_mm", parameters)
        self.assertEqual(parameters["sequences"]["t2"], {"tr_ms": 5725.0, "te_ms": 100.0})
        self.assertGreater(len(parameters["lesions"]), 0)
        self.assertEqual(load_phantom_manifest(self.root), self.records)

    def test_same_seed_gives_bit_identical_files(self):
        with tempfile.TemporaryDirectory() as other:
            write_phantom_dataset(other, num_subjects=2, scale=FILE_SCALE, seed=0, first_index=7, lesions=True)
            files = sorted(path.relative_to(self.root) for path in self.root.rglob("*") if path.is_file())
            self.assertEqual(len(files), 1 + 2 * 6)
            for name in files:
                self.assertEqual((self.root / name).read_bytes(), (Path(other) / name).read_bytes(), name)


class TestEnsurePhantomDataset(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.parent = Path(self.tmp.name)
        self.root = self.parent / "phantom"

    def test_second_call_regenerates_nothing(self):
        self.assertEqual(ensure_phantom_dataset(self.root, num_subjects=2, scale=0.2), self.root)
        before = file_mtimes(self.root)
        self.assertEqual(len(before), 1 + 2 * 5)  # no lesion masks without lesions
        with mock.patch.object(phantom_dataset, "write_phantom_dataset") as write:
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
        self.assertEqual(len(list((self.root / "paired").iterdir())), 3 * 3)
        self.assertEqual(sorted(p.name for p in self.parent.iterdir()), ["phantom"])

    def test_interrupted_generation_leaves_nothing_that_looks_complete(self):
        real_simulate = phantom_dataset.simulate_subject

        def fail_on_second_subject(index, *args):
            if index == 2:
                raise KeyboardInterrupt
            return real_simulate(index, *args)

        with mock.patch.object(phantom_dataset, "simulate_subject", side_effect=fail_on_second_subject):
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
            ("lesions_not_a_bool", {"lesions": "yes"}, "lesions"),
            ("vary_sequences_not_a_bool", {"vary_sequences": 1}, "vary_sequences"),
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
