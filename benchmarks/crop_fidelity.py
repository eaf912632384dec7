"""Does cutting slices to the head change a ResNet generator's translation? A check on a trained-like model.

Instance normalisation takes each feature map's mean and variance over the whole slice, background included, so a
generator that sees a slice cut to the head's bounding box (``ForegroundSliceInferer(size_multiple=4)``) normalises
with other statistics than one that sees the whole padded slice. A random network says nothing about the size of
that change, so this script first trains the capstone ResNet (ngf 16, 3 blocks) for a few minutes, supervised (L1,
T1 -> T2 of the phantom's paired volumes, whole padded slices as in training), then translates a held-out subject
with whole slices and with crops of several margins, and scores each against the true T2 on the head.

    python benchmarks/crop_fidelity.py --data-dir DIR      # a phantom data set with paired/ (monai-cyclegan phantom)

It prints and writes a JSON report (``--out``). The U-Net needs its full size, so its slices are never cut: on the
slices it translates its output is the full slab's (``tests/test_inferers.py``), and the slices it skips hold no head.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, required=True, help="phantom data set with paired/PH00*-T1/-T2.nii.gz")
    p.add_argument("--out", type=Path, default=None, help="JSON report")
    p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    p.add_argument("--batch", type=int, default=4, help="slices per step (default 4)")
    p.add_argument("--margins", default="0,8,16,32,64", help="crop margins (pixels) to compare")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _volumes(path_t1: Path, path_t2: Path) -> tuple[Any, Any]:
    """Both contrasts on the model grid (RAS, 1 mm), in [-1, 1], shape (1, 1, X, Y, Z)."""
    from monai_cyclegan.transforms import volume_preprocessing

    data = volume_preprocessing(("t1", "t2"))({"t1": str(path_t1), "t2": str(path_t2)})
    return data["t1"].as_tensor()[None], data["t2"].as_tensor()[None]


def _slices(t1: Any, t2: Any, size: int = 256) -> tuple[Any, Any]:
    """The axial slices with head, padded with air to ``size`` squared: (N, 1, size, size) each."""
    import torch.nn.functional as F

    keep = (t1[0, 0] > -0.8).flatten(0, 1).any(0)
    a, b = (v[0, 0][..., keep].permute(2, 0, 1)[:, None] for v in (t1, t2))
    pad_x, pad_y = size - a.shape[-2], size - a.shape[-1]
    pad = (pad_y // 2, pad_y - pad_y // 2, pad_x // 2, pad_x - pad_x // 2)
    return F.pad(a, pad, value=-1.0), F.pad(b, pad, value=-1.0)


def train(data_dir: Path, subject: str, steps: int, batch: int, seed: int) -> tuple[Any, list[float]]:
    """The capstone ResNet generator trained ``steps`` steps on T1 -> T2 of one subject's paired slices (L1)."""
    import torch

    from monai_cyclegan.networks import ResnetGenerator

    torch.manual_seed(seed)
    torch.set_flush_denormal(True)
    t1, t2 = _volumes(data_dir / "paired" / f"{subject}-T1.nii.gz", data_dir / "paired" / f"{subject}-T2.nii.gz")
    a, b = _slices(t1, t2)
    network = ResnetGenerator(ngf=16, n_blocks=3)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3, betas=(0.5, 0.999))
    losses = []
    for step in range(steps):
        index = torch.randint(0, a.shape[0], (batch,))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = torch.nn.functional.l1_loss(network(a[index]).float(), b[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
        if step % 50 == 0:
            print(f"[crop_fidelity] step {step}: L1 {float(loss):.4f}", flush=True)
    return network.eval(), losses


def psnr_on_head(output: Any, truth: Any, head: Any) -> float:
    """PSNR (dB) of ``output`` against ``truth`` on ``head``, both in [-1, 1] scored in [0, 1]."""
    mse = float((((output - truth) / 2)[head] ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def compare(network: Any, data_dir: Path, subject: str, margins: list[int]) -> dict[str, Any]:
    """PSNR on the head of whole slices and of crops with each margin, and each crop against whole slices."""
    import torch

    from monai_cyclegan.bundle import AutocastInferer
    from monai_cyclegan.inferers import ForegroundSliceInferer

    t1, t2 = _volumes(data_dir / "paired" / f"{subject}-T1.nii.gz", data_dir / "paired" / f"{subject}-T2.nii.gz")
    head = ((t1 > -0.8) | (t2 > -0.8))[0, 0]
    results: dict[str, Any] = {"head_voxels": int(head.sum()), "model_grid": list(t1.shape[2:])}
    with torch.no_grad():
        whole = AutocastInferer(ForegroundSliceInferer((256, 256)))(t1, network)[0, 0]
        results["whole_slices_psnr_db"] = round(psnr_on_head(whole, t2[0, 0], head), 3)
        for margin in margins:
            inferer = AutocastInferer(ForegroundSliceInferer(size_multiple=4, margin=margin))
            _, (rows, columns), _ = inferer.inferer.kept_slices(t1[0])
            crop = inferer(t1, network)[0, 0]
            psnr = psnr_on_head(crop, t2[0, 0], head)
            results[f"margin_{margin}"] = {
                "crop_rows_columns": [rows.stop - rows.start, columns.stop - columns.start],
                "psnr_db": round(psnr, 3),
                "psnr_change_db": round(psnr - results["whole_slices_psnr_db"], 3),
                "psnr_vs_whole_slices_db": round(psnr_on_head(crop, whole, head), 2),
                "max_abs_diff_vs_whole": round(float(((crop - whole) / 2)[head].abs().max()), 4),
            }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    args = parse_args(argv)
    subjects = sorted(p.name[: -len("-T1.nii.gz")] for p in (args.data_dir / "paired").glob("*-T1.nii.gz"))
    if len(subjects) < 2:
        raise SystemExit(f"{args.data_dir}/paired needs two subjects (one to train on, one to test on).")
    start = time.perf_counter()
    network, losses = train(args.data_dir, subjects[0], args.steps, args.batch, args.seed)
    report = {
        "benchmark": "monai_cyclegan benchmarks/crop_fidelity.py",
        "generator": "ResnetGenerator(ngf=16, n_blocks=3), the capstone architecture, bf16 autocast",
        "training": {
            "subject": subjects[0],
            "steps": args.steps,
            "batch": args.batch,
            "loss": "L1, T1 -> T2, whole padded slices",
            "final_l1_mean_of_last_20": round(sum(losses[-20:]) / max(len(losses[-20:]), 1), 4),
            "seconds": round(time.perf_counter() - start, 1),
        },
        "test_subject": subjects[1],
        "results": compare(network, args.data_dir, subjects[1], [int(m) for m in args.margins.split(",")]),
    }
    print(json.dumps(report, indent=1))
    if args.out:
        from monai_cyclegan.files import write_json

        write_json(args.out, report, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
