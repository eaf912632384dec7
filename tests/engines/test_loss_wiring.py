"""Loss wiring of :class:`CycleGANTrainer`, recomputed term by term outside the trainer.

One iteration runs on a fixed float64 batch with small deterministic networks and plain SGD (lr 1, so that a weight's
change is minus its gradient). Every loss term of the output dictionary is compared with the same term written out
here (which generator, which discriminator, which real, fake or pooled tensor, which target, which weight), and the
weight changes of both steps with the gradients of the totals written out here.

A new objective of the trainer adds its term to :func:`expected_generator_terms` (or
:func:`expected_discriminator_terms`) under its output key; every test below then checks it.

``python tests/engines/test_loss_wiring.py --mutants`` runs the tests of this file against single-line faults of the
trainer (applied to a copy of its source, never to the file) and prints which tests catch each fault.
"""

from __future__ import annotations

import copy
import sys
import types
import unittest
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from parameterized import parameterized
from torch import nn

from monai_cyclegan.engines import CycleGANKeys, ImagePool, cyclegan_trainer
from monai_cyclegan.losses import AdversarialLoss
from monai_cyclegan.networks import UNetGenerator, patch_discriminator

SIZE = 32
BATCH = 2
NETWORK_NAMES = ("g_ab", "g_ba", "d_a", "d_b")
G_TOTAL_KEYS = (CycleGANKeys.G_LOSS,)
D_TERM_KEYS = (CycleGANKeys.D_A, CycleGANKeys.D_B)

# Float64 values of one iteration, computed twice in different batchings: only rounding separates them.
TERM_TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
# The trainer sums its terms in float32 (for mixed precision), and computes the prior terms from float32 translations:
# these are float32 roundings.
FLOAT32_TOLERANCE = {"rtol": 1e-6, "atol": 1e-7}
FLOAT32_KEYS = (CycleGANKeys.G_LOSS, CycleGANKeys.D_LOSS, CycleGANKeys.PRIOR_A2B, CycleGANKeys.PRIOR_B2A)


@dataclass(frozen=True)
class Objective:
    """The loss settings of one wiring check."""

    gan_mode: str = "lsgan"
    lambda_cycle: float = 7.0
    # neither 0 nor 1, so that a weight of lambda_cycle alone (identity weight ignored) shows
    lambda_identity: float = 0.3
    # the optional objectives of the fidelity work (0: left out); checked below 1 too, so that a term switched on
    # only by a weight above 1 shows
    lambda_structure: float = 0.0
    lambda_prior: float = 0.0


@dataclass
class Networks:
    """The four networks of a CycleGAN."""

    g_ab: nn.Module
    g_ba: nn.Module
    d_a: nn.Module
    d_b: nn.Module

    def copy(self) -> Networks:
        return Networks(*(copy.deepcopy(getattr(self, name)) for name in NETWORK_NAMES))

    def generators(self) -> list[nn.Module]:
        return [self.g_ab, self.g_ba]

    def discriminators(self) -> list[nn.Module]:
        return [self.d_a, self.d_b]


def _logits(prediction: Any) -> torch.Tensor:
    # MONAI's PatchDiscriminator returns its feature maps with the logits last
    return prediction[-1] if isinstance(prediction, (list, tuple)) else prediction


def _adversarial(prediction: Any, real: bool, gan_mode: str) -> torch.Tensor:
    """LSGAN or BCE-with-logits against the all-real (1) or all-fake (0) target, written out."""
    logits = _logits(prediction)
    target = 1.0 if real else 0.0
    if gan_mode == "lsgan":
        return ((logits - target) ** 2).mean()
    return (F.softplus(logits) - target * logits).mean()


def _l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).abs().mean()


