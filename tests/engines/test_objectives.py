"""The optional generator objectives of the CycleGAN trainer: structure consistency (MIND) and a non-learned prior."""

from __future__ import annotations

import unittest

import torch

from monai_cyclegan.engines import CycleGANKeys, CycleGANTrainer, ImagePool
from monai_cyclegan.losses import MINDLoss
from monai_cyclegan.networks import ResnetGenerator, patch_discriminator
from tests.engines.trainers import adam_trainer

SIZE = 32


def _images(seed: int, n: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, SIZE // 8, SIZE // 8, generator=generator) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def _trainer(iterations: int = 1, **objectives) -> CycleGANTrainer:
    torch.manual_seed(0)
    g_ab, g_ba = ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1)
    d_a, d_b = patch_discriminator(ndf=4), patch_discriminator(ndf=4)
    data = [{"A": _images(2 * i), "B": -_images(2 * i + 1)} for i in range(iterations)]
    return adam_trainer((g_ab, g_ba, d_a, d_b), data, 2e-3, (ImagePool(0), ImagePool(0)), **objectives)


def _inverse(x: torch.Tensor) -> torch.Tensor:
    return -x


class TestObjectives(unittest.TestCase):
    def test_structure_terms_are_mind_between_each_translation_and_its_input(self):
        trainer = _trainer(lambda_structure=3.0)
        trainer.run()
        out = trainer.state.output
        mind = MINDLoss()
        self.assertAlmostEqual(
            float(out[CycleGANKeys.STRUCTURE_A2B]), 3.0 * float(mind(out["fake_b"], out["real_a"])), places=5
        )
        self.assertAlmostEqual(
            float(out[CycleGANKeys.STRUCTURE_B2A]), 3.0 * float(mind(out["fake_a"], out["real_b"])), places=5
        )
        self.assertNotIn(CycleGANKeys.PRIOR_A2B, out)
        self.assertEqual(set(trainer.loss_keys) & {k for k in CycleGANKeys if "prior" in k or "identity" in k}, set())

    def test_prior_terms_are_l1_to_the_prior_of_each_input(self):
        trainer = _trainer(lambda_prior=2.0, prior_ab=_inverse, prior_ba=lambda x: 0.5 * x)
        trainer.run()
        out = trainer.state.output
        expected_ab = 2.0 * (out["fake_b"] - _inverse(out["real_a"])).abs().mean()
        expected_ba = 2.0 * (out["fake_a"] - 0.5 * out["real_b"]).abs().mean()
        self.assertAlmostEqual(float(out[CycleGANKeys.PRIOR_A2B]), float(expected_ab), places=5)
        self.assertAlmostEqual(float(out[CycleGANKeys.PRIOR_B2A]), float(expected_ba), places=5)
        terms = [
            k for k in trainer.loss_keys if k not in (CycleGANKeys.G_LOSS, CycleGANKeys.D_LOSS, "loss_d_a", "loss_d_b")
        ]
        self.assertAlmostEqual(float(out[CycleGANKeys.G_LOSS]), sum(float(out[k]) for k in terms), places=4)

    def test_the_prior_pulls_the_generator_towards_it(self):
        held_out = _images(99, n=4)

        def distance(trainer: CycleGANTrainer) -> float:
            with torch.no_grad():
                return float((trainer.g_ab(held_out) - _inverse(held_out)).abs().mean())

        untrained = distance(_trainer())
        trainer = _trainer(iterations=60, lambda_cycle=0.0, lambda_prior=10.0, prior_ab=_inverse, prior_ba=_inverse)
        trainer.run()
        # an instance-norm generator cannot keep the absolute grey level of an image, so it only approaches -x
        self.assertLess(distance(trainer), 0.5 * untrained)

    def test_training_with_the_structure_loss_keeps_the_input_structures(self):
        held_out, mind = _images(99, n=4), MINDLoss()

        def structure_error(trainer: CycleGANTrainer) -> float:
            with torch.no_grad():
                return float(mind(trainer.g_ab(held_out), held_out))

        untrained = structure_error(_trainer())
        trainer = _trainer(iterations=60, lambda_structure=10.0, lambda_cycle=0.0)
        trainer.run()
        self.assertLess(structure_error(trainer), 0.5 * untrained)

    def test_prior_weight_needs_priors_and_weights_are_non_negative(self):
        with self.assertRaisesRegex(ValueError, "needs both prior_ab and prior_ba"):
            _trainer(lambda_prior=1.0, prior_ab=_inverse)
        with self.assertRaisesRegex(ValueError, "lambda_structure"):
            _trainer(lambda_structure=-1.0)


if __name__ == "__main__":
    unittest.main()
