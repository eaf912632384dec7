"""Does another per-volume intensity scaling of the model's input transfer better between real subjects?

The pipeline divides each volume by its 99.5th foreground percentile (``RobustScaleIntensityd``). On the real MS
volumes the test subject's T1w white matter sits lower against that percentile than the training subjects' (its
median is 0.65 of it, theirs 0.72-0.73), which suggests scaling by a tissue statistic instead (the median, the mean,
or the white-matter peak, as MRI intensity standardisation does). This script asks it without training a network,
leaving each subject out in turn: a lookup table from the *scaled* input intensity to the mean paired target
intensity, fitted on the other subjects, is applied to the left-out one and scored in the protocol's convention. A
scaling that lines the subjects' tissues up better gives a table that transfers better; the table is the best
pointwise mapping from the scaled input, so it is a direct test of the input convention, free of training noise.

Run by hand, from the repository root::

    python benchmarks/input_scaling.py --pairs ../shared/data/ljubljana_ms \\
        --out benchmarks/results/input_scaling_ljubljana_ms.json
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch
from monai.metrics import PSNRMetric

from monai_cyclegan.directions import DIRECTION_CONTRASTS
from monai_cyclegan.evaluation import EvaluationCase, load_case, load_pairs
from monai_cyclegan.evaluation.cases import BRAIN_PERCENTILE, brain_normalise
from monai_cyclegan.files import write_json

LUT_BINS = 256
PEAK_BINS = 128


def _quantile(q: float) -> Callable[[torch.Tensor], float]:
    return lambda voxels: float(torch.quantile(voxels, q))


def white_matter_peak(voxels: torch.Tensor) -> float:
    """The brightest large histogram mode: the highest bin of a 5-bin smoothed histogram above its lowest tenth."""
    top = float(torch.quantile(voxels, BRAIN_PERCENTILE / 100))
    counts = torch.histc(voxels.clamp(max=top), bins=PEAK_BINS, min=0.0, max=top)
    smooth = torch.nn.functional.avg_pool1d(counts[None, None], 5, stride=1, padding=2, count_include_pad=False)[0, 0]
    start = PEAK_BINS // 10  # skips the CSF/edge voxels near 0
    return (int(smooth[start:].argmax()) + start + 0.5) * top / PEAK_BINS


# The statistic each input volume is divided by, over its brain voxels.
SCALINGS: dict[str, Callable[[torch.Tensor], float]] = {
    "p99.5 (the pipeline's)": _quantile(BRAIN_PERCENTILE / 100),
    "p99": _quantile(0.99),
    "median": _quantile(0.5),
    "mean": lambda voxels: float(voxels.mean()),
    "white-matter peak": white_matter_peak,
}


def scaled_input(case: EvaluationCase, contrast: str, statistic: Callable[[torch.Tensor], float]) -> torch.Tensor:
    """The case's brain voxels of ``contrast`` divided by ``statistic`` of them (a flat tensor)."""
    voxels = case.images[contrast][case.mask].float()
    return voxels / statistic(voxels)


def left_out_lut(
    train: Sequence[EvaluationCase], test: EvaluationCase, source: str, target: str, statistic
) -> torch.Tensor:
    """The test input mapped through the mean training target per bin of scaled input intensity, as a volume."""
    inputs = torch.cat([scaled_input(c, source, statistic) for c in train])
    targets = torch.cat([c.images[target][c.mask].float() for c in train])
    top = float(torch.quantile(inputs, 0.999))

    def bins(values: torch.Tensor) -> torch.Tensor:
        return (values / top * (LUT_BINS - 1)).round().long().clamp(0, LUT_BINS - 1)

    train_bins = bins(inputs)
    table = torch.zeros(LUT_BINS).index_add_(0, train_bins, targets)
    table /= torch.bincount(train_bins, minlength=LUT_BINS).clamp_min(1)
    out = torch.zeros_like(test.images[target], dtype=torch.float32)
    out[test.mask] = table[bins(scaled_input(test, source, statistic))]
    return out


def brain_psnr(synthetic: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    """MONAI's PSNR over the brain voxels, as ``similarity_metrics`` scores it (without its costly 3D SSIM)."""
    return float(PSNRMetric(max_val=1.0)(synthetic[mask][None, None], truth[mask][None, None]).mean())


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", required=True, help="a folder of paired subjects (three or more)")
    p.add_argument("--out", required=True, help="JSON report to write")
    args = p.parse_args(argv)
    started = time.perf_counter()
    pairs = load_pairs(args.pairs)
    cases = [load_case(pairs.kind, row) for row in pairs.rows]
    if pairs.kind != "volume" or len(cases) < 3:
        raise SystemExit(f"{args.pairs}: needs three or more paired volumes, found {len(cases)} {pairs.kind} pairs.")
    results: dict = {"subjects": [c.subject for c in cases]}
    for direction, (source, target) in DIRECTION_CONTRASTS.items():
        results[direction] = {}
        for name, statistic in SCALINGS.items():
            scores = {}
            for test in cases:
                lut = left_out_lut([c for c in cases if c is not test], test, source, target, statistic)
                truth = test.images[target]
                scores[test.subject] = {
                    "psnr": brain_psnr(brain_normalise(lut, test.mask), truth, test.mask),
                    "psnr_unscaled": brain_psnr(lut, truth, test.mask),
                }
            mean = {k: statistics.mean(s[k] for s in scores.values()) for k in ("psnr", "psnr_unscaled")}
            results[direction][name] = {"subjects": scores, "mean": mean}
            print(direction, f"{name:24s}", " ".join(f"{s['psnr']:.2f}" for s in scores.values()), f"mean {mean}")
    results["input_median_over_p99.5"] = {
        c.subject: {k: float(torch.quantile(c.images[k][c.mask].float(), 0.5)) for k in ("t1", "t2")} for c in cases
    }
    results["seconds"] = time.perf_counter() - started
    write_json(args.out, results, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
