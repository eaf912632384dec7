"""Translation benchmark (issue 16): real IXI geometry end to end, a folder at throughput, the memory of a large volume.

Run by hand from the repository root (never from the tests)::

    python benchmarks/translation.py        # writes the "translation" section of benchmarks/results/<machine>.json
    python benchmarks/translation.py --quick --out /tmp/translation.json   # tiny sizes: a smoke test

Every translation runs the README's command, ``python -m monai.bundle run --config_file
bundles/ixi_t1t2_cyclegan/configs/inference.json --input_path X --output_dir Y``, as a child process, so the times
include the process start and the imports, and each child's peak resident memory is its own (``wait4``). Weights are
the default generator (``network_def``: U-Net 256, ngf 64) initialised at random and saved as ``model.pt``: the speed
and memory of a translation do not depend on the weights. Sections:

* ``start_up``: ``monai-cyclegan --help``, ``import monai``, and the imports of the inference config;
* ``ixi_t1``: one IXI-shaped T1 (the phantom's sagittal 150x256x256 at 1.2x0.94x0.94 mm, or ``--ixi-t1 FILE``), with
  the config as shipped, with the full slab (``foreground_only`` false) and with the transposed convolutions
  (``phase_convolutions`` false) for comparison, each other output compared with the shipped one on the head (PSNR,
  largest difference);
* ``folder``: a folder of ``--folder-size`` IXI-shaped volumes in one run (the model loaded once): volumes per minute,
  per-volume seconds from ``translation_report.csv``, with ``num_workers`` 0 (shipped) and 1;
* ``memory``: peak resident memory of a synthetic 512x512x400 head (0.5 mm voxels) and of the same with half the
  slices, against the size of its arrays, with and without ``foreground_only``.

Without ``--out`` the section is merged into ``benchmarks/results/<machine>.json`` (the other sections of
``benchmarks/run.py`` are kept). Timings on a machine that other processes share are only indicative: the report
records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024.0 * 1024.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=None, help="JSON report (default: merged into results/<machine>.json)")
    p.add_argument("--quick", action="store_true", help="tiny model (32 px, ngf 4) and volumes: a smoke test")
    p.add_argument("--repeats", type=int, default=3, help="runs of the IXI-shaped T1 (default 3; the median counts)")
    p.add_argument("--folder-size", type=int, default=10, help="volumes in the folder run (default 10)")
    p.add_argument("--memory-shape", default="512,512,400", help="the large volume (default 512,512,400)")
    p.add_argument("--memory-spacing", type=float, default=0.5, help="its voxel size, mm (default 0.5)")
    p.add_argument("--ixi-t1", type=Path, default=None, help="a real IXI T1 to time instead of the phantom's")
    p.add_argument("--data-dir", type=Path, default=None, help="reuse a phantom data set (default: write one)")
    p.add_argument("--checkpoint", default=None, help="generator weights (default: random init of network_def)")
    p.add_argument("--sections", default="start_up,ixi_t1,folder,memory", help="comma-separated subset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config override for every run")
    return p.parse_args(argv)


def _peak_rss_kib(pid: int) -> int | None:
    """The high-water mark of a live process's resident memory (``VmHWM``), KiB; None once it has exited."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _child(cmd: Sequence[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` as a child process: wall seconds, its own CPU seconds and peak resident memory, exit status.

    The peak is the child's ``VmHWM``, read every 20 ms while it runs: the ``ru_maxrss`` of a child also counts the
    pages of this (larger) process that it held between fork and exec.
    """
    start = time.perf_counter()
    peak = 0
    with log.open("w") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, _peak_rss_kib(proc.pid) or 0)
            time.sleep(0.02)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_rss_mib": round(peak / 1024.0, 1),
        "exit_status": proc.returncode,
    }
    if proc.returncode != 0:
        result["log_tail"] = log.read_text()[-2000:]
    return result


def _bundle_command(input_path: Path, output_dir: Path, checkpoint: Path, overrides: dict[str, str]) -> list[str]:
    """The README's inference command, with the weights and ``overrides``."""
    from monai_cyclegan.bundle import bundle_dir

    cmd = [
        sys.executable,
        "-m",
        "monai.bundle",
        "run",
        "--config_file",
        str(bundle_dir() / "configs" / "inference.json"),
    ]
    cmd += ["--input_path", str(input_path), "--output_dir", str(output_dir), "--checkpoint", str(checkpoint)]
    for key, value in overrides.items():
        cmd += [f"--{key}", str(value)]
    return cmd


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get("exit_status") == 0]
    return round(statistics.median(values), 3) if values else None


