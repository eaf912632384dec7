"""Known-answer learning: the CycleGAN trainer learns an unpaired contrast mapping whose answer the test knows.

The task, on 16x16 images in [0, 1]:

- domain A: a dark background (0.2) with two bright blobs (up to 0.8) at random places and sizes, in a bright frame
  (0.95, like scalp fat, bright in both MRI contrasts);
- domain B = f(A), with f nonlinear and decreasing inside the frame: ``0.85 - 0.65 * t ** 0.7`` for A = 0.2 + 0.6 t,
  so bright blobs become dark pits in a bright background (tissue order inverted, as from T1 to T2); the frame stays
  0.95. The B images the trainer sees are drawn from other random images than its A images: the data are unpaired.

The answer is identifiable from unpaired data: a map that keeps the order would give bright blobs on a background,
which domain B never shows. The inverted-histogram baseline of the evaluation
(:func:`~monai_cyclegan.evaluation.baselines.intensity_mapping_baseline`, matched to B images of other random images
as the evaluation matches to other subjects) cannot solve it: it inverts the frame too, as it darkens scalp fat in
real images. The check (:func:`learned_the_mapping`) asks the translation of held-out A images to be closer to f(A),
in mean absolute error, than ``MARGIN`` times the identity's error and than the baseline's; it fails for identity
generators, and for an untrained one.

The networks are tiny and run on one CPU thread (faster than two for tensors this small, and free of the spin-waits
that inflate CPU time on a busy machine); the previous thread count is restored after each test.

Known limits (measured, not yet resolved):

- The CPU recipe (ResNet, lambda_structure 5, lambda_prior 5) does not learn this task: its prior, fitted as
  train.json fits it, inverts the frame exactly as the baseline does, and a weight of 5 anchors the translation to
  it (MAE 0.30 against identity 0.36 and baseline 0.24 after 200 updates). With a prior fitted on all 64 training
  images instead of 16 it reached 0.19, so the outcome hangs on the prior; the test is an expected failure until the
  recipe can beat the baseline where the baseline is wrong.
  Without the frame, where the prior fitted on all 64 images is nearly the answer itself (MAE 0.027 against the
  baseline's 0.036), the recipe still ended at 0.048 after 200 updates: at this scale the adversarial and MIND terms
  pull it off its prior's answer rather than past the baseline.
- The U-Net test still passes with the generators' discriminators swapped or with the cycle loss dropped: it guards
  learning against copying, not the loss wiring (test_loss_wiring.py does that).
"""

from __future__ import annotations

import copy
import unittest
from collections.abc import Callable
from typing import Any

import torch
from monai.data import CacheDataset
from monai.utils import set_determinism
from torch import nn

from monai_cyclegan.engines import ImagePool
from monai_cyclegan.evaluation.baselines import intensity_mapping_baseline
from monai_cyclegan.networks import ResnetGenerator, UNetGenerator, patch_discriminator
from monai_cyclegan.transforms import fit_intensity_mappings
from tests.engines.trainers import adam_trainer

SIZE = 16
BACKGROUND, BLOB_PEAK, FAT = 0.2, 0.8, 0.95
TRAIN_IMAGES = 64
HELD_OUT = 16
MARGIN = 0.6  # "well below the identity's": the translation's error must be under 0.6 times the identity's


