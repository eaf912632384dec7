from __future__ import annotations

import math
import unittest

import torch
from ignite.engine import Events
from monai.engines.utils import IterationEvents
from parameterized import parameterized

from monai_cyclegan.bundle import place_network
from monai_cyclegan.engines import LOSS_KEYS, CycleGANEvents, CycleGANKeys, CycleGANTrainer, ImagePool
from monai_cyclegan.losses import AdversarialLoss
from monai_cyclegan.networks import UNetGenerator, patch_discriminator

SIZE = 32


def _snapshot(*nets: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for net in nets for p in net.parameters()]


def _changed(before: list[torch.Tensor], *nets: torch.nn.Module) -> bool:
    after = [p.detach() for net in nets for p in net.parameters()]
    return any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def _smooth_images(n: int = 2) -> torch.Tensor:
    """Smooth random images in [-1, 1] (low-resolution noise upsampled): structure a generator can learn."""
    coarse = torch.rand(n, 1, SIZE // 8, SIZE // 8) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def _trainer(
    lambda_identity: float = 0.5,
    gan_mode: str = "lsgan",
    iterations: int = 1,
    amp: bool = False,
    amp_dtype: torch.dtype = torch.bfloat16,
    data: list[dict[str, torch.Tensor]] | None = None,
    lr: float = 2e-3,
    fused: bool = False,
    set_to_none: bool = False,
    **placement,
):
    """A tiny CycleGAN trainer on CPU over ``data`` (``iterations`` batches of smooth images by default).

    ``placement``: the speed options of :func:`~monai_cyclegan.bundle.place_network` (channels-last, compile).
    """
    torch.manual_seed(0)
    g_ab, g_ba = UNetGenerator(image_size=SIZE, ngf=4), UNetGenerator(image_size=SIZE, ngf=4)
    d_a, d_b = patch_discriminator(ndf=4), patch_discriminator(ndf=4)
    for network in (g_ab, g_ba, d_a, d_b):
        place_network(network, "cpu", **placement)
    g_opt = torch.optim.Adam(list(g_ab.parameters()) + list(g_ba.parameters()), lr=lr, betas=(0.5, 0.999), fused=fused)
    d_opt = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=lr, betas=(0.5, 0.999), fused=fused)
    if data is None:
        data = [{"A": _smooth_images(), "B": -_smooth_images()} for _ in range(iterations)]
    trainer = CycleGANTrainer(
        device="cpu",
        max_epochs=1,
        train_data_loader=data,
        g_ab=g_ab,
        g_ba=g_ba,
        d_a=d_a,
        d_b=d_b,
        g_optimizer=g_opt,
        d_optimizer=d_opt,
        adversarial_loss=AdversarialLoss(gan_mode),
        lambda_identity=lambda_identity,
        pool_a=ImagePool(4),
        pool_b=ImagePool(4),
        amp=amp,
        amp_kwargs={"dtype": amp_dtype} if amp else None,
        optim_set_to_none=set_to_none,
    )
    return trainer, (g_ab, g_ba), (d_a, d_b)