def start_up(work: Path) -> dict[str, Any]:
    """Seconds to the first line of ``monai-cyclegan --help`` and of importing what the inference config imports."""
    imports = "import monai, monai.bundle, monai_cyclegan.bundle, monai_cyclegan.data, monai_cyclegan.transforms"
    imports += ", monai_cyclegan.transforms.inference, monai_cyclegan.translation"
    commands = {
        "cli_help": [sys.executable, "-m", "monai_cyclegan.cli", "--help"],
        "import_torch": [sys.executable, "-c", "import torch"],
        "import_monai": [sys.executable, "-c", "import monai"],
        "import_inference_config": [sys.executable, "-c", imports],
    }
    out = {}
    for name, cmd in commands.items():
        runs = [_child(cmd, work / f"{name}.log") for _ in range(3)]
        out[f"{name}_s"] = _median(runs, "wall_s")
    return out


def head_slices(path: Path, image_size: int, fov_mm: float) -> dict[str, Any]:
    """The model-grid shape of a volume and how many of its axial slices the generator sees (foreground + margin)."""
    from monai_cyclegan.inferers import ForegroundSliceInferer
    from monai_cyclegan.transforms.inference import translation_preprocessing

    image = translation_preprocessing("volume", image_size, fov_mm)({"image": str(path)})["image"]
    kept = ForegroundSliceInferer((image_size, image_size)).kept_slices(image.as_tensor())
    return {"model_grid_shape": list(image.shape[1:]), "slices_translated": int(kept.numel())}


def compare_on_head(source: Path, fast: Path, full: Path) -> dict[str, Any]:
    """The shipped output against another variant's, on the input's head (above 10% of its robust upper bound)."""
    import nibabel as nib
    import numpy as np

    from monai_cyclegan.transforms import RobustScaleIntensity

    data = np.asarray(nib.load(str(source)).dataobj, dtype=np.float32)
    head = data > 0.1 * RobustScaleIntensity().upper_bound(data)
    a = np.asarray(nib.load(str(fast)).dataobj, dtype=np.float64)[head]
    b = np.asarray(nib.load(str(full)).dataobj, dtype=np.float64)[head]
    mse = float(np.mean((a - b) ** 2))
    return {
        "head_voxels": int(head.sum()),
        "psnr_db_on_head": None if mse == 0 else round(10 * math.log10(1.0 / mse), 2),
        "identical_on_head": mse == 0,
        "max_abs_diff_on_head": float(np.abs(a - b).max()),
    }


# The IXI-shaped T1's runs: as shipped, with MONAI's SliceInferer on every slice (as before issue 16), and with the
# generator's transposed convolutions run as such instead of in their phase form.
IXI_VARIANTS = {
    "shipped": {},
    "full_slab": {"foreground_only": "false"},
    "transposed": {"phase_convolutions": "false"},
}


def ixi_t1(volume: Path, checkpoint: Path, work: Path, repeats: int, model: dict[str, Any]) -> dict[str, Any]:
    """The README command on one IXI-shaped T1, as shipped and in each other variant, ``repeats`` times each."""
    import nibabel as nib

    image = nib.load(str(volume))
    out: dict[str, Any] = {
        "input": volume.name,
        "input_shape": list(image.shape),
        "input_spacing_mm": [round(float(z), 4) for z in image.header.get_zooms()[:3]],
        "input_axcodes": "".join(nib.aff2axcodes(image.affine)),
        **head_slices(volume, int(model.get("image_size", 256)), float(model.get("fov_mm", 256.0))),
    }
    for variant, overrides in IXI_VARIANTS.items():
        runs = []
        for i in range(repeats):
            target = work / f"{variant}_{i}"
            cmd = _bundle_command(volume, target, checkpoint, {**model, **overrides})
            runs.append(_child(cmd, work / f"{variant}_{i}.log"))
        out[variant] = {
            "runs": runs,
            "wall_s_median": _median(runs, "wall_s"),
            "cpu_s_median": _median(runs, "cpu_s"),
            "peak_rss_mib_max": max((r["peak_rss_mib"] for r in runs), default=None),
        }
    shipped = next((work / "shipped_0").glob("*.nii.gz"), None)
    for variant in IXI_VARIANTS:
        other = next((work / f"{variant}_0").glob("*.nii.gz"), None)
        if variant != "shipped" and shipped and other:
            out[f"shipped_vs_{variant}"] = compare_on_head(volume, shipped, other)
    return out


