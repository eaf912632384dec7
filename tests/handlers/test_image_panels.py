from __future__ import annotations

import tempfile
import unittest
from unittest import mock

import torch
from ignite.engine import Engine
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from monai_cyclegan.handlers import CycleGANImageHandler, translation_panels
from monai_cyclegan.networks import UNetGenerator


class _Negate(torch.nn.Module):
    """A 'generator' with a known output, to check which image lands in which panel column."""

    def forward(self, x):
        return -x


class TestTranslationPanels(unittest.TestCase):
    def test_layout_range_and_modes(self):
        g = _Negate()
        g.train()
        a = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4)
        panels = translation_panels(g, g, a, a)
        self.assertEqual(panels["A2B"].shape, (1, 1, 4, 12))
        self.assertTrue(g.training)  # mode restored
        real, fake, rec = panels["A2B"][0, 0].split(4, dim=-1)
        self.assertTrue(torch.allclose(real, 1 - fake))  # fake = -real, in [0, 1] display units
        self.assertTrue(torch.allclose(real, rec))
        self.assertTrue(bool((panels["B2A"] >= 0).all() and (panels["B2A"] <= 1).all()))


class TestCycleGANImageHandler(unittest.TestCase):
    def test_collects_first_samples_and_writes_each_epoch(self):
        batches = [
            {"real_a": torch.full((2, 1, 8, 8), float(i) / 10), "real_b": torch.zeros(2, 1, 8, 8)} for i in range(3)
        ]
        engine = Engine(lambda e, b: b)
        with tempfile.TemporaryDirectory() as tmp:
            writer = SummaryWriter(log_dir=tmp)
            g = UNetGenerator(image_size=8, ngf=2)
            handler = CycleGANImageHandler(g, g, summary_writer=writer, num_images=3)
            handler.attach(engine)
            engine.run(batches, max_epochs=2)
            writer.close()
            self.assertEqual(len(handler.samples.a), 3)
            # samples are the first images seen (batch 0: 0.0, 0.0; batch 1: 0.1) and stay fixed afterwards
            self.assertEqual([round(float(s.mean()), 3) for s in handler.samples.a], [0.0, 0.0, 0.1])
            events = EventAccumulator(tmp)
            events.Reload()
            tags = events.Tags()["images"]
            self.assertTrue(any(t.startswith("A2B") for t in tags) and any(t.startswith("B2A") for t in tags))
            steps = sorted({e.step for t in tags if t.startswith("A2B") for e in events.Images(t)})
            self.assertEqual(steps, [1, 2])

    def test_images_with_nan_are_not_kept(self):
        nan_first = torch.zeros(2, 1, 8, 8)
        nan_first[0, 0, 1, 1] = float("nan")
        batches = [{"real_a": nan_first, "real_b": torch.zeros(2, 1, 8, 8)}, {"real_a": torch.ones(2, 1, 8, 8)}]
        batches[1]["real_b"] = torch.zeros(2, 1, 8, 8)
        engine = Engine(lambda e, b: b)
        g = UNetGenerator(image_size=8, ngf=2)
        handler = CycleGANImageHandler(g, g, summary_writer=mock.MagicMock(), num_images=2)
        handler.attach(engine)
        engine.run(batches, max_epochs=1)
        self.assertEqual([float(s.mean()) for s in handler.samples.a], [0.0, 1.0])  # the NaN image is left out


if __name__ == "__main__":
    unittest.main()