class TestCycleGANTrainer(unittest.TestCase):
    def test_g_step_updates_only_generators_and_d_step_only_discriminators(self):
        trainer, gens, discs = _trainer()
        seen = {}

        @trainer.on(Events.ITERATION_STARTED)
        def _start(engine):
            seen["g0"], seen["d0"] = _snapshot(*gens), _snapshot(*discs)

        @trainer.on(CycleGANEvents.GENERATOR_COMPLETED)
        def _after_g(engine):
            seen["g_changed_in_g"] = _changed(seen["g0"], *gens)
            seen["d_changed_in_g"] = _changed(seen["d0"], *discs)
            seen["d_grads_in_g"] = any(p.grad is not None for d in discs for p in d.parameters())
            seen["g1"], seen["d1"] = _snapshot(*gens), _snapshot(*discs)

        @trainer.on(CycleGANEvents.DISCRIMINATOR_COMPLETED)
        def _after_d(engine):
            seen["g_changed_in_d"] = _changed(seen["g1"], *gens)
            seen["d_changed_in_d"] = _changed(seen["d1"], *discs)

        trainer.run()
        self.assertTrue(seen["g_changed_in_g"])
        self.assertFalse(seen["d_changed_in_g"])
        self.assertFalse(seen["d_grads_in_g"])  # frozen discriminators receive no gradient in the G step
        self.assertFalse(seen["g_changed_in_d"])
        self.assertTrue(seen["d_changed_in_d"])
        self.assertTrue(all(p.requires_grad for d in discs for p in d.parameters()))

    def test_skip_update_at_the_generator_loss_leaves_every_network_as_it_was(self):
        trainer, gens, discs = _trainer()
        before = _snapshot(*gens, *discs)
        trainer.add_event_handler(CycleGANEvents.GENERATOR_LOSS_COMPLETED, lambda engine: engine.skip_update())
        trainer.run()
        self.assertFalse(_changed(before, *gens, *discs))
        self.assertTrue(trainer.state.output[CycleGANKeys.SKIPPED])
        self.assertNotIn(CycleGANKeys.D_LOSS, trainer.state.output)

    def test_skip_update_at_the_discriminator_loss_skips_only_the_discriminator_step(self):
        trainer, gens, discs = _trainer(iterations=2)
        g_before, d_before = _snapshot(*gens), _snapshot(*discs)
        trainer.add_event_handler(CycleGANEvents.DISCRIMINATOR_LOSS_COMPLETED, lambda engine: engine.skip_update())
        trainer.run()
        self.assertTrue(_changed(g_before, *gens))
        self.assertFalse(_changed(d_before, *discs))
        self.assertTrue(trainer.state.output[CycleGANKeys.SKIPPED])

    @parameterized.expand([("lsgan",), ("bce",)])
    def test_output_losses_finite(self, gan_mode):
        trainer, _, _ = _trainer(gan_mode=gan_mode)
        trainer.run()
        out = trainer.state.output
        self.assertEqual(set(trainer.loss_keys), {k for k in set(out) if k in LOSS_KEYS})
        for key in trainer.loss_keys:
            self.assertTrue(torch.isfinite(out[key]), key)
        expected_g = sum(float(out[k]) for k in trainer.loss_keys if k not in ("loss_g", "loss_d"))
        expected_g -= float(out[CycleGANKeys.D_A]) + float(out[CycleGANKeys.D_B])
        self.assertAlmostEqual(float(out[CycleGANKeys.G_LOSS]), expected_g, places=4)
        self.assertEqual(out[CycleGANKeys.FAKE_B].shape, (2, 1, SIZE, SIZE))

    def test_events_order_and_model_completed(self):
        trainer, _, _ = _trainer()
        fired = []
        for event in [*CycleGANEvents, IterationEvents.MODEL_COMPLETED]:
            trainer.add_event_handler(event, lambda e, ev=event: fired.append(ev))
        trainer.run()
        self.assertEqual(
            fired,
            [
                CycleGANEvents.GENERATOR_LOSS_COMPLETED,
                CycleGANEvents.GENERATOR_COMPLETED,
                CycleGANEvents.DISCRIMINATOR_LOSS_COMPLETED,
                CycleGANEvents.DISCRIMINATOR_COMPLETED,
                IterationEvents.MODEL_COMPLETED,
            ],
        )

    def test_no_identity_terms_when_weight_zero(self):
        trainer, _, _ = _trainer(lambda_identity=0.0)
        trainer.run()
        self.assertNotIn(CycleGANKeys.IDENTITY_A2B, trainer.state.output)
        self.assertNotIn(CycleGANKeys.IDENTITY_B2A, trainer.state.output)

    @parameterized.expand(
        [
            ("fp32", {}),
            ("bf16_autocast", {"amp": True}),
            # float16 with one grad scaler per optimizer, CUDA's default mixed precision, run here on the CPU
            ("fp16_autocast_grad_scalers", {"amp": True, "amp_dtype": torch.float16}),
            ("fused_adam_grads_set_to_none", {"fused": True, "set_to_none": True}),
            ("channels_last", {"channels_last": True}),
            # the bundle's compile option with a backend that compiles in seconds (inductor: a minute on 2 CPU cores)
            ("torch_compile", {"compile": True, "compile_backend": "aot_eager"}),
        ]
    )
    def test_cycle_loss_decreases(self, _, speed_options):
        """Every speed option of the bundle keeps training working: finite losses that fall, and a translation.

        Domain A holds dark images (in [-1, 0]), domain B bright ones drawn from other images (unpaired). The smooth
        images are symmetric about 0, so B = -A and B = A + 1 are both answers of this task (100 updates find the
        second). A pair of generators that copy their input also drives the cycle loss to zero, but stays 1 from the
        nearest answer; one that outputs mid-grey stays 0.5 from it. Only a translation into B comes within 0.25.
        """
        torch.manual_seed(1)
        data = [{"A": (_smooth_images() - 1) / 2, "B": (_smooth_images() + 1) / 2} for _ in range(100)]
        held_out = (_smooth_images(8) - 1) / 2
        trainer, (g_ab, _), _ = _trainer(data=data, **speed_options)
        cycle = []
        trainer.add_event_handler(
            Events.ITERATION_COMPLETED, lambda e: cycle.append(float(e.state.output[CycleGANKeys.CYCLE_A]))
        )
        trainer.run()
        self.assertTrue(all(math.isfinite(c) for c in cycle))
        self.assertLess(sum(cycle[-10:]) / 10, 0.5 * sum(cycle[:10]) / 10)
        with torch.no_grad():
            translated = g_ab(held_out).float()
        answers = (-held_out, held_out + 1)
        error = min(float((translated - answer).abs().mean()) for answer in answers)
        copying = min(float((held_out - answer).abs().mean()) for answer in answers)
        self.assertLess(error, 0.25 * copying)

    def test_bf16_autocast_runs(self):
        trainer, _, _ = _trainer(amp=True)
        trainer.run()
        self.assertTrue(torch.isfinite(trainer.state.output[CycleGANKeys.G_LOSS]))
        self.assertFalse(trainer.g_scaler.is_enabled())  # bf16 needs no loss scaling

    def test_negative_weight_rejected(self):
        with self.assertRaises(ValueError):
            _trainer(lambda_identity=-1)


if __name__ == "__main__":
    unittest.main()
