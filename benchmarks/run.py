"""Benchmark suite of the bundle: training, inference, data pipeline, memory and FLOP rates against the machine's peak.

Run by hand (never from the tests), from the repository root::

    python benchmarks/run.py                                  # the default 256² U-Net (ngf 64) of train.json
    python benchmarks/run.py --config bundles/ixi_t1t2_cyclegan/configs/cpu.json
    python benchmarks/run.py --quick --out /tmp/bench_quick.json   # tiny sizes, a smoke test

It writes a JSON report (``benchmarks/results/<machine>.json`` by default) and prints a short table. See
``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]

QUICK_MODEL = {"image_size": 32, "ngf": 4}
QUICK_TRAIN = {"ndf": 4, "phantom_subjects": 4}


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", action="append", default=[], metavar="FILE", help="config merged over train.json and "
                   "inference.json (repeatable; later wins), e.g. configs/cpu.json")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="a config override, value in JSON, "
                   "e.g. --set num_workers=0 (applied to both configs)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/results/<machine>.json)")
    p.add_argument("--quick", action="store_true", help="tiny model and data, 2 iterations: a smoke test")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--iterations", type=int, default=None, help="timed training iterations (default 3; quick 2)")
    p.add_argument("--warmup", type=int, default=1, help="training iterations run before timing")
    p.add_argument("--batch-sizes", type=_ints, default=None, help="training batch sizes (default 1,4; quick 1,2)")
    p.add_argument("--max-batch", type=int, default=None, help="CUDA: largest training batch tried (default 64)")
    p.add_argument("--data-epochs", type=int, default=3, help="epochs of the data-loader benchmark")
    p.add_argument("--infer-batch-sizes", type=_ints, default=[1, 8], help="generator batch sizes (slices)")
    p.add_argument("--infer-slices", type=int, default=None, help="slices per generator timing (default 16; quick 8)")
    p.add_argument("--volume-shape", type=_ints, default=None, help="inference volume (default 256,256,150)")
    p.add_argument("--checkpoint", default=None, help="generator weights for inference (default: random init)")
    p.add_argument("--phantom-dir", type=Path, default=None, help="reuse a phantom folder (default: a temporary one)")
    p.add_argument("--peak-n", type=int, default=None, help="matrix size of the peak measurement (default 4096)")
    p.add_argument("--no-profile", action="store_true", help="skip the torch.profiler top-operator tables")
    p.add_argument("--sections", default="peak,data,training,inference,profile", help="comma-separated subset")
    return p.parse_args(argv)


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _machine_name(facts: dict[str, Any]) -> str:
    if facts["device"].startswith("cuda"):
        return "cuda-" + re.sub(r"[^a-z0-9]+", "-", facts["device_name"].lower()).strip("-")
    return f"cpu-{facts['usable_cpu_count']}core"


def _section(report: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one section, keeping its error in the report instead of losing the others."""
    print(f"[bench] {name} ...", flush=True)
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as e:  # noqa: BLE001 - a benchmark report records the failure and goes on
        report.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
        value = None
    print(f"[bench] {name} done in {time.perf_counter() - start:.1f} s", flush=True)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    # Run as a script: import the benchmarks package from the repository root, not its modules from their folder.
    script_dir = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != script_dir]
    sys.path.insert(0, str(REPO_ROOT))
    args = parse_args(argv)

    import torch

    from benchmarks.common import bundle_config, config_files, load_average, machine_facts
    from benchmarks.data import data_benchmark
    from benchmarks.inference import (
        generator_benchmark,
        reference_generator,
        volume_benchmark,
        write_checkpoint,
        write_volume,
    )
    from benchmarks.peak import matmul_peak
    from benchmarks.profiling import top_ops
    from benchmarks.report import overall_memory, print_table, targets
    from benchmarks.training import IMAGE_DEFINITION, train_benchmark, with_flops
    from monai_cyclegan.files import write_json
    from monai_cyclegan.handlers import source_commit

    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    sections = set(args.sections.split(","))
    quick = args.quick
    iterations = args.iterations or (2 if quick else 3)
    batch_sizes = args.batch_sizes or ([1, 2] if quick else [1, 4])
    infer_slices = args.infer_slices or (8 if quick else 16)
    peak_n = args.peak_n or (512 if quick else (8192 if device.type == "cuda" else 4096))
    max_batch = args.max_batch if args.max_batch is not None else (64 if device.type == "cuda" else 0)
    profile = "profile" in sections and not args.no_profile

    model = dict(QUICK_MODEL) if quick else {}
    user = _overrides(args.set)
    common = {**model, "device": f"$torch.device('{device.type}')", **user}
    train_files = config_files("train", args.config)
    infer_files = config_files("inference", args.config)

    merged = bundle_config(train_files, common)
    image_size = int(merged.get_parsed_content("image_size"))
    fov_mm = float(merged.get_parsed_content("fov_mm"))
    volume_shape = args.volume_shape or ([image_size, image_size, max(4, round(150 * image_size / 256))] if quick else
                                         [256, 256, 150])  # fmt: skip
    volume_spacing = fov_mm / image_size if quick else 1.0

    tmp = tempfile.TemporaryDirectory(prefix="monai_cyclegan_bench_")
    work = Path(tmp.name)
    phantom_dir = args.phantom_dir or work / "phantom"
    train_common = {**common, **(QUICK_TRAIN if quick else {}), "dataset_dir": "", "phantom_dir": str(phantom_dir)}
    train_common.update(user)

    report: dict[str, Any] = {
        "benchmark": "monai_cyclegan benchmarks/run.py",
        "commit": source_commit(REPO_ROOT) or "unknown",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": load_average(),
        "machine": machine_facts(device),
        "settings": {
            "quick": quick,
            "configs": [
                str(Path(f).relative_to(REPO_ROOT)) if REPO_ROOT in Path(f).parents else f for f in train_files
            ],
            "overrides": {k: v for k, v in train_common.items() if k != "phantom_dir"},
            "image_size": image_size,
            "ngf": merged.get_parsed_content("ngf"),
            "generator": merged.get("generator_def", {}).get("_target_"),
            "amp_in_config": bool(merged.get_parsed_content("amp")),
            "batch_sizes": batch_sizes,
            "timed_iterations": iterations,
            "warmup_iterations": args.warmup,
            "infer_batch_sizes": args.infer_batch_sizes,
            "infer_slices": infer_slices,
            "volume_shape": volume_shape,
            "volume_spacing_mm": volume_spacing,
            "peak_matrix_n": peak_n,
            "inference_weights": args.checkpoint or "random init (N(0, 0.02), as a fresh bundle)",
            "image_definition": IMAGE_DEFINITION,
        },
    }
    peak: dict[str, Any] = {}
    if "peak" in sections or "training" in sections or "inference" in sections:
        peak = _section(report, "peak", lambda: matmul_peak(device, peak_n)) or {}
        report["peak_matmul"] = peak

    dataset = None
    if "data" in sections or "training" in sections:
        result = _section(report, "data", lambda: data_benchmark(train_files, train_common, args.data_epochs, device))
        if result is not None:
            report["data_pipeline"], dataset = result

    profiles: dict[str, Any] = {}
    if "training" in sections:
        runs: dict[str, Any] = {}
        amp_variants: list[tuple[str, bool, Any]] = [("fp32", False, None), ("amp", True, None)]
        if device.type == "cuda":
            amp_variants.append(("amp_bf16", True, torch.bfloat16))
        for batch in batch_sizes:
            flops = None
            for label, amp, dtype in amp_variants:
                name = f"batch{batch}_{label}"

                def one(batch: int = batch, amp: bool = amp, dtype: Any = dtype, count: bool = flops is None) -> Any:
                    return train_benchmark(
                        train_files, train_common, batch, amp, iterations, args.warmup, device, peak, work,
                        dataset=dataset, amp_dtype=dtype, count=count,
                    )  # fmt: skip

                result = _section(report, f"training {name}", one)
                if result is None:
                    continue
                run, trainer = result
                if flops is None:
                    flops = run.get("flop_per_iter")
                else:
                    run = with_flops(run, flops, peak)
                runs[name] = run
                if profile and batch == batch_sizes[0] and label in ("fp32", "amp"):
                    profiles[f"training_{name}"] = _section(
                        report, f"profile training {name}", lambda t=trainer: _profile_iteration(t, device, top_ops)
                    )
                del trainer, result
                gc.collect()
        if max_batch > 0:
            runs["largest_batch"] = _section(
                report,
                "largest batch",
                lambda: _largest_batch(
                    train_files, train_common, iterations, args.warmup, device, peak, work, max_batch
                ),
            )
        report["training"] = {
            "image_definition": IMAGE_DEFINITION,
            "runs": runs,
            "speedup_amp_over_fp32": _speedups(runs, batch_sizes),
        }

    if "inference" in sections:
        volume = write_volume(work / "volume" / "bench-T1.nii.gz", volume_shape, volume_spacing)
        infer_common = dict(common)
        network = reference_generator(infer_files, infer_common, args.checkpoint)
        checkpoint = write_checkpoint(network, work / "weights" / "model.pt")
        inference: dict[str, Any] = {}
        inference["generator"] = _section(
            report,
            "inference generator",
            lambda: generator_benchmark(
                network, volume, device, args.infer_batch_sizes, infer_slices, peak, image_size
            ),
        )
        # One short volume first, not counted: the first translation of a process pays one-off costs (imports,
        # readers and writers, the first allocations) that would otherwise land on whichever precision runs first.
        small = write_volume(work / "volume_warmup" / "warmup-T1.nii.gz", [*volume_shape[:2], 8], volume_spacing)
        warmup = _section(
            report,
            "inference volume warm-up",
            lambda: volume_benchmark(infer_files, infer_common, small, checkpoint, work / "warm", device),
        )
        if warmup is not None:
            inference["volume_warmup"] = {k: warmup[k] for k in ("input_shape", "wall_s", "network_s")}
        for precision in ("fp32", "bf16"):
            inference[f"volume_{precision}"] = _section(
                report,
                f"inference volume {precision}",
                lambda p=precision: volume_benchmark(
                    infer_files, infer_common, volume, checkpoint, work / f"infer_{p}", device, precision=p
                ),
            )
        report["inference"] = inference
        if profile:
            x = torch.randn(max(args.infer_batch_sizes), 1, image_size, image_size, device=device).clamp(-1, 1)
            for precision, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
                profiles[f"inference_{precision}_batch{x.shape[0]}"] = _section(
                    report,
                    f"profile inference {precision}",
                    lambda d=dtype: top_ops(lambda: _infer(network, x, device, d), device),
                )
        del network
        gc.collect()
    if profiles:
        report["profile"] = profiles

    report["load_average_at_end"] = load_average()
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    report["peak_memory"] = overall_memory(report)
    report["targets"] = targets(report, device)
    out = args.out or REPO_ROOT / "benchmarks" / "results" / f"{_machine_name(report['machine'])}.json"
    write_json(out, report, indent=2)
    print_table(report)
    print(f"[bench] report written to {out}")
    tmp.cleanup()
    return 1 if report.get("errors") else 0


