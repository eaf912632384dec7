"""Tests of the phantom's anatomy: the template, tissue fractions, each subject's deformation, and the lesions."""

from __future__ import annotations

import dataclasses
import itertools
import sys
import unittest
from unittest import mock

import numpy as np
from scipy import ndimage

from monai_cyclegan.data.phantom import sample_subject_parameters
from monai_cyclegan.data.phantom.anatomy import TISSUES, HeadLayers, template_anatomy, tissue_fractions
from monai_cyclegan.data.phantom.deformation import ELASTIC_MAGNITUDE_RANGE, ELASTIC_SIGMA_RANGE, ElasticDeformation
from monai_cyclegan.data.phantom.lesions import LESION_COUNTS, Lesion, lesion_fraction, lesion_sites, sample_lesions
from monai_cyclegan.data.phantom.template import TEMPLATE_NOTICE, load_template_images, template_folder

LAYERS = HeadLayers(skull_mm=6.0, temporalis_mm=5.0, fat_mm=3.0, skin_mm=2.0)


def coarse_points(mask: np.ndarray) -> np.ndarray:
    """MNI coordinates (3, N) of the coarse-grid voxels in ``mask``."""
    affine = template_anatomy().coarse_affine
    return (np.argwhere(mask) @ affine[:3, :3].T + affine[:3, 3]).T.astype(np.float32)


def dominant(points: np.ndarray, voxel_mm: float = 1.0) -> np.ndarray:
    """The tissue with the largest fraction at each point."""
    return np.array(TISSUES)[tissue_fractions(points, LAYERS, voxel_mm).argmax(axis=0)]


class TestTemplate(unittest.TestCase):
    def test_read_from_nilearns_files_without_importing_it(self):
        images = load_template_images()
        self.assertNotIn("nilearn", sys.modules)
        self.assertEqual(images.gm.shape, (197, 233, 189))
        self.assertTrue(0.0 <= images.wm.min() and images.wm.max() <= 1.0)
        self.assertGreater(images.brain.sum() / 1000, 1500)  # cm^3: a whole brain
        self.assertIn("McConnell Brain Imaging Centre", TEMPLATE_NOTICE)

    def test_missing_nilearn_is_named(self):
        with mock.patch("importlib.util.find_spec", return_value=None):
            with self.assertRaisesRegex(ModuleNotFoundError, "pip install"):
                template_folder()


class TestTissueFractions(unittest.TestCase):
    def test_fractions_are_a_partition(self):
        points = np.random.default_rng(0).uniform(-120, 120, size=(3, 50_000)).astype(np.float32)
        for voxel_mm in (1.0, 2.0, 4.0):
            fractions = tissue_fractions(points, LAYERS, voxel_mm, lesion=np.full(points.shape[1], 0.5, np.float32))
            self.assertGreaterEqual(fractions.min(), 0.0)
            np.testing.assert_allclose(fractions.sum(axis=0), 1.0, atol=1e-5)

    def test_known_places(self):
        anatomy = template_anatomy()
        ventricle_cores = ndimage.binary_erosion(anatomy.ventricles)
        self.assertGreater(np.mean(dominant(coarse_points(ventricle_cores)) == "csf"), 0.9)
        deep_white = coarse_points((anatomy.coarse_wm > 0.97) & (anatomy.intracranial.data[0] > 10))
        self.assertGreater(np.mean(dominant(deep_white) == "wm"), 0.95)
        cortex = coarse_points((anatomy.coarse_gm > 0.9) & (anatomy.intracranial.data[0] > 3))
        self.assertGreater(np.mean(dominant(cortex) == "gm"), 0.9)
        far = np.array([[0.0, 0.0, 200.0], [0.0, 150.0, 0.0], [150.0, 0.0, 0.0]], np.float32).T
        self.assertEqual(list(dominant(far)), ["air"] * 3)

    def test_layers_from_the_brain_outwards(self):
        # Along a ray from the brain up through the vertex: CSF, then the skull's tables around its marrow, fat, skin.
        ray = np.stack([np.full(400, 20.0), np.full(400, -20.0), np.linspace(40.0, 120.0, 400)]).astype(np.float32)
        layers = [tissue for tissue, _ in itertools.groupby(dominant(ray, 0.5))]
        self.assertIn(layers[0], ("gm", "wm"))
        self.assertEqual(layers[-7:], ["csf", "skull", "marrow", "skull", "fat", "skin", "air"])

    def test_lesion_replaces_white_matter_only(self):
        anatomy = template_anatomy()
        points = coarse_points((anatomy.coarse_wm > 0.5) | (anatomy.coarse_gm > 0.5))[:, ::7]
        plain = tissue_fractions(points, LAYERS, 2.0)
        lesioned = tissue_fractions(points, LAYERS, 2.0, lesion=np.ones(points.shape[1], np.float32))
        index = {name: TISSUES.index(name) for name in ("gm", "wm", "lesion", "csf")}
        np.testing.assert_allclose(lesioned[index["lesion"]], plain[index["wm"]], atol=1e-6)
        self.assertEqual(float(np.abs(lesioned[index["wm"]]).max()), 0.0)
        for name in ("gm", "csf"):
            np.testing.assert_array_equal(lesioned[index[name]], plain[index[name]])


