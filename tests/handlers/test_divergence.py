from __future__ import annotations

import tempfile
import unittest

import torch
from ignite.engine import Events
from torch.utils.tensorboard import SummaryWriter

from monai_cyclegan.engines import CycleGANKeys
from monai_cyclegan.evaluation import read_scalars
from monai_cyclegan.handlers import DivergenceGuard, TrainingDivergedError
from tests.engines.test_cyclegan_trainer import _smooth_images, _trainer


def _batches_with_nan_at(iteration: int, n: int = 3) -> list[dict[str, torch.Tensor]]:
    """``n`` batches; the one of ``iteration`` (1-based) holds a NaN pixel, as a corrupt slice would."""
    batches = [{"A": _smooth_images(), "B": -_smooth_images()} for _ in range(n)]
    batches[iteration - 1]["A"][0, 0, 5, 5] = float("nan")
    return batches


def _guarded(action: str, summary_writer=None, **trainer_args):
    trainer, gens, discs = _trainer(**trainer_args)
    networks = dict(zip(("g_ab", "g_ba", "d_a", "d_b"), gens + discs, strict=True))
    guard = DivergenceGuard(networks, action=action, summary_writer=summary_writer)
    guard.attach(trainer)
    return trainer, networks, guard


def _weights(networks: dict[str, torch.nn.Module]) -> list[torch.Tensor]:
    return [p.detach().clone() for net in networks.values() for p in net.parameters()]


class TestDivergenceGuard(unittest.TestCase):
    def test_a_nan_loss_stops_before_it_reaches_the_weights(self):
        trainer, networks, _ = _guarded("stop", data=_batches_with_nan_at(2))
        good = {}
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda e: good.update(w=_weights(networks)))
        with self.assertRaises(TrainingDivergedError) as caught:
            trainer.run()
        message = str(caught.exception)
        self.assertRegex(message, r"non-finite loss at epoch 1, iteration 2: loss_g = nan, loss_g_adv_a2b = nan")
        self.assertIn("The last checkpoint is kept", message)
        self.assertTrue(all(torch.equal(a, b) for a, b in zip(good["w"], _weights(networks), strict=True)))

    def test_skip_drops_the_bad_batch_counts_it_and_goes_on(self):
        with tempfile.TemporaryDirectory() as logs:
            writer = SummaryWriter(logs)
            trainer, networks, guard = _guarded("skip", summary_writer=writer, data=_batches_with_nan_at(2))
            skipped = []
            trainer.add_event_handler(
                Events.ITERATION_COMPLETED, lambda e: skipped.append(bool(e.state.output.get(CycleGANKeys.SKIPPED)))
            )
            with self.assertLogs(trainer.logger, "WARNING") as warnings:
                trainer.run()
            writer.close()
            scalars = read_scalars(logs)
        self.assertEqual(trainer.state.iteration, 3)
        self.assertEqual(skipped, [False, True, False])
        self.assertEqual(guard.skipped_batches, 1)
        self.assertEqual(scalars["skipped_batches"], [(2, 1.0)])
        self.assertIn("skipping the update of this batch, non-finite loss at epoch 1, iteration 2", warnings.output[0])
        self.assertTrue(all(torch.isfinite(w).all() for w in _weights(networks)))

    def test_a_non_finite_weight_stops_training_naming_it(self):
        trainer, _, _ = _guarded("skip", lr=float("inf"), iterations=3)  # the first step sends the weights to inf
        with self.assertRaisesRegex(
            TrainingDivergedError, r"weight g_ab\.\S+ is not finite after epoch 1, iteration 1"
        ):
            trainer.run()

    def test_unknown_action(self):
        with self.assertRaisesRegex(ValueError, "action must be one of"):
            DivergenceGuard({}, action="ignore")


if __name__ == "__main__":
    unittest.main()
