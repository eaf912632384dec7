"""Where a training step's time goes by the spatial size the layers work at: inner U-Net levels against outer ones.

One generator-plus-discriminator step (forward, backward) of the bundle's networks at batch 1, profiled with
``torch.profiler`` (``record_shapes``). The self time of every convolution and of every weight cast is put into a
bucket by the smaller spatial side of its input or output. The inner levels of the U-Net (16 px and less) hold most
of the weights and little of the FLOPs, so this split shows how much of a step is memory traffic rather than
arithmetic. Run by hand, from the repository root:

    python benchmarks/layer_profile.py            # bf16 autocast, the default U-Net 256, ngf 64
    python benchmarks/layer_profile.py --fp32 --set ngf=32
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

__all__ = ["profile_by_size"]

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


def main(argv: list[str] | None = None) -> int:
    """Build the networks from train.json (with ``--set`` overrides), profile one step, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", action="store_true", help="float32 instead of bf16 autocast")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a train.json override")
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
    print(json.dumps({"precision": "fp32" if args.fp32 else "bf16", "image_size": size, **result}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