class TestDeformation(unittest.TestCase):
    @staticmethod
    def jacobian_determinants(params) -> np.ndarray:
        """Determinant of the composed map's Jacobian at the 4 mm nodes inside the head."""
        field = params.subject_map().field
        derivatives = np.stack([np.stack(np.gradient(channel, 4.0)) for channel in field.data])  # (3, 3, X, Y, Z)
        inner = derivatives[:, :, 5:-5, 5:-5, 10:-5]  # away from the clamped borders of the grid
        return np.linalg.det(np.moveaxis(inner, (0, 1), (-2, -1)))

    def test_keeps_topology(self):
        for index in range(1, 4):
            params = sample_subject_parameters(index)
            strongest = dataclasses.replace(
                params,
                elastic=ElasticDeformation(params.elastic.seed, ELASTIC_SIGMA_RANGE[0], ELASTIC_MAGNITUDE_RANGE[1]),
                ventricle_expansion_mm=2.5,
            )
            determinants = self.jacobian_determinants(strongest)
            self.assertGreater(determinants.min(), 0.2, index)  # one-to-one: no folding
            self.assertLess(determinants.max(), 3.0, index)

    def test_deforms_by_millimetres(self):
        params = sample_subject_parameters(1)
        field = params.subject_map().field
        identity = np.stack(np.meshgrid(*[4.0 * np.arange(n) for n in field.data.shape[1:]], indexing="ij"))
        origin = -field.index_from_mni[:3, 3] * 4.0
        displacement = np.linalg.norm(field.data - identity - origin[:, None, None, None], axis=0)[
            10:-10, 10:-10, 15:-10
        ]
        self.assertTrue(0.5 < np.sqrt(np.mean(displacement**2)) < 5.0)
        self.assertLess(displacement.max(), 15.0)

    def test_ventricles_enlarge(self):
        params = sample_subject_parameters(2)
        anatomy = template_anatomy()
        head = coarse_points(ndimage.binary_dilation(anatomy.ventricles, iterations=4))
        share = []
        for expansion in (0.0, 2.5):
            moved = dataclasses.replace(params, ventricle_expansion_mm=expansion).subject_map().field.sample(head)
            share.append(np.mean(dominant(moved) == "csf"))
        self.assertGreater(share[1], 1.15 * share[0])


class TestLesions(unittest.TestCase):
    def test_sites_lie_in_white_matter(self):
        anatomy = template_anatomy()
        index_from_mni = anatomy.intracranial.index_from_mni
        for kind, (centres, directions) in lesion_sites().items():
            self.assertGreater(len(centres), 100, kind)
            voxels = np.rint(centres @ index_from_mni[:3, :3].T + index_from_mni[:3, 3]).astype(int)
            self.assertGreater(anatomy.coarse_wm[tuple(voxels.T)].min(), 0.59, kind)
            np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-5)

    def test_counts_shapes_and_seeding(self):
        lesions = sample_lesions(np.random.default_rng(5))
        self.assertEqual(lesions, sample_lesions(np.random.default_rng(5)))
        for kind, (fewest, most) in LESION_COUNTS.items():
            self.assertTrue(fewest <= sum(lesion.kind == kind for lesion in lesions) <= most, kind)
        for lesion in lesions:
            self.assertEqual(lesion.semi_axes_mm, tuple(sorted(lesion.semi_axes_mm, reverse=True)))
            np.testing.assert_allclose(np.asarray(lesion.axes) @ np.asarray(lesion.axes).T, np.eye(3), atol=1e-6)

    def test_fraction_of_an_ovoid(self):
        lesion = Lesion("deep", (10.0, 0.0, 0.0), (6.0, 3.0, 2.0), ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)))
        points = np.array([[10, 0, 0], [10, 5.5, 0], [10, 7, 0], [13.5, 0, 0], [10, 0, 2]], np.float32).T
        np.testing.assert_allclose(lesion_fraction(points, (lesion,), 1.0), [1.0, 1.0, 0.0, 0.0, 0.5], atol=0.02)


if __name__ == "__main__":
    unittest.main()