def _infer(network: Any, x: Any, device: Any, dtype: Any) -> Any:
    import torch

    network = network.to(device).eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        return network(x)


def _profile_iteration(trainer: Any, device: Any, top_ops: Callable) -> dict[str, Any]:
    """Profile one more training iteration of ``trainer`` on a batch of its own loader."""
    batch = next(iter(trainer.data_loader))  # the trainer is warm: it has just run its timed iterations
    return top_ops(lambda: trainer._iteration(trainer, batch), device)


def _largest_batch(
    files: list[str],
    overrides: dict[str, Any],
    iterations: int,
    warmup: int,
    device: Any,
    peak: dict[str, Any],
    work: Path,
    max_batch: int,
) -> dict[str, Any]:
    """Images per second at growing batches (doubling from 1) until the GPU runs out of memory or ``max_batch``.

    Batches larger than the phantom's number of subjects draw several slices per volume
    (``slices_per_volume``), since a batch cannot hold more items than the dataset.
    """
    import torch

    from benchmarks.common import bundle_config
    from benchmarks.training import train_benchmark

    items = int(bundle_config(files, overrides).get_parsed_content("phantom_subjects"))
    results: dict[str, Any] = {}
    batch = 1
    while batch <= max_batch:
        batch_size = min(batch, items)
        per_volume = math.ceil(batch / batch_size)
        try:
            run, trainer = train_benchmark(
                files, overrides, batch_size, True, iterations, warmup, device, peak, work,
                slices_per_volume=per_volume, count=False,
            )  # fmt: skip
            del trainer
            results[f"images{batch}"] = {k: run[k] for k in ("images_per_iter", "s_per_iter", "images_per_s", "memory")}
        except torch.cuda.OutOfMemoryError:
            results[f"images{batch}"] = "out of memory"
            break
        finally:
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        batch *= 2
    fitted = [k for k, v in results.items() if isinstance(v, dict)]
    results["largest_fitting"] = fitted[-1] if fitted else None
    if fitted:  # the same batch in float32, for the speed-up of mixed precision there
        batch = int(fitted[-1][len("images") :])
        batch_size = min(batch, items)
        try:
            run, trainer = train_benchmark(
                files, overrides, batch_size, False, iterations, warmup, device, peak, work,
                slices_per_volume=math.ceil(batch / batch_size), count=False,
            )  # fmt: skip
            del trainer
            results["largest_fitting_fp32"] = {k: run[k] for k in ("images_per_iter", "s_per_iter", "images_per_s")}
            results["speedup_amp_over_fp32"] = round(results[fitted[-1]]["images_per_s"] / run["images_per_s"], 3)
        except torch.cuda.OutOfMemoryError:
            results["largest_fitting_fp32"] = "out of memory"
        finally:
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    return results


def _speedups(runs: dict[str, Any], batch_sizes: list[int]) -> dict[str, float]:
    """Images per second of each mixed-precision run over its batch's float32 run."""
    speedups = {}
    for batch in batch_sizes:
        fp32 = runs.get(f"batch{batch}_fp32")
        for name, run in runs.items():
            if name.startswith(f"batch{batch}_amp") and fp32 and run:
                speedups[name] = round(run["images_per_s"] / fp32["images_per_s"], 3)
    return speedups


if __name__ == "__main__":
    sys.exit(main())
