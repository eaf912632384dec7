"""How far a translation can get on a paired protocol when it is *allowed* the pairs: the headroom of unpaired models.

The real-volume protocol trains unpaired; its test subject's ground truth is known. This script measures, in the
protocol's own evaluation convention, two things an unpaired model can never do better than without luck:

* ``paired_lut``: a lookup table from each input intensity to the mean target intensity of the training subjects'
  *paired* voxels: the best global intensity mapping. Its volume is scored like every synthetic volume, divided by its
  own 99.5th brain percentile; ``paired_lut_unscaled`` scores it as it comes (already in the truth's units). A
  conditional mean compresses the bright tail (its 99.5th percentile is about 0.79 on patient 19), so the protocol's
  rescaling stretches it: the gap between the two is what a regression-like output loses to that convention;
* ``paired_model``: the bundle's CPU generator (ResNet, 3 blocks, ngf 16) trained *supervised* (L1 to the paired
  target slice) on the training subjects for ``--iterations`` updates per direction.

Run by hand, from the repository root, after the protocol's split (docs/results.md)::

    python benchmarks/paired_ceiling.py --pairs ../shared/data/ljubljana_ms --split_file runs/ms/split.json \\
        --out benchmarks/results/paired_ceiling_ljubljana_ms.json
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence

import torch
from monai.utils import set_determinism

from monai_cyclegan.bundle import translation_inferer
from monai_cyclegan.data import paired_validation_dataset
from monai_cyclegan.directions import DIRECTION_CONTRASTS
from monai_cyclegan.evaluation import (
    EvaluationCase,
    baseline_references,
    evaluate_translation,
    load_case,
    load_pairs,
    similarity_metrics,
)
from monai_cyclegan.evaluation.cases import brain_normalise
from monai_cyclegan.files import write_json
from monai_cyclegan.networks import ResnetGenerator

LUT_BINS = 256


def paired_slices(pairs, image_size: int, fov_mm: float) -> torch.Tensor:
    """Every brain-slab slice of the pairs as ``(N, 2, H, W)``: channel 0 T1w, channel 1 T2w, in [-1, 1]."""
    dataset = paired_validation_dataset(pairs.rows, pairs.kind, image_size, fov_mm)
    items = [item for i in range(len(dataset)) for item in (dataset[i] if pairs.kind == "volume" else [dataset[i]])]
    return torch.stack([item["image"] for item in items])


def train_supervised(slices: torch.Tensor, source: int, iterations: int, seed: int) -> ResnetGenerator:
    """The CPU recipe's generator trained with L1 on paired slices (channel ``source`` in, the other one out)."""
    set_determinism(seed)
    generator = ResnetGenerator(ngf=16, n_blocks=3)
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    order = torch.randint(len(slices), (iterations,))
    for index in order.tolist():
        pair = slices[index : index + 1]
        if torch.rand(()) < 0.5:
            pair = pair.flip(-2)  # the training's left-right flip
        with torch.autocast("cpu", dtype=torch.bfloat16):
            output = generator(pair[:, source : source + 1])
        loss = (output.float() - pair[:, 1 - source : 2 - source]).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return generator.eval()


def paired_lut(train_cases, test_case, source: str, target: str) -> torch.Tensor:
    """The test input mapped through the training pairs' mean target intensity per input intensity bin."""
    inputs = torch.cat([c.images[source][c.mask] for c in train_cases])
    targets = torch.cat([c.images[target][c.mask] for c in train_cases])
    bins = (inputs * (LUT_BINS - 1)).round().long()
    table = torch.zeros(LUT_BINS).index_add_(0, bins, targets) / torch.bincount(bins, minlength=LUT_BINS).clamp_min(1)
    image = test_case.images[source]
    return torch.where(test_case.mask, table[(image * (LUT_BINS - 1)).round().long()], torch.zeros(()))


def score_lut(synthetic: torch.Tensor, case: EvaluationCase, target: str, scaled: bool) -> dict[str, float]:
    """PSNR, SSIM and MAE of a lookup-table image; ``scaled``: rescaled like the model's volumes (see the module)."""
    if scaled and case.kind == "volume":
        synthetic = brain_normalise(synthetic, case.mask)
    return similarity_metrics(synthetic, case.images[target], mask=case.mask)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", required=True, help="the protocol's paired data (a folder per subject, or a pairs list)")
    p.add_argument("--split_file", required=True, help="split file: train on 'train', score on 'test'")
    p.add_argument("--iterations", type=int, default=6000, help="supervised updates per direction (default 6000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image_size", type=int, default=256)
    p.add_argument("--fov_mm", type=float, default=256.0)
    p.add_argument("--out", required=True, help="JSON report to write")
    p.add_argument("--report_dir", default=None, help="also keep the full evaluation report (figures, CSVs) here")
    args = p.parse_args(argv)
    torch.set_flush_denormal(True)
    started = time.perf_counter()
    test = load_pairs(args.pairs, args.split_file, "test")
    train = load_pairs(args.pairs, args.split_file, "train")
    slices = paired_slices(train, args.image_size, args.fov_mm)
    generators = {
        direction: train_supervised(slices, 0 if direction == "t1_to_t2" else 1, args.iterations, args.seed)
        for direction in DIRECTION_CONTRASTS
    }
    report = tempfile.TemporaryDirectory()
    summary = evaluate_translation(
        test,
        args.report_dir or report.name,
        generators,
        translation_inferer(test.kind, args.image_size, 8, None, True),
        args.image_size,
        args.fov_mm,
        reference_pairs=baseline_references(test, args.split_file),
    )
    train_cases = [load_case(train.kind, row, args.image_size, args.fov_mm) for row in train.rows]
    results: dict = {"iterations": args.iterations, "seed": args.seed, "training_slices": len(slices)}
    for direction, (source, target) in DIRECTION_CONTRASTS.items():
        methods = summary["metrics"][direction]
        entry = {
            name: {k: methods[m][k] for k in ("psnr", "ssim", "mae")}
            for name, m in (
                ("paired_model", "model"),
                ("intensity_mapping", "intensity_mapping"),
                ("identity", "identity"),
            )
        }
        test_cases = [load_case(test.kind, row, args.image_size, args.fov_mm) for row in test.rows]
        luts = [paired_lut(train_cases, c, source, target) for c in test_cases]  # one table, scored two ways
        for name, scaled in (("paired_lut", True), ("paired_lut_unscaled", False)):
            scores = [score_lut(lut, c, target, scaled) for lut, c in zip(luts, test_cases, strict=True)]
            entry[name] = {k: sum(m[k] for m in scores) / len(scores) for k in ("psnr", "ssim", "mae")}
        results[direction] = entry
    report.cleanup()
    results["seconds"] = time.perf_counter() - started
    write_json(args.out, results, indent=1)
    for direction in DIRECTION_CONTRASTS:
        print(direction, {k: round(v["psnr"], 2) for k, v in results[direction].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