def _structure(translation: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """A stand-in structure loss, asymmetric in its arguments so that swapped or wrong images show."""
    return ((translation - 0.5 * source) ** 2).mean()


def _prior_ab(x: torch.Tensor) -> torch.Tensor:
    """A stand-in non-learned translation A -> B."""
    return -0.8 * x


def _prior_ba(x: torch.Tensor) -> torch.Tensor:
    """A stand-in non-learned translation B -> A, unlike the A -> B one."""
    return 0.5 * x + 0.1


def expected_images(nets: Networks, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
    """The translations and reconstructions of the G step: ``fake_b = G_AB(a)``, ``rec_a = G_BA(fake_b)``, and back."""
    fake_b, fake_a = nets.g_ab(real_a), nets.g_ba(real_b)
    return {
        CycleGANKeys.FAKE_B: fake_b,
        CycleGANKeys.REC_A: nets.g_ba(fake_b),
        CycleGANKeys.FAKE_A: fake_a,
        CycleGANKeys.REC_B: nets.g_ab(fake_a),
    }


def expected_generator_terms(
    nets: Networks, real_a: torch.Tensor, real_b: torch.Tensor, objective: Objective
) -> dict[str, torch.Tensor]:
    """Every term of the generator loss, each from its own forward passes, keyed as in the trainer's output."""
    images = expected_images(nets, real_a, real_b)
    fake_b, fake_a = images[CycleGANKeys.FAKE_B], images[CycleGANKeys.FAKE_A]
    terms = {
        # each fake is judged by the discriminator of the domain it imitates, against the "real" target
        CycleGANKeys.G_ADV_A2B: _adversarial(nets.d_b(fake_b), True, objective.gan_mode),
        CycleGANKeys.G_ADV_B2A: _adversarial(nets.d_a(fake_a), True, objective.gan_mode),
        # A -> B -> A returns to real A, B -> A -> B to real B
        CycleGANKeys.CYCLE_A: objective.lambda_cycle * _l1(images[CycleGANKeys.REC_A], real_a),
        CycleGANKeys.CYCLE_B: objective.lambda_cycle * _l1(images[CycleGANKeys.REC_B], real_b),
    }
    if objective.lambda_identity > 0:
        # a generator fed an image of its own output domain should leave it alone
        weight = objective.lambda_cycle * objective.lambda_identity
        terms[CycleGANKeys.IDENTITY_A2B] = weight * _l1(nets.g_ab(real_b), real_b)
        terms[CycleGANKeys.IDENTITY_B2A] = weight * _l1(nets.g_ba(real_a), real_a)
    if objective.lambda_structure > 0:
        # each translation keeps the structure of its own input
        terms[CycleGANKeys.STRUCTURE_A2B] = objective.lambda_structure * _structure(fake_b, real_a)
        terms[CycleGANKeys.STRUCTURE_B2A] = objective.lambda_structure * _structure(fake_a, real_b)
    if objective.lambda_prior > 0:
        # each translation is pulled towards the non-learned translation of its own input
        terms[CycleGANKeys.PRIOR_A2B] = objective.lambda_prior * _l1(fake_b, _prior_ab(real_a))
        terms[CycleGANKeys.PRIOR_B2A] = objective.lambda_prior * _l1(fake_a, _prior_ba(real_b))
    return terms


def expected_discriminator_terms(
    nets: Networks,
    real_a: torch.Tensor,
    real_b: torch.Tensor,
    pooled_a: torch.Tensor,
    pooled_b: torch.Tensor,
    objective: Objective,
) -> dict[str, torch.Tensor]:
    """Each discriminator's loss: half of (its real images against "real" + the pooled fakes against "fake")."""

    def half(d: nn.Module, real: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        return 0.5 * (
            _adversarial(d(real), True, objective.gan_mode) + _adversarial(d(pooled), False, objective.gan_mode)
        )

    return {CycleGANKeys.D_A: half(nets.d_a, real_a, pooled_a), CycleGANKeys.D_B: half(nets.d_b, real_b, pooled_b)}


class _TinyGenerator(nn.Module):
    """Two 3x3 convolutions with a Tanh between and after: a nonlinear map, no normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 1, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _tiny_discriminator() -> nn.Module:
    """A strided convolution and a 3x3 one: a tensor of patch logits (not a list, unlike the package's)."""
    return nn.Sequential(nn.Conv2d(1, 2, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(2, 1, 3, padding=1))


NETWORK_FAMILIES: dict[str, tuple[Callable[[], nn.Module], Callable[[], nn.Module]]] = {
    "tiny": (_TinyGenerator, _tiny_discriminator),
    # the package's U-Net generator and PatchGAN (instance norm; logits last of a list)
    "package": (lambda: UNetGenerator(image_size=SIZE, ngf=4), lambda: patch_discriminator(ndf=4)),
}


def _networks(family: str) -> Networks:
    """Four float64 networks of ``family``, each from its own seed, so that no two compute the same function."""
    make_g, make_d = NETWORK_FAMILIES[family]
    nets = []
    for seed, make in enumerate((make_g, make_g, make_d, make_d)):
        torch.manual_seed(100 + seed)
        nets.append(make().double())
    return Networks(*nets)


def _images(seed: int, n: int = BATCH) -> torch.Tensor:
    """Smooth float64 images in [-1, 1] from ``seed``."""
    coarse = torch.rand(n, 1, SIZE // 4, SIZE // 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return F.interpolate(coarse * 2 - 1, size=(SIZE, SIZE), mode="bilinear", align_corners=False)


def _full_pool(seed: int) -> ImagePool:
    """A pool already full of old fakes (seeded), so that ``query`` swaps some of them in."""
    pool = ImagePool(pool_size=BATCH, seed=seed)
    pool.query(_images(seed + 50))
    return pool


@dataclass
class IterationRecord:
    """What one trainer iteration did: the networks before it, after its G step and after it, and its output."""

    before: Networks
    after_g: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    after: Networks | None = None
    output: dict[str, Any] = field(default_factory=dict)
    # the pools as they were before the iteration (None when the trainer runs without pools)
    pools_before: tuple[ImagePool | None, ImagePool | None] = (None, None)


def _parameters(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _close(
    test: unittest.TestCase, actual: torch.Tensor, expected: torch.Tensor, what: str, **tolerance: float
) -> None:
    with test.subTest(what):
        torch.testing.assert_close(
            actual.to(torch.float64), expected.detach().to(torch.float64), msg=lambda m: f"{what}: {m}", **tolerance
        )


class TestLossWiring(unittest.TestCase):
    """Term-by-term comparison of one trainer iteration with the losses written out above."""

    # the module whose CycleGANTrainer is checked; the mutant run (see the bottom of this file) swaps it
    trainer_module: types.ModuleType = cyclegan_trainer

    def _iterate(self, family: str, objective: Objective, pools: bool = True) -> IterationRecord:
        """One iteration of the trainer on a fixed batch, with SGD at lr 1 for both optimizers."""
        nets = _networks(family)
        record = IterationRecord(before=nets.copy())
        pool_a, pool_b = (_full_pool(1), _full_pool(2)) if pools else (None, None)
        record.pools_before = (copy.deepcopy(pool_a), copy.deepcopy(pool_b))
        module = self.trainer_module
        trainer = module.CycleGANTrainer(
            device="cpu",
            max_epochs=1,
            train_data_loader=[{"A": _images(10), "B": _images(20)}],
            g_ab=nets.g_ab,
            g_ba=nets.g_ba,
            d_a=nets.d_a,
            d_b=nets.d_b,
            g_optimizer=torch.optim.SGD([p for g in nets.generators() for p in g.parameters()], lr=1.0),
            d_optimizer=torch.optim.SGD([p for d in nets.discriminators() for p in d.parameters()], lr=1.0),
            adversarial_loss=AdversarialLoss(objective.gan_mode),
            lambda_cycle=objective.lambda_cycle,
            lambda_identity=objective.lambda_identity,
            structure_loss=_structure,
            lambda_structure=objective.lambda_structure,
            prior_ab=_prior_ab,
            prior_ba=_prior_ba,
            lambda_prior=objective.lambda_prior,
            pool_a=pool_a,
            pool_b=pool_b,
            flush_denormal=False,  # a process-wide switch: keep float64 arithmetic exactly as written
        )

        @trainer.on(module.CycleGANEvents.GENERATOR_COMPLETED)
        def _after_g(_: Any) -> None:
            record.after_g = {name: _parameters(getattr(nets, name)) for name in NETWORK_NAMES}

        trainer.run()
        record.after = nets
        record.output = trainer.state.output
        return record

    def _pooled(self, record: IterationRecord) -> tuple[torch.Tensor, torch.Tensor]:
        """The fakes each discriminator should see: the new fakes passed through a copy of its pool."""
        out = record.output
        fake_a, fake_b = out[CycleGANKeys.FAKE_A], out[CycleGANKeys.FAKE_B]
        pool_a, pool_b = (copy.deepcopy(p) for p in record.pools_before)
        pooled_a = fake_a if pool_a is None else pool_a.query(fake_a)
        pooled_b = fake_b if pool_b is None else pool_b.query(fake_b)
        if pool_a is not None:
            # the pools' seeds are chosen so that history is swapped in: a bypassed pool then changes the D losses
            self.assertFalse(torch.equal(pooled_a, fake_a))
            self.assertFalse(torch.equal(pooled_b, fake_b))
        return pooled_a, pooled_b

    def _expected(self, record: IterationRecord, objective: Objective) -> dict[str, torch.Tensor]:
        out, nets = record.output, record.before
        real_a, real_b = out[CycleGANKeys.REAL_A], out[CycleGANKeys.REAL_B]
        expected = expected_generator_terms(nets, real_a, real_b, objective)
        expected[CycleGANKeys.G_LOSS] = torch.stack(list(expected.values())).sum()
        d_terms = expected_discriminator_terms(nets, real_a, real_b, *self._pooled(record), objective)
        expected.update(d_terms)
        expected[CycleGANKeys.D_LOSS] = sum(d_terms.values())
        return expected

    def _assert_terms(self, family: str, objective: Objective, pools: bool = True) -> None:
        record = self._iterate(family, objective, pools)
        expected = self._expected(record, objective)
        reported = {k for k in record.output if str(k).startswith("loss_")}
        self.assertEqual(reported, set(expected))  # no term missing, none unexplained
        for key, value in expected.items():
            tolerance = FLOAT32_TOLERANCE if key in FLOAT32_KEYS else TERM_TOLERANCE
            _close(self, record.output[key], value, str(key), **tolerance)
        out = record.output
        images = expected_images(record.before, out[CycleGANKeys.REAL_A], out[CycleGANKeys.REAL_B])
        for key, value in images.items():
            _close(self, out[key], value, str(key), **TERM_TOLERANCE)

    @parameterized.expand(
        [
            ("tiny_lsgan", "tiny", Objective()),
            ("tiny_bce", "tiny", Objective(gan_mode="bce")),
            ("tiny_no_identity", "tiny", Objective(lambda_cycle=3.0, lambda_identity=0.0)),
            ("tiny_structure_and_prior", "tiny", Objective(lambda_structure=0.4, lambda_prior=0.6)),
            ("package_lsgan", "package", Objective()),
            (
                "package_bce_reference_weights",
                "package",
                Objective(gan_mode="bce", lambda_cycle=10.0, lambda_identity=0.5),
            ),
        ]
    )
    def test_every_loss_term_matches_its_definition(self, _: str, family: str, objective: Objective) -> None:
        self._assert_terms(family, objective)

    @parameterized.expand([("tiny", "tiny"), ("package", "package")])
    def test_discriminators_see_the_latest_fakes_without_pools(self, _: str, family: str) -> None:
        self._assert_terms(family, Objective(), pools=False)

    def _assert_step(self, family: str, objective: Objective, step: str) -> None:
        """A step with SGD at lr 1 moves its networks by minus the gradient of its total, and no other network."""
        record = self._iterate(family, objective)
        expected = self._expected(record, objective)
        before = {name: _parameters(getattr(record.before, name)) for name in NETWORK_NAMES}
        after = {name: _parameters(getattr(record.after, name)) for name in NETWORK_NAMES}
        if step == "G":
            begin, end, total = before, record.after_g, expected[CycleGANKeys.G_LOSS]
            stepped, frozen = ("g_ab", "g_ba"), ("d_a", "d_b")
        else:
            begin, end, total = record.after_g, after, expected[CycleGANKeys.D_LOSS]
            stepped, frozen = ("d_a", "d_b"), ("g_ab", "g_ba")
        for name in stepped:
            # the D weights are the same before both steps (checked below), so one graph serves both totals
            params = list(getattr(record.before, name).parameters())
            grads = torch.autograd.grad(total, params, retain_graph=True, allow_unused=True)
            for i, (b, e, g) in enumerate(zip(begin[name], end[name], grads, strict=True)):
                self.assertIsNotNone(g, f"{name} parameter {i} gets no gradient from the {step} total")
                _close(self, b - e, g, f"{step} step, {name} parameter {i}", rtol=1e-7, atol=1e-12)
        # the other pair of networks keeps every weight exactly
        for name in frozen:
            for i, (b, e) in enumerate(zip(begin[name], end[name], strict=True)):
                self.assertTrue(torch.equal(b, e), f"the {step} step changed {name} parameter {i}")

    @parameterized.expand(
        [
            ("tiny", "tiny", Objective()),
            ("package", "package", Objective()),
            ("tiny_structure_and_prior", "tiny", Objective(lambda_structure=0.4, lambda_prior=0.6)),
        ]
    )
    def test_generator_step_follows_the_gradient_of_the_generator_total(
        self, _: str, family: str, objective: Objective
    ) -> None:
        self._assert_step(family, objective, "G")

    @parameterized.expand([("tiny", "tiny"), ("package", "package")])
    def test_discriminator_step_follows_the_gradient_of_the_discriminator_total(self, _: str, family: str) -> None:
        self._assert_step(family, Objective(), "D")


# Single-line faults of the trainer: (name, text of the source, replacement). Each must make a test above fail.
MUTANTS: tuple[tuple[str, str, str], ...] = (
    (
        "identity A->B compared with real_a",
        "engine.identity_loss(out_ab[n_a:], real_b)",
        "engine.identity_loss(out_ab[n_a:], real_a)",
    ),
    (
        "fake_b judged by d_a",
        "engine.adversarial_loss(engine.d_b(fake_b), True)",
        "engine.adversarial_loss(engine.d_a(fake_b), True)",
    ),
    ("generator adversarial target flipped to fake", "engine.d_b(fake_b), True)", "engine.d_b(fake_b), False)"),
    ("cycle A compared with real_b", "engine.cycle_loss(rec_a, real_a)", "engine.cycle_loss(rec_a, real_b)"),
    ("D loss factor 0.5 removed", "return 0.5 * (", "return 1.0 * ("),
    (
        "pool bypassed",
        "pooled_b = fake_b.detach() if engine.pool_b is None else engine.pool_b.query(fake_b.detach())",
        "pooled_b = fake_b.detach()",
    ),
    (
        "lambda_identity ignored",
        "weight = engine.lambda_cycle * engine.lambda_identity",
        "weight = engine.lambda_cycle",
    ),
    ("cycle A reconstructed by g_ab", "rec_a = engine.g_ba(fake_b)", "rec_a = engine.g_ab(fake_b)"),
    (
        "D real images against the fake target",
        "self.adversarial_loss(logits[: real.shape[0]], True)",
        "self.adversarial_loss(logits[: real.shape[0]], False)",
    ),
    (
        "d_b scores real_a as its real images",
        "engine._discriminator_loss(engine.d_b, real_b, pooled_b)",
        "engine._discriminator_loss(engine.d_b, real_a, pooled_b)",
    ),
    (
        "one term left out of the generator total",
        "torch.stack([v.float() for v in losses.values()]).sum()",
        "torch.stack([v.float() for v in list(losses.values())[:-1]]).sum()",
    ),
    (
        "structure of fake_b compared with real_b",
        "engine.structure_loss(fake_b, real_a)",
        "engine.structure_loss(fake_b, real_b)",
    ),
    ("prior A->B computed from real_b", "engine.prior_ab(real_a)", "engine.prior_ab(real_b)"),
    (
        "prior weight ignored",
        "engine.lambda_prior * (fake_b.float() - prior_b)",
        "(fake_b.float() - prior_b)",
    ),
    (
        "adversarial gradient cut from g_ab (fake detached)",
        "engine.adversarial_loss(engine.d_b(fake_b), True)",
        "engine.adversarial_loss(engine.d_b(fake_b.detach()), True)",
    ),
)


def mutant_module(source: str, old: str, new: str, name: str) -> types.ModuleType:
    """The trainer module built from ``source`` with its single occurrence of ``old`` replaced by ``new``."""
    if source.count(old) != 1:
        raise ValueError(f"the trainer source holds {source.count(old)} copies of {old!r}; update the mutant")
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module  # dataclasses and enums look their module up
    exec(compile(source.replace(old, new), module.__file__, "exec"), module.__dict__)
    return module


def _failing_tests(module: types.ModuleType, index: int) -> list[str]:
    """The names of this file's tests that fail against the trainer of ``module``."""
    case = type(f"Mutant{index}", (TestLossWiring,), {"trainer_module": module})
    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(case).run(result)
    # a failing subtest reports itself; name the test it belongs to
    tests = [getattr(test, "test_case", test) for test, _ in result.failures + result.errors]
    return sorted({test.id().rsplit(".", 1)[-1] for test in tests})


def run_mutants() -> int:
    """Run this file's tests against each mutant; print the tests that fail. Returns 1 if a mutant survives."""
    source = Path(cyclegan_trainer.__file__).read_text()
    # control: the unchanged source, loaded the same way, must pass every test
    control = _failing_tests(mutant_module(source, MUTANTS[0][1], MUTANTS[0][1], "cyclegan_trainer_control"), -1)
    print(f"unchanged trainer: {'all tests pass' if not control else 'FAILS ' + ', '.join(control)}")
    survivors = 0
    for index, (label, old, new) in enumerate(MUTANTS):
        failed = _failing_tests(mutant_module(source, old, new, f"cyclegan_trainer_mutant_{index}"), index)
        survivors += not failed
        print(f"{label}: {'SURVIVED' if not failed else 'caught by ' + ', '.join(failed)}")
    return 1 if survivors or control else 0


if __name__ == "__main__":
    if "--mutants" in sys.argv:
        sys.exit(run_mutants())
    unittest.main()