def known_answer(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The A image and its B = f(A) counterpart (inside the frame) of a blob field ``t`` in [0, 1]."""
    return BACKGROUND + (BLOB_PEAK - BACKGROUND) * t, 0.85 - 0.65 * t**0.7


def phantom(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` A images and their B = f(A), shape ``(n, 1, SIZE, SIZE)``, in [0, 1], from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    fields = []
    for _ in range(n):
        t = torch.zeros(SIZE, SIZE)
        for _ in range(2):  # two Gaussian blobs, the brightest point of each at 1
            centre = 3 + torch.rand(2, generator=generator) * (SIZE - 6)
            sigma = 1.2 + 1.5 * torch.rand(1, generator=generator)
            blob = torch.exp(-((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) / (2 * sigma**2))
            t = torch.maximum(t, blob)
        fields.append(t)
    a, b = known_answer(torch.stack(fields)[:, None])
    for image in (a, b):  # the frame: as bright in B as in A
        image[..., 0, :] = image[..., -1, :] = image[..., :, 0] = image[..., :, -1] = FAT
    return a, b


def translate(generator: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """A generator's translation of images in [0, 1] (it works in [-1, 1])."""
    generator.eval()
    with torch.no_grad():
        return (generator(images * 2 - 1) + 1) / 2


def translation_errors(generator: nn.Module, seed: int = 3) -> dict[str, float]:
    """Mean absolute error to the known answer f(A) on held-out A images: of the translation and of both baselines.

    The baseline matches each inverted input to the histograms of B images from other random images (unpaired, as
    the evaluation matches to other subjects).
    """
    a, truth = phantom(seed, HELD_OUT)
    references = list(phantom(seed + 1, 8)[1])
    baseline = torch.stack([intensity_mapping_baseline(image, references) for image in a])
    return {
        "model": float((translate(generator, a) - truth).abs().mean()),
        "identity": float((a - truth).abs().mean()),
        "baseline": float((baseline - truth).abs().mean()),
    }


def learned_the_mapping(errors: dict[str, float]) -> bool:
    """Whether a translation's error is well below the identity's (``MARGIN`` times it) and below the baseline's."""
    return errors["model"] < min(MARGIN * errors["identity"], errors["baseline"])


def training_images() -> tuple[torch.Tensor, torch.Tensor]:
    """The unpaired training images in [-1, 1]: A from one set of random images, B from another."""
    a, _ = phantom(1, TRAIN_IMAGES)
    _, b = phantom(2, TRAIN_IMAGES)
    return a * 2 - 1, b * 2 - 1


def train(
    make_generator: Callable[[], nn.Module], updates: int, lr: float = 2e-3, seed: int = 0, **objectives: Any
) -> nn.Module:
    """Train a CycleGAN on unpaired A and B images of the phantom, batches of 4; return G_AB.

    No identity loss: it pulls G_AB towards leaving B-like intensities alone, which the frame and the background
    both are in this task. Small PatchGANs (2 layers, 8 channels) see a whole 16x16 image.
    """
    set_determinism(seed)
    try:
        a_train, b_train = training_images()
        picks = torch.Generator().manual_seed(seed + 7)
        data = []
        for _ in range(updates):
            index_a, index_b = (torch.randint(TRAIN_IMAGES, (4,), generator=picks) for _ in range(2))
            data.append({"A": a_train[index_a], "B": b_train[index_b]})
        g_ab, g_ba = make_generator(), make_generator()
        d_a, d_b = patch_discriminator(ndf=8, n_layers=2), patch_discriminator(ndf=8, n_layers=2)
        pools = (ImagePool(16, seed=seed + 1), ImagePool(16, seed=seed + 2))
        trainer = adam_trainer((g_ab, g_ba, d_a, d_b), data, lr, pools, **objectives)
        trainer.run()
    finally:
        set_determinism(None)
    return g_ab


class _KnownAnswer(nn.Module):
    """The answer itself, as a 'generator' in [-1, 1]: what a perfect translation would output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = (x + 1) / 2
        t = ((a - BACKGROUND) / (BLOB_PEAK - BACKGROUND)).clamp(0, 1)
        b = torch.where(a > (BLOB_PEAK + FAT) / 2, a, known_answer(t)[1])
        return b * 2 - 1


class TestKnownAnswer(unittest.TestCase):
    def setUp(self):
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def tearDown(self):
        torch.set_num_threads(self._threads)

    def _assert_learns(self, make_generator: Callable[[], nn.Module], updates: int, **options: Any) -> None:
        errors = translation_errors(train(make_generator, updates, **options))
        self.assertTrue(learned_the_mapping(errors), errors)

    def test_unet_generator_learns_the_inverted_contrast(self):
        # the design card's generator family, at the smallest width that learns this in a few hundred updates
        self._assert_learns(lambda: UNetGenerator(image_size=SIZE, ngf=8), updates=200)

    @unittest.expectedFailure  # see the module docstring: the prior anchors the recipe to the baseline's answer
    def test_cpu_recipe_resnet_generator_learns_the_inverted_contrast(self):
        # configs/cpu.json: the ResNet generator (3 residual blocks, ngf 16), no identity loss, MIND structure
        # consistency 5 and the intensity-mapping prior 5, fitted on the unpaired training images as train.json fits
        # it (from 16 of the cached images). The width and the larger step size are cpu.json's and this test's.
        a, b = training_images()
        priors = fit_intensity_mappings(
            CacheDataset([{"image": x} for x in a], progress=False),
            CacheDataset([{"image": x} for x in b], progress=False),
        )
        self._assert_learns(
            lambda: ResnetGenerator(ngf=16, n_blocks=3),
            updates=200,
            lr=5e-3,
            lambda_structure=5.0,
            lambda_prior=5.0,
            prior_ab=priors[0],
            prior_ba=priors[1],
        )

    def test_check_fails_for_identity_and_untrained_generators(self):
        self.assertFalse(learned_the_mapping(translation_errors(nn.Identity())))
        torch.manual_seed(0)
        untrained = UNetGenerator(image_size=SIZE, ngf=8)
        self.assertFalse(learned_the_mapping(translation_errors(untrained)))
        # a copier: whatever its weights, a generator that returns its input
        copier = copy.deepcopy(untrained)
        copier.forward = lambda x: x.clone()
        self.assertFalse(learned_the_mapping(translation_errors(copier)))
        # and the check can pass: the known answer itself does
        self.assertTrue(learned_the_mapping(translation_errors(_KnownAnswer())))

    def test_task_is_not_solved_by_the_baselines(self):
        errors = translation_errors(nn.Identity())
        # the baseline inverts the frame, the identity the blobs: both far from the answer
        self.assertGreater(errors["baseline"], 0.1)
        self.assertGreater(errors["identity"], 0.1)


if __name__ == "__main__":
    unittest.main()
