from __future__ import annotations

import math
import unittest
from typing import Any

import torch
from ignite.engine import Events
from monai.engines.utils import IterationEvents
from parameterized import parameterized

from monai_cyclegan.bundle import place_network
from monai_cyclegan.engines import (
    LOSS_KEYS,
    CycleGANEvents,
    CycleGANKeys,
    CycleGANTrainer,
    ImagePool,
    losses_from_output,
    progress_losses,
)
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
    options: dict[str, Any] | None = None,
    **placement,
):
    """A tiny CycleGAN trainer on CPU over ``data`` (``iterations`` batches of smooth images by default).

    ``placement``: the speed options of :func:`~monai_cyclegan.bundle.place_network` (channels-last, compile);
    ``options``: more arguments of the trainer.
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
    arguments = {
        "device": "cpu",
        "max_epochs": 1,
        "train_data_loader": data,
        "g_ab": g_ab,
        "g_ba": g_ba,
        "d_a": d_a,
        "d_b": d_b,
        "g_optimizer": g_opt,
        "d_optimizer": d_opt,
        "adversarial_loss": AdversarialLoss(gan_mode),
        "lambda_identity": lambda_identity,
        "pool_a": ImagePool(4),
        "pool_b": ImagePool(4),
        "amp": amp,
        "amp_kwargs": {"dtype": amp_dtype} if amp else None,
        "optim_set_to_none": set_to_none,
    }
    trainer = CycleGANTrainer(**{**arguments, **(options or {})})
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


class TestTrainerPassesItsOptions(unittest.TestCase):
    """What the trainer hands to the components it receives, seen by recording their calls."""

    def test_batch_preparation_gets_the_device_and_the_tensor_options(self):
        calls = []

        def prepare(batch, device, non_blocking, **kwargs):
            calls.append((device, non_blocking, kwargs))
            return batch["A"], batch["B"]

        to_kwargs = {"memory_format": torch.contiguous_format}
        options = {"prepare_batch": prepare, "non_blocking": True, "to_kwargs": to_kwargs}
        _trainer(options=options)[0].run()
        self.assertEqual(calls, [(torch.device("cpu"), True, to_kwargs)])

    def test_gradients_are_reset_as_asked(self):
        for set_to_none in (True, False):
            trainer, _, _ = _trainer(set_to_none=set_to_none)
            calls = []
            for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
                reset = optimizer.zero_grad
                optimizer.zero_grad = lambda set_to_none, reset=reset, calls=calls: (
                    calls.append(set_to_none) or reset(set_to_none)
                )
            trainer.run()
            self.assertEqual(len(calls), 2)
            self.assertTrue(all(call is set_to_none for call in calls), calls)

    def test_without_identity_loss_the_generators_see_only_their_translation_inputs(self):
        batches = []
        trainer, (g_ab, g_ba), _ = _trainer(lambda_identity=0.0)
        for generator in (g_ab, g_ba):
            generator.register_forward_pre_hook(lambda _, args: batches.append(args[0].shape[0]))
        trainer.run()
        self.assertEqual(batches, [2, 2, 2, 2])  # G_AB(a), G_BA(b), then the reconstructions; no identity inputs

    def test_adversarial_targets(self):
        targets = []
        lsgan = AdversarialLoss("lsgan")

        def adversarial(logits, target_is_real):
            targets.append(target_is_real)
            return lsgan(logits, target_is_real)

        _trainer(options={"adversarial_loss": adversarial})[0].run()
        # G step: each fake judged as real; D step (d_b, then d_a): real as real, pooled fakes as fake
        self.assertEqual([repr(t) for t in targets], ["True", "True", "True", "False", "True", "False"])

    def test_precision_follows_amp(self):
        for amp, dtype, expected in ((False, torch.bfloat16, torch.float32), (True, torch.float16, torch.float16)):
            trainer, _, _ = _trainer(amp=amp, amp_dtype=dtype)
            trainer.run()
            self.assertEqual(trainer.state.output[CycleGANKeys.FAKE_B].dtype, expected, amp)

    def test_a_missing_batch_is_refused(self):
        trainer, _, _ = _trainer()
        with self.assertRaisesRegex(ValueError, r"^Must provide batch data for current iteration\.$"):
            trainer._iteration(trainer, None)


class TestConstruction(unittest.TestCase):
    def _networks(self) -> dict[str, Any]:
        torch.manual_seed(0)
        g_ab, g_ba = UNetGenerator(image_size=SIZE, ngf=4), UNetGenerator(image_size=SIZE, ngf=4)
        d_a, d_b = patch_discriminator(ndf=4), patch_discriminator(ndf=4)
        return {
            "g_ab": g_ab,
            "g_ba": g_ba,
            "d_a": d_a,
            "d_b": d_b,
            "g_optimizer": torch.optim.SGD([*g_ab.parameters(), *g_ba.parameters()], lr=0.0),
            "d_optimizer": torch.optim.SGD([*d_a.parameters(), *d_b.parameters()], lr=0.0),
        }

    def test_defaults_are_cyclegans(self):
        trainer = CycleGANTrainer("cpu", 1, [], **self._networks())
        self.assertEqual((trainer.lambda_cycle, trainer.lambda_identity), (10.0, 0.5))  # the design card's
        self.assertEqual((trainer.lambda_structure, trainer.lambda_prior), (0.0, 0.0))  # the fidelity terms off
        self.assertEqual((trainer.non_blocking, trainer.use_amp, trainer.optim_set_to_none), (False, False, False))

    def test_denormal_floats_are_flushed_on_the_cpu_unless_asked_not_to(self):
        try:
            for flush in (True, False):
                torch.set_flush_denormal(False)
                denormal = torch.tensor([1e-39])  # below float32's smallest normal (made while it is kept)
                data = [{"A": _smooth_images(), "B": _smooth_images()}]
                option = {} if flush else {"flush_denormal": False}  # flushing is the default
                CycleGANTrainer("cpu", 1, data, **option, **self._networks()).run()
                self.assertEqual(float(denormal * 1.0) == 0.0, flush)
        finally:
            torch.set_flush_denormal(True)  # what every training run of this process sets anyway

    def test_monai_s_own_amp_scaler_stays_off(self):
        data = [{"A": _smooth_images(), "B": _smooth_images()}]
        trainer = CycleGANTrainer("cpu", 1, data, amp=True, **self._networks())
        trainer.run()
        self.assertIsNone(trainer.scaler)  # MONAI's deprecated CUDA scaler; the trainer keeps two of its own

    def test_grad_scalers_only_for_float16(self):
        cases = [({"dtype": torch.float16}, True), ({"dtype": torch.bfloat16}, False), (None, False)]
        for amp_kwargs, scaling in cases:
            trainer = CycleGANTrainer("cpu", 1, [], amp=True, amp_kwargs=amp_kwargs, **self._networks())
            for scaler in (trainer.g_scaler, trainer.d_scaler):
                self.assertEqual((scaler.is_enabled(), scaler._device), (scaling, "cpu"), amp_kwargs)
        default = torch.get_autocast_dtype("cpu")
        try:  # without a dtype, autocast's default for the device decides (float16 on CUDA)
            torch.set_autocast_dtype("cpu", torch.float16)
            trainer = CycleGANTrainer("cpu", 1, [], amp=True, **self._networks())
            self.assertTrue(trainer.g_scaler.is_enabled() and trainer.d_scaler.is_enabled())
        finally:
            torch.set_autocast_dtype("cpu", default)

    def test_workflow_options_take_effect(self):
        """Handlers, metrics and their comparison, post-processing, decollation and custom events reach MONAI."""
        from ignite.engine import EventEnum
        from ignite.metrics import Average

        class Custom(EventEnum):
            TICK = "tick"

        class Handler:
            def attach(self, engine):
                engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: e.fire_event(Custom.TICK))

        compared, processed, ticks = [], [], []
        data = [{"A": _smooth_images(), "B": _smooth_images()}]
        trainer = CycleGANTrainer(
            "cpu",
            2,
            data,
            train_handlers=[Handler()],
            key_train_metric={"g": Average(output_transform=lambda out: out[0][CycleGANKeys.G_LOSS])},
            additional_metrics={"d": Average(output_transform=lambda out: out[0][CycleGANKeys.D_LOSS])},
            metric_cmp_fn=lambda current, best: compared.append((current, best)) or True,
            postprocessing=lambda item: processed.append(sorted(item)) or item,
            decollate=True,
            event_names=[Custom],
            event_to_attr={Custom.TICK: "ticks"},
            **self._networks(),
        )
        trainer.add_event_handler(Custom.TICK, lambda _: ticks.append(1))
        trainer.run()
        self.assertEqual(set(trainer.state.metrics), {"g", "d"})
        self.assertEqual(len(compared), 1)  # at the second epoch, against the first
        self.assertIsInstance(trainer.state.output, list)  # decollated: one dictionary per image
        self.assertEqual(len(trainer.state.output), 2)
        self.assertIn(CycleGANKeys.FAKE_B.value, processed[0])
        self.assertEqual(len(ticks), 2)  # the handler attached, the custom event registered
        self.assertEqual(trainer.state.ticks, 0)  # and its state attribute (which event filters read)

    def test_custom_cycle_and_identity_losses_are_used(self):
        calls = []

        def recording(name):
            return lambda x, y: calls.append(name) or (x - y).abs().mean()

        networks = self._networks()
        data = [{"A": _smooth_images(), "B": _smooth_images()}]
        trainer = CycleGANTrainer(
            "cpu", 1, data, cycle_loss=recording("cycle"), identity_loss=recording("identity"), **networks
        )
        trainer.run()
        self.assertEqual(sorted(calls), ["cycle", "cycle", "identity", "identity"])

    def test_epochs_epoch_length_and_iteration_update_are_used(self):
        data = [{"A": _smooth_images(), "B": _smooth_images()} for _ in range(3)]
        iterations = []
        trainer = CycleGANTrainer(
            "cpu",
            2,
            data,
            epoch_length=2,
            iteration_update=lambda engine, batch: iterations.append(engine.state.iteration),
            **self._networks(),
        )
        trainer.run()
        self.assertEqual((trainer.state.epoch, iterations), (2, [1, 2, 3, 4]))

    def test_invalid_weights_are_named(self):
        for name in ("lambda_cycle", "lambda_identity", "lambda_structure", "lambda_prior"):
            with self.assertRaisesRegex(ValueError, rf"^Loss weights must be >= 0, got \{{'{name}': -1\}}\.$"):
                CycleGANTrainer("cpu", 1, [], **{name: -1}, **self._networks())
        message = r"^lambda_prior > 0 needs both prior_ab and prior_ba \(the non-learned translations\)\.$"
        with self.assertRaisesRegex(ValueError, message):
            CycleGANTrainer("cpu", 1, [], lambda_prior=1.0, prior_ab=torch.nn.Identity(), **self._networks())


class TestLossReadouts(unittest.TestCase):
    def test_losses_from_output(self):
        output = {"loss_g": torch.tensor(1.5), "loss_d_a": 2, "real_a": torch.zeros(1), "skipped": True}
        self.assertEqual(losses_from_output(output), {"loss_g": 1.5, "loss_d_a": 2.0})
        self.assertTrue(all(type(v) is float for v in losses_from_output(output).values()))

    def test_progress_losses(self):
        self.assertEqual(
            progress_losses({"loss_g": torch.tensor(1.25), "loss_d": torch.tensor(0.5)}), {"G": 1.25, "D": 0.5}
        )
        self.assertEqual(progress_losses({"loss_g": torch.tensor(3.0), "skipped": True}), {"G": 3.0})


if __name__ == "__main__":
    unittest.main()
