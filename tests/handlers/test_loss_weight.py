from __future__ import annotations

import unittest

from ignite.engine import Engine, Events

from monai_cyclegan.handlers import LossWeightDecay


class TestLossWeightDecay(unittest.TestCase):
    def test_the_weight_falls_linearly_to_zero_and_stays_there(self):
        engine = Engine(lambda e, b: None)
        engine.lambda_prior = 123.0
        seen = []
        LossWeightDecay("lambda_prior", start=4.0, epochs=2).attach(engine)
        engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(e.lambda_prior))
        engine.run([0], max_epochs=4)
        self.assertEqual(seen, [4.0, 2.0, 0.0, 0.0])

    def test_no_decay_and_a_resumed_epoch(self):
        self.assertEqual(LossWeightDecay("w", 3.0, 0).weight(50), 3.0)
        self.assertEqual(LossWeightDecay("w", 3.0, 4).weight(3), 1.5)  # depends on the epoch alone

    def test_unknown_weight_and_bad_values(self):
        engine = Engine(lambda e, b: None)
        LossWeightDecay("lambda_x", 1.0, 1).attach(engine)
        with self.assertRaisesRegex(ValueError, "has no loss weight 'lambda_x'"):
            engine.run([0])
        with self.assertRaisesRegex(ValueError, ">= 0"):
            LossWeightDecay("w", -1.0, 1)


if __name__ == "__main__":
    unittest.main()
