from __future__ import annotations

import unittest

import torch
from monai.data import MetaTensor

from monai_cyclegan.engines import PrepareBatchUnpaired


class TestPrepareBatchUnpaired(unittest.TestCase):
    def test_returns_plain_tensors_of_both_domains(self):
        batch = {"A": MetaTensor(torch.zeros(2, 1, 4, 4)), "B": torch.ones(2, 1, 4, 4), "other": 1}
        a, b = PrepareBatchUnpaired()(batch, device="cpu")
        self.assertIs(type(a), torch.Tensor)
        self.assertTrue(torch.equal(b, torch.ones(2, 1, 4, 4)))

    def test_tensor_options_reach_both_domains(self):
        batch = {"A": MetaTensor(torch.zeros(1, 1, 2, 2)), "B": MetaTensor(torch.ones(1, 1, 2, 2))}
        a, b = PrepareBatchUnpaired()(batch, "cpu", False, dtype=torch.float64)
        self.assertEqual((a.dtype, b.dtype), (torch.float64, torch.float64))
        self.assertEqual((type(a), type(b)), (torch.Tensor, torch.Tensor))  # the MetaTensor's metadata dropped

    def test_missing_key(self):
        with self.assertRaisesRegex(KeyError, r"Batch has no \['B'\]; it holds \['A'\]"):
            PrepareBatchUnpaired()({"A": torch.zeros(1)})

    def test_needs_two_keys(self):
        with self.assertRaisesRegex(ValueError, r"needs exactly two keys .*got \('A',\)"):
            PrepareBatchUnpaired(keys=("A",))


if __name__ == "__main__":
    unittest.main()
