"""Automatic checks for two known CycleGAN failure modes on MRI: an identity-like mapping and a bare inversion.

A faithful synthetic image correlates with its ground truth more than with its input. A generator that kept the
input's contrast correlates with the input instead (positively), and one that only inverted the intensities, without
the target's tissue contrasts, correlates with the input negatively and just as strongly.
"""

from __future__ import annotations

import torch

__all__ = ["failure_mode_checks", "pearson"]


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two equally long sets of values (0 when either is constant)."""
    a, b = a.double().flatten(), b.double().flatten()
    a, b = a - a.mean(), b - b.mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0


def failure_mode_checks(
    source: torch.Tensor, synthetic: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor | None = None
) -> dict[str, float | bool]:
    """Correlations of the synthetic image with its input and with its ground truth, and the two flags.

    * ``identity_like``: the synthetic image correlates more with its input than with the ground truth;
    * ``inversion_like``: it correlates more with the *inverted* input than with the ground truth.

    Args:
        source: the input image.
        synthetic: the translation of ``source``.
        truth: the ground truth of the translation.
        mask: voxels to compare (e.g. the head); all voxels when None.
    """
    inside = torch.ones_like(truth, dtype=torch.bool) if mask is None else mask.bool()
    with_input = pearson(synthetic[inside], source[inside])
    with_truth = pearson(synthetic[inside], truth[inside])
    return {
        "corr_input": with_input,
        "corr_truth": with_truth,
        "identity_like": with_input > with_truth,
        "inversion_like": -with_input > with_truth,
    }
