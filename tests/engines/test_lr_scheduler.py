from __future__ import annotations

import unittest

import torch

from monai_cyclegan.engines import LinearDecayLR


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=2e-4)


class TestLinearDecayLR(unittest.TestCase):
    def test_constant_then_linear_to_zero(self):
        opt = _optimizer()
        sched = LinearDecayLR(opt, constant_epochs=3, decay_epochs=4)
        rates = []
        for _ in range(8):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        self.assertEqual(rates[:3], [2e-4] * 3)
        decay = rates[3:7]
        self.assertTrue(all(a > b for a, b in zip(decay, decay[1:], strict=False)))
        self.assertAlmostEqual(rates[3], 2e-4 * (1 - 1 / 5))
        self.assertAlmostEqual(rates[6], 2e-4 * (1 - 4 / 5))
        self.assertAlmostEqual(rates[7], 0.0)

    def test_state_roundtrip(self):
        opt = _optimizer()
        sched = LinearDecayLR(opt, 2, 2)
        for _ in range(3):
            opt.step()
            sched.step()
        other_opt = _optimizer()
        other = LinearDecayLR(other_opt, 2, 2)
        other.load_state_dict(sched.state_dict())
        self.assertEqual(other.last_epoch, 3)
        self.assertAlmostEqual(other.get_last_lr()[0], sched.get_last_lr()[0])

    def test_negative_epochs(self):
        with self.assertRaises(ValueError):
            LinearDecayLR(_optimizer(), -1, 2)


if __name__ == "__main__":
    unittest.main()
