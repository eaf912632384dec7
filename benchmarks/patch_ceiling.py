"""How much of a real test volume any *local* model can predict: paired patch regressions, across subjects and within.

`paired_ceiling.py` trains the CPU generator supervised; this script asks the question without a slice network's
training budget. A small MLP maps the input contrast's patch around each brain voxel (``k x k`` in-plane, 1 or 3
axial slices deep) to the target contrast at its centre, trained with L1 on the *paired* voxels of

* ``across``: the training subjects (what the pairs would buy an unpaired method on the test subject), and
* ``within``: the test subject itself, an oracle no method can have: how far local appearance determines the other
  contrast in that brain at all (noise, partial volume at the skull-stripped edge, residual misregistration and the
  T2w's coarser through-plane detail are what it cannot predict).

Each prediction is scored like every synthetic volume of the protocol (docs/results.md): inside the brain, divided by
its own 99.5th brain percentile, clipped to [0, 1]; ``unscaled`` scores it as it comes (already in the truth's units).
Volumes come from the evaluation's own loader (``load_case``: RAS, each contrast over its 99.5th brain percentile).

Run by hand, from the repository root, after the protocol's split (docs/results.md)::

    python benchmarks/patch_ceiling.py --pairs ../shared/data/ljubljana_ms --split_file runs/ms/split.json \\
        --out benchmarks/results/patch_ceiling_ljubljana_ms.json
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.utils import set_determinism
from torch import nn

from monai_cyclegan.directions import DIRECTION_CONTRASTS
from monai_cyclegan.evaluation import EvaluationCase, load_case, load_pairs, similarity_metrics
from monai_cyclegan.evaluation.cases import brain_normalise
from monai_cyclegan.files import write_json

PATCHES = {"2d_5x5": (5, 5, 1), "2.5d_5x5x3": (5, 5, 3), "2.5d_9x9x3": (9, 9, 3)}
HIDDEN = 128
BATCH = 1024
CHUNK = 200_000  # voxels predicted at once


def patch_features(volume: torch.Tensor, voxels: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """The ``patch`` neighbourhood of each of ``voxels`` (flat indices into ``volume``) as ``(N, prod(patch))``."""
    half = [k // 2 for k in patch]
    padded = F.pad(volume[None, None], (half[2], half[2], half[1], half[1], half[0], half[0]))[0, 0]
    x, y, z = torch.unravel_index(voxels, volume.shape)
    offsets = [(a, b, c) for a in range(patch[0]) for b in range(patch[1]) for c in range(patch[2])]
    return torch.stack([padded[x + a, y + b, z + c] for a, b, c in offsets], 1)


def fit_patch_mlp(
    cases: Sequence[EvaluationCase], source: str, target: str, patch: tuple[int, int, int], voxels: int, steps: int
) -> nn.Module:
    """An MLP from the ``source`` patch to the ``target`` centre voxel, L1, on ``voxels`` brain voxels per case."""
    features, values = [], []
    for case in cases:
        inside = case.mask.flatten().nonzero().flatten()
        chosen = inside[torch.randperm(inside.numel())[:voxels]]
        features.append(patch_features(case.images[source], chosen, patch))
        values.append(case.images[target].flatten()[chosen])
    x, y = torch.cat(features), torch.cat(values)
    network = nn.Sequential(nn.Linear(x.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU())
    network.append(nn.Linear(HIDDEN, 1))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, [int(steps * 2 / 3)], gamma=0.3)
    for _ in range(steps):
        batch = torch.randint(len(x), (BATCH,))
        loss = (network(x[batch])[:, 0] - y[batch]).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return network.eval()


def predict(network: nn.Module, case: EvaluationCase, source: str, patch: tuple[int, int, int]) -> torch.Tensor:
    """The network's prediction at every brain voxel of ``case``, 0 outside the brain."""
    inside = case.mask.flatten().nonzero().flatten()
    output = torch.zeros(case.mask.numel())
    with torch.no_grad():
        for start in range(0, inside.numel(), CHUNK):
            chosen = inside[start : start + CHUNK]
            output[chosen] = network(patch_features(case.images[source], chosen, patch))[:, 0]
    return output.view(case.mask.shape).clamp_min(0)


def scores(synthetic: torch.Tensor, case: EvaluationCase, target: str) -> dict[str, dict[str, float]]:
    """PSNR, SSIM and MAE rescaled as the protocol rescales every synthetic volume, and as it comes."""
    truth = case.images[target]
    kept = ("psnr", "ssim", "mae")
    return {
        name: {k: v for k, v in similarity_metrics(image, truth, mask=case.mask).items() if k in kept}
        for name, image in (
            ("scaled", brain_normalise(synthetic, case.mask)),
            ("unscaled", synthetic.clamp(0, 1) * case.mask),
        )
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", required=True, help="the protocol's paired volumes (a folder per subject)")
    p.add_argument("--split_file", required=True, help="split file: 'train' subjects and the 'test' subject")
    p.add_argument("--voxels", type=int, default=300_000, help="training voxels drawn per subject (default 300000)")
    p.add_argument("--steps", type=int, default=6000, help="MLP updates of 1024 voxels (default 6000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="JSON report to write")
    args = p.parse_args(argv)
    started = time.perf_counter()
    test, train = load_pairs(args.pairs, args.split_file, "test"), load_pairs(args.pairs, args.split_file, "train")
    if test.kind != "volume":
        raise SystemExit(f"{args.pairs}: patch ceilings need paired volumes, got {test.kind} pairs.")
    train_cases = [load_case("volume", row) for row in train.rows]
    test_cases = [load_case("volume", row) for row in test.rows]
    results: dict = {"seed": args.seed, "voxels_per_subject": args.voxels, "steps": args.steps}
    results["test"] = [case.subject for case in test_cases]
    for direction, (source, target) in DIRECTION_CONTRASTS.items():
        results[direction] = {}
        for name, patch in PATCHES.items():
            for fitted_on in ("across", "within"):
                entries = []
                for case in test_cases:
                    set_determinism(args.seed)
                    cases = train_cases if fitted_on == "across" else [case]
                    network = fit_patch_mlp(cases, source, target, patch, args.voxels, args.steps)
                    entries.append(scores(predict(network, case, source, patch), case, target))
                results[direction][f"{name}_{fitted_on}"] = {
                    way: {k: sum(e[way][k] for e in entries) / len(entries) for k in ("psnr", "ssim", "mae")}
                    for way in ("scaled", "unscaled")
                }
                row = results[direction][f"{name}_{fitted_on}"]["scaled"]
                print(f"{direction} {name} {fitted_on}: {row['psnr']:.2f} dB / SSIM {row['ssim']:.3f}", flush=True)
    results["seconds"] = time.perf_counter() - started
    write_json(args.out, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