def folder(volumes: list[Path], checkpoint: Path, work: Path, model: dict[str, Any]) -> dict[str, Any]:
    """One run over a folder of ``volumes`` per ``num_workers`` (0: as shipped; 1: the next volume prepared in a
    data-loader process meanwhile): volumes per minute and the per-volume seconds of its report."""
    import csv

    folder_in = work / "folder_in"
    folder_in.mkdir()
    for i, source in enumerate(volumes):
        shutil.copyfile(source, folder_in / f"{i:03d}-{source.name}")
    out: dict[str, Any] = {"volumes": len(volumes)}
    for workers in (0, 1):
        out_dir = work / f"folder_out_{workers}"
        cmd = _bundle_command(folder_in, out_dir, checkpoint, {**model, "num_workers": workers})
        run = _child(cmd, work / f"folder_{workers}.log")
        entry: dict[str, Any] = {"run": run}
        report = out_dir / "translation_report.csv"
        if report.is_file():
            with report.open() as f:
                rows = list(csv.DictReader(f))
            seconds = [float(r["seconds"]) for r in rows if r["status"] == "translated"]
            entry["translated"] = len(seconds)
            entry["volumes_per_min_end_to_end"] = round(60.0 * len(seconds) / run["wall_s"], 2)
            if seconds:
                entry["per_volume_s"] = {
                    "median": round(statistics.median(seconds), 3),
                    "min": round(min(seconds), 3),
                    "max": round(max(seconds), 3),
                    "first": round(seconds[0], 3),
                }
        out[f"num_workers_{workers}"] = entry
    return out


# The bundle override that inverts with MONAI's Invertd (one float64 grid of the whole output) instead of the shipped
# slab-by-slab InvertToInputd (the first step of inference.json's postprocessing).
MONAI_INVERSION = {"postprocessing#transforms#0#_target_": "Invertd"}
MEMORY_VARIANTS = {"shipped": {}, "monai_invertd": MONAI_INVERSION, "full_slab": {"foreground_only": "false"}}


