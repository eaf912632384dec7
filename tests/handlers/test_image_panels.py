from __future__ import annotations

import tempfile
import unittest
from pathlib import Path
from unittest import mock

import torch
from ignite.engine import Engine, Events
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from monai_cyclegan.handlers import CycleGANImageHandler, FixedSamples, translation_panels
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


def _batches(first: float, n: int = 3) -> list[dict[str, torch.Tensor]]:
    """Batches of one A and one B image whose pixels all equal ``first``, ``first + 1``, ..."""
    return [
        {"real_a": torch.full((1, 1, 4, 4), first + i), "real_b": torch.full((1, 1, 4, 4), -first - i)}
        for i in range(n)
    ]


def _run(samples: FixedSamples, batches: list, max_epochs: int, resume_from: int = 0) -> list[float]:
    """Run an engine with ``samples`` attached, optionally resumed at the end of epoch ``resume_from``.

    Returns the first pixel of each A sample kept at the end.
    """
    engine = Engine(lambda e, batch: batch)
    samples.attach(engine)
    if resume_from:  # what a checkpoint loader does at STARTED
        engine.add_event_handler(Events.STARTED, lambda e: setattr(e.state, "epoch", resume_from))
    engine.run(batches, max_epochs=max_epochs)
    return [float(x.flatten()[0]) for x in samples.a]


class TestFixedSamples(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.store = Path(self._tmp.name) / "progress" / "samples.pt"

    def tearDown(self):
        self._tmp.cleanup()

    def test_first_finite_images_of_each_domain(self):
        self.assertEqual(_run(FixedSamples(2), _batches(0.0), max_epochs=2), [0.0, 1.0])

    def test_a_resumed_run_takes_back_the_stored_samples(self):
        _run(FixedSamples(2, store=self.store), _batches(0.0), max_epochs=1)
        self.assertTrue(self.store.is_file())
        # the resumed run sees other images first, yet keeps showing those of the interrupted run
        self.assertEqual(_run(FixedSamples(2, store=self.store), _batches(10.0), 3, resume_from=1), [0.0, 1.0])
        self.assertEqual(_run(FixedSamples(2), _batches(10.0), 3, resume_from=1), [10.0, 11.0])  # without a store

    def test_a_new_run_forgets_stored_samples(self):
        _run(FixedSamples(2, store=self.store), _batches(0.0), max_epochs=1)
        self.assertEqual(_run(FixedSamples(2, store=self.store), _batches(10.0), max_epochs=1), [10.0, 11.0])
        self.assertEqual(torch.load(self.store, weights_only=True)["a"][:, 0, 0, 0].tolist(), [10.0, 11.0])

    def test_a_damaged_store_is_replaced_with_a_warning(self):
        self.store.parent.mkdir()
        self.store.write_bytes(b"not a checkpoint")
        with self.assertWarnsRegex(UserWarning, f"{self.store}: cannot be read"):
            kept = _run(FixedSamples(2, store=self.store), _batches(10.0), 3, resume_from=1)
        self.assertEqual(kept, [10.0, 11.0])
        self.assertEqual(torch.load(self.store, weights_only=True)["a"][:, 0, 0, 0].tolist(), [10.0, 11.0])


if __name__ == "__main__":
    unittest.main()
