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

    def test_no_constant_or_no_decay_phase(self):
        def rates(constant: int, decay: int) -> list[float]:
            sched = LinearDecayLR(_optimizer(), constant, decay)
            return [sched.factor(epoch) for epoch in range(4)]

        self.assertEqual(rates(0, 3), [0.75, 0.5, 0.25, 0.0])  # decay from the first epoch
        self.assertEqual(rates(2, 0), [1.0, 1.0, 0.0, 0.0])  # constant, then nothing

    def test_resuming_at_an_epoch(self):
        opt = _optimizer()
        opt.param_groups[0]["initial_lr"] = 2e-4  # what a resumed optimizer holds
        sched = LinearDecayLR(opt, constant_epochs=2, decay_epochs=4, last_epoch=3)
        self.assertEqual(sched.last_epoch, 4)  # the scheduler's first step moves to the next epoch
        self.assertAlmostEqual(opt.param_groups[0]["lr"], 2e-4 * (1 - 3 / 5))

    def test_negative_epochs(self):
        for constant, decay in ((-1, 2), (2, -1)):
            with self.assertRaisesRegex(ValueError, f"epochs must be >= 0, got constant={constant}, decay={decay}"):
                LinearDecayLR(_optimizer(), constant, decay)


if __name__ == "__main__":
    unittest.main()