def memory(shape: list[int], spacing: float, checkpoint: Path, work: Path, model: dict[str, Any]) -> dict[str, Any]:
    """Peak RSS translating a synthetic head of ``shape`` and one with half its slices: as shipped (inversion slab by
    slab, :class:`~monai_cyclegan.transforms.inference.InvertToInputd`), with MONAI's ``Invertd``, and with the full
    slab."""
    from benchmarks.inference import write_volume

    out: dict[str, Any] = {"spacing_mm": spacing}
    for label, slices in (("full", shape[2]), ("half", max(1, shape[2] // 2))):
        size = [shape[0], shape[1], slices]
        volume = write_volume(work / f"memory_{label}" / "big-T1.nii.gz", size, spacing)
        voxels = math.prod(size)
        entry: dict[str, Any] = {
            "shape": size,
            "input_int16_mib": round(2 * voxels / MIB, 1),
            "volume_float32_mib": round(4 * voxels / MIB, 1),
        }
        for variant, overrides in MEMORY_VARIANTS.items():
            out_dir = work / f"memory_{label}_{variant}"
            cmd = _bundle_command(volume, out_dir, checkpoint, {**model, **overrides})
            entry[variant] = _child(cmd, work / f"memory_{label}_{variant}.log")
            shutil.rmtree(out_dir, ignore_errors=True)  # about 0.5 GB of float32 output per run at full size
        out[label] = entry
    full, half = out["full"], out["half"]
    for variant in MEMORY_VARIANTS:
        if full[variant]["exit_status"] == 0 and half[variant]["exit_status"] == 0:
            # the memory each additional float32 volume-size array of input voxels costs: the slope over the two sizes
            extra = full[variant]["peak_rss_mib"] - half[variant]["peak_rss_mib"]
            added = full["volume_float32_mib"] - half["volume_float32_mib"]
            out[f"{variant}_rss_per_float32_volume"] = round(extra / added, 2)
            fixed = full[variant]["peak_rss_mib"] - extra / added * full["volume_float32_mib"]
            out[f"{variant}_rss_at_zero_voxels_mib"] = round(fixed, 1)
    return out


def _phantom_volumes(data_dir: Path | None, work: Path, quick: bool) -> list[Path]:
    """T1 volumes on IXI's grid: those of ``data_dir``, or of a phantom written now (2 subjects)."""
    from monai_cyclegan.data.phantom import write_phantom_dataset

    if data_dir is None:
        data_dir = work / "phantom"
        write_phantom_dataset(data_dir, num_subjects=2, scale=0.25 if quick else 1.0)
    volumes = sorted((data_dir / "IXI-T1").glob("*.nii.gz"))
    if not volumes:
        raise FileNotFoundError(f"{data_dir}/IXI-T1 holds no NIfTI volume.")
    return volumes


def main(argv: Sequence[str] | None = None) -> int:
    script_dir = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != script_dir]
    sys.path.insert(0, str(REPO_ROOT))
    args = parse_args(argv)

    import torch

    from benchmarks.common import config_files, load_average, machine_facts
    from benchmarks.inference import reference_generator, write_checkpoint
    from benchmarks.run import _section
    from monai_cyclegan.files import write_json
    from monai_cyclegan.handlers import source_commit

    sections = set(args.sections.split(","))
    model: dict[str, Any] = {"image_size": 32, "ngf": 4} if args.quick else {}
    model.update(dict(pair.split("=", 1) for pair in args.set))
    memory_shape = [int(v) for v in args.memory_shape.split(",")]
    if args.quick:
        memory_shape = [64, 64, 40]
    device = torch.device("cpu")
    report: dict[str, Any] = {
        "benchmark": "monai_cyclegan benchmarks/translation.py",
        "command": "python benchmarks/translation.py" + (" " + " ".join(argv) if argv else ""),
        "commit": source_commit(REPO_ROOT) or "unknown",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": load_average(),
        "machine": {k: v for k, v in machine_facts(device).items() if k != "hostname"},
        "settings": {"quick": args.quick, "overrides": model, "weights": args.checkpoint or "random init"},
        "note": "CPU only; no GPU was used for these numbers.",
    }
    with tempfile.TemporaryDirectory(prefix="monai_cyclegan_translation_") as tmp:
        work = Path(tmp)
        checkpoint = Path(args.checkpoint) if args.checkpoint else None
        if checkpoint is None:
            torch.manual_seed(0)
            network = reference_generator(config_files("inference"), model, None)
            checkpoint = write_checkpoint(network, work / "weights" / "model.pt")
            del network
        volumes: list[Path] = []
        if sections & {"ixi_t1", "folder"}:
            volumes = _phantom_volumes(args.data_dir, work, args.quick)
        steps = [
            ("start_up", lambda: start_up(work)),
            ("ixi_t1", lambda: ixi_t1(args.ixi_t1 or volumes[0], checkpoint, work / "ixi_t1", args.repeats, model)),
            (
                "folder",
                lambda: folder(
                    [volumes[i % len(volumes)] for i in range(args.folder_size)], checkpoint, work / "folder", model
                ),
            ),  # fmt: skip
            ("memory", lambda: memory(memory_shape, args.memory_spacing, checkpoint, work / "memory", model)),
        ]
        for name, step in steps:
            if name in sections:
                (work / name).mkdir(exist_ok=True)
                value = _section(report, name, step)
                if value is not None:
                    report[name] = value
    report["load_average_at_end"] = load_average()
    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    ixi = report.get("ixi_t1", {}).get("shipped", {}).get("wall_s_median")
    two_cores = report["machine"].get("usable_cpu_count") == 2 and not args.quick
    report["targets"] = {
        "ixi_t1_end_to_end_s_max": 10.0,
        "ixi_t1_end_to_end_s": ixi,
        "met": (ixi <= 10.0) if (ixi is not None and two_cores) else None,
    }
    if args.out is not None:
        write_json(args.out, report, indent=2)
        target = args.out
    else:
        cores = report["machine"].get("usable_cpu_count")
        target = REPO_ROOT / "benchmarks" / "results" / f"cpu-{cores}core.json"
        existing = json.loads(target.read_text()) if target.is_file() else {}
        existing["translation"] = report
        write_json(target, existing, indent=2)
    print(json.dumps({k: report.get(k) for k in ("start_up", "targets")}, indent=1))
    print(f"[translation] report written to {target}")
    return 1 if report.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
