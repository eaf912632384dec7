from __future__ import annotations

import tempfile
import unittest

import torch
from ignite.engine import Engine, Events
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_cyclegan.handlers import LearningRateHandler


class TestLearningRateHandler(unittest.TestCase):
    def test_writes_rate_per_epoch(self):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        engine = Engine(lambda e, b: None)

        @engine.on(Events.EPOCH_COMPLETED)
        def _halve(e):
            opt.param_groups[0]["lr"] /= 2

        with tempfile.TemporaryDirectory() as tmp:
            handler = LearningRateHandler({"generators": opt}, log_dir=tmp)
            handler.attach(engine)
            engine.run([0], max_epochs=3)
            handler.close()
            events = EventAccumulator(tmp)
            events.Reload()
            values = [(s.step, s.value) for s in events.Scalars("lr/generators")]
        self.assertEqual(values, [(1, 0.5), (2, 0.25), (3, 0.125)])


if __name__ == "__main__":
    unittest.main()
