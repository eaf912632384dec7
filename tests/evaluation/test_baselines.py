from __future__ import annotations

import unittest

import torch

from monai_cyclegan.evaluation import identity_baseline, intensity_mapping_baseline


class TestBaselines(unittest.TestCase):
    def test_identity_is_a_copy(self):
        image = torch.rand(5, 6)
        out = identity_baseline(image)
        self.assertTrue(torch.equal(out, image))
        out[0, 0] = 7
        self.assertNotEqual(float(image[0, 0]), 7.0)

    def test_mapping_inverts_the_order_and_takes_reference_values(self):
        image = torch.zeros(10, 10)
        image[2:8, 2:8] = torch.linspace(0.2, 0.9, 36).reshape(6, 6)  # head with 36 distinct levels, air around it
        reference = [torch.tensor([0.0, 0.0, 0.3, 0.5, 0.7, 0.9])]  # air in the reference is ignored
        out = intensity_mapping_baseline(image, reference)
        self.assertTrue(torch.equal(out[image <= 0.1], torch.zeros(64)))
        head_in, head_out = image[image > 0.1], out[image > 0.1]
        levels = torch.tensor([0.3, 0.5, 0.7, 0.9])
        self.assertTrue(bool(torch.isclose(head_out[:, None], levels).any(1).all()))
        order = head_in.argsort()
        self.assertTrue(bool((head_out[order].diff() <= 0).all()))  # brighter input, darker output
        self.assertAlmostEqual(float(head_out[head_in.argmin()]), 0.9, places=6)
        self.assertAlmostEqual(float(head_out[head_in.argmax()]), 0.3, places=6)

    def test_matches_the_reference_distribution(self):
        torch.manual_seed(0)
        image = torch.rand(64, 64) * 0.8 + 0.15
        reference = [torch.rand(64, 64) ** 2 * 0.85 + 0.12]
        out = intensity_mapping_baseline(image, reference)
        for q in (0.1, 0.5, 0.9):
            self.assertAlmostEqual(float(out.quantile(q)), float(reference[0].quantile(q)), delta=0.01)

    def test_empty_reference(self):
        with self.assertRaisesRegex(ValueError, "reference images hold no voxel"):
            intensity_mapping_baseline(torch.rand(4, 4), [torch.zeros(4, 4)])


if __name__ == "__main__":
    unittest.main()
