from __future__ import annotations

import unittest

import torch

from monai_cyclegan.evaluation import failure_mode_checks, pearson


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A T1-like image of three tissues and its T2-like truth (tissue order partly reversed, not a plain inversion)."""
    labels = torch.randint(0, 3, (48, 48), generator=torch.Generator().manual_seed(0))
    t1 = torch.tensor([0.3, 0.6, 0.8])[labels]
    t2 = torch.tensor([0.9, 0.35, 0.25])[labels]
    return t1, t2


class TestFailureModes(unittest.TestCase):
    def test_pearson(self):
        a = torch.arange(10.0)
        self.assertAlmostEqual(pearson(a, 2 * a + 1), 1.0)
        self.assertAlmostEqual(pearson(a, -a), -1.0)
        self.assertEqual(pearson(a, torch.ones(10)), 0.0)

    def test_faithful_output_is_not_flagged(self):
        t1, t2 = _pair()
        checks = failure_mode_checks(t1, t2 + 0.02 * torch.randn(t2.shape), t2)
        self.assertGreater(checks["corr_truth"], 0.95)
        self.assertFalse(checks["identity_like"])
        self.assertFalse(checks["inversion_like"])

    def test_identity_and_inversion_are_flagged(self):
        t1, t2 = _pair()
        identity = failure_mode_checks(t1, t1.clone(), t2)
        self.assertTrue(identity["identity_like"])
        self.assertFalse(identity["inversion_like"])
        inverted = failure_mode_checks(t1, 1 - t1, t2)
        self.assertTrue(inverted["inversion_like"])
        self.assertFalse(inverted["identity_like"])

    def test_mask_restricts_the_comparison(self):
        t1, t2 = _pair()
        synthetic = t2.clone()
        synthetic[:, 24:] = t1[:, 24:]  # right half identity-like, left half faithful
        mask = torch.zeros_like(t1, dtype=torch.bool)
        mask[:, :24] = True
        self.assertFalse(failure_mode_checks(t1, synthetic, t2, mask)["identity_like"])
        self.assertTrue(failure_mode_checks(t1, synthetic, t2, ~mask)["identity_like"])


if __name__ == "__main__":
    unittest.main()
