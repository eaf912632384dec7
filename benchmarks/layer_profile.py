"""Where a training step's time goes by the spatial size the layers work at: inner U-Net levels against outer ones.

One generator-plus-discriminator step (forward, backward) of the bundle's networks at batch 1, profiled with
``torch.profiler`` (``record_shapes``). The self time of every convolution and of every weight cast is put into a
bucket by the smaller spatial side of its input or output. The inner levels of the U-Net (16 px and less) hold most
of the weights and little of the FLOPs, so this split shows how much of a step is memory traffic rather than
arithmetic. Run by hand, from the repository root:

    python benchmarks/layer_profile.py            # bf16 autocast, the default U-Net 256, ngf 64
    python benchmarks/layer_profile.py --fp32 --set ngf=32
    python benchmarks/layer_profile.py --kernels   # also single convolutions of the outer levels against the peak
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bundle_config, config_files  # noqa: E402
from benchmarks.peak import matmul_peak  # noqa: E402

__all__ = ["kernel_rates", "profile_by_size"]

# (transposed, in channels, out channels, input side): FLOP-heavy layers of the U-Net 256, ngf 64, at batch 1
OUTER_LAYERS = ((False, 64, 128, 128), (False, 128, 256, 64), (True, 256, 64, 64), (True, 128, 32, 128))

INNER_PX = 16  # the U-Net levels at this size and below: 512 channels (1024 where skips join), few pixels


def _bucket(name: str, shapes: list[list[int]]) -> str | None:
    """``"inner"`` or ``"outer"`` for a convolution or a weight cast with these input shapes; None for other ops.

    A convolution's level is the smaller spatial side of its activations: the input of a forward convolution, the
    output gradient and the input of a backward one (the weight comes after them). A weight cast belongs to the
    inner levels when the weight has 512 channels or more on either side.
    """
    if "convolution_backward" in name:
        activations = shapes[:2]
    elif "conv" in name:
        activations = shapes[:1]
    elif name == "aten::copy_" and shapes and len(shapes[0]) == 4 and shapes[0][-1] == shapes[0][-2] <= 4:
        return "inner" if max(shapes[0][:2]) >= 512 else "outer"  # (out, in, 4, 4) weights, cast for autocast
    else:
        return None
    sides = [min(s[-2:]) for s in activations if len(s) == 4]
    if not sides:
        return None
    return "inner" if min(sides) <= INNER_PX else "outer"


def profile_by_size(generator: torch.nn.Module, discriminator: torch.nn.Module, amp: bool, size: int) -> dict:
    """Self time (ms) of one G+D step's convolutions and weight casts at inner and outer levels, and of the rest."""
    x = torch.rand(1, 1, size, size) * 2 - 1

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            fake = generator(x)
            score = discriminator(fake)
            score = score[-1] if isinstance(score, list | tuple) else score
            loss = score.float().mean() + fake.float().abs().mean()
        loss.backward()

    for _ in range(2):  # oneDNN primitive creation and allocations happen in the first steps
        step()
    start = time.perf_counter()
    step()
    wall_ms = (time.perf_counter() - start) * 1e3
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, record_shapes=True, with_flops=True) as prof:
        step()
    buckets = {"inner": 0.0, "outer": 0.0, "other": 0.0}
    forward_flops = {"inner": 0, "outer": 0, "other": 0}  # the profiler counts forward convolutions only
    for event in prof.key_averages(group_by_input_shape=True):
        bucket = _bucket(event.key, event.input_shapes) or "other"
        buckets[bucket] += event.self_cpu_time_total / 1e3
        forward_flops[bucket] += event.flops or 0
    total = sum(buckets.values())
    total_flops = sum(forward_flops.values()) or 1
    return {
        "unprofiled_step_ms": round(wall_ms, 1),
        "profiled_self_ms": round(total, 1),
        **{f"{k}_ms": round(v, 1) for k, v in buckets.items()},
        **{f"{k}_time_share": round(v / total, 3) for k, v in buckets.items()},
        **{f"{k}_flop_share": round(v / total_flops, 3) for k, v in forward_flops.items() if k != "other"},
        "inner_px": INNER_PX,
    }


def kernel_rates(dtype: torch.dtype, repeats: int = 5) -> list[dict]:
    """GFLOP/s of single 4x4 stride-2 convolutions of :data:`OUTER_LAYERS`, forward and forward plus backward."""
    rates = []
    for transposed, cin, cout, side in OUTER_LAYERS:
        layer = (torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d)(cin, cout, 4, 2, 1, bias=False).to(dtype)
        x = torch.randn(1, cin, side, side, dtype=dtype, requires_grad=True)
        y = layer(x)
        forward_flop = 2 * cin * cout * 16 * (side**2 if transposed else y.shape[-1] ** 2)
        grad = torch.randn_like(y)
        for _ in range(2):
            layer(x).backward(grad)
        start = time.perf_counter()
        for _ in range(repeats):
            layer(x)
        forward_s = (time.perf_counter() - start) / repeats
        start = time.perf_counter()
        for _ in range(repeats):
            layer(x).backward(grad)
        both_s = (time.perf_counter() - start) / repeats
        name = f"{'conv_transpose' if transposed else 'conv'} {cin}->{cout} at {side}px"
        rates.append(
            {"layer": name, "forward_gflop_per_s": forward_flop / forward_s / 1e9,
             "forward_backward_gflop_per_s": 3 * forward_flop / both_s / 1e9}
        )  # fmt: skip
    return rates


def main(argv: list[str] | None = None) -> int:
    """Build the networks from train.json (with ``--set`` overrides), profile one step, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", action="store_true", help="float32 instead of bf16 autocast")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a train.json override")
    parser.add_argument("--kernels", action="store_true", help="also time single outer-level convolutions")
    args = parser.parse_args(argv)
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    config = bundle_config(config_files("train"), {**overrides, "device": "cpu"})
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    generator, discriminator = (
        config.get_parsed_content("generator_def")(),
        config.get_parsed_content("discriminator_def")(),
    )
    size = int(config.get_parsed_content("crop_size"))
    result = profile_by_size(generator, discriminator, amp=not args.fp32, size=size)
    report = {"precision": "fp32" if args.fp32 else "bf16", "image_size": size, **result}
    if args.kernels:
        dtype = torch.float32 if args.fp32 else torch.bfloat16
        peak = matmul_peak(torch.device("cpu"), 4096)[report["precision"]]["gflop_per_s"]
        report["kernels"] = []
        for rate in kernel_rates(dtype):
            rates = {k: v for k, v in rate.items() if k != "layer"}
            fractions = {k.replace("gflop_per_s", "fraction_of_peak"): round(v / peak, 2) for k, v in rates.items()}
            report["kernels"].append({**rate, **fractions})
        report["matmul_peak_gflop_per_s"] = round(peak, 1)
    print(json.dumps(report, indent=2, default=lambda v: round(v, 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
