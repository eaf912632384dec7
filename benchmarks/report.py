"""The targets of issue 5 checked against a report, and the short table printed at the end of a run."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["TARGETS", "overall_memory", "print_table", "targets"]

TARGETS = {
    "training_fraction_of_peak_min": 0.6,
    "volume_wall_s_max": 10.0,
    "bf16_psnr_drop_db_max": 0.5,
    "data_over_training_ratio_min": 5.0,
}


def _get(report: dict[str, Any], *keys: str) -> Any:
    value: Any = report
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _memories(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value["memory"]] if isinstance(value.get("memory"), dict) else []
        return found + [m for k, v in value.items() if k != "memory" for m in _memories(v)]
    return []


def overall_memory(report: dict[str, Any]) -> dict[str, Any]:
    """The largest peaks over every section of the report (host RSS of the process and of one child; GPU)."""
    memories = _memories(report)
    out: dict[str, Any] = {}
    for key in ("host_peak_rss_mib", "children_peak_rss_mib", "gpu_peak_allocated_mib", "gpu_peak_reserved_mib"):
        values = [m[key] for m in memories if m.get(key) is not None]
        if values:
            out[key] = max(values)
    return out


def targets(report: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Each target of the issue with the measured value and whether it is met (None where not measured).

    The wall-time target is stated for 2 CPU cores; on other machines it is reported, not judged.
    """
    out: dict[str, Any] = {"thresholds": TARGETS}
    runs = _get(report, "training", "runs") or {}
    training = {}
    for name, run in runs.items():
        if isinstance(run, dict) and "fraction_of_peak" in run:
            value = run["fraction_of_peak"]
            training[name] = {
                "fraction_of_peak": value,
                "peak_precision": run["peak_precision"],
                "met": value is not None and value >= TARGETS["training_fraction_of_peak_min"],
            }
    out["training_fraction_of_peak"] = training
    volumes = {}
    for precision in ("fp32", "bf16"):
        wall = _get(report, "inference", f"volume_{precision}", "wall_s")
        if wall is not None:
            judged = (
                device.type == "cpu"
                and report["machine"].get("usable_cpu_count") == 2
                and not report["settings"].get("quick")
            )
            volumes[precision] = {
                "wall_s": wall,
                "met": (wall <= TARGETS["volume_wall_s_max"]) if judged else None,
            }
    out["volume_wall_s"] = volumes
    drop = _get(report, "inference", "generator", "bf16_vs_fp32", "worst_psnr_drop_db_at_28db")
    out["bf16_psnr_drop_db"] = {
        "value": drop,
        "psnr_bf16_vs_fp32_db": _get(report, "inference", "generator", "bf16_vs_fp32", "psnr_db"),
        "met": None if drop is None else drop <= TARGETS["bf16_psnr_drop_db_max"],
    }
    data_rate = _get(report, "data_pipeline", "steady_samples_per_s")
    train_rates = [r["images_per_s"] for r in runs.values() if isinstance(r, dict) and "images_per_s" in r]
    if data_rate is not None and train_rates:
        ratio = data_rate / max(train_rates)
        out["data_over_training"] = {
            "data_samples_per_s": data_rate,
            "fastest_training_images_per_s": max(train_rates),
            "ratio": round(ratio, 2),
            "met": ratio >= TARGETS["data_over_training_ratio_min"],
        }
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def print_table(report: dict[str, Any]) -> None:
    """A few lines a person reads: the peak, each training run, inference, the data pipeline, the targets."""
    rows: list[tuple[str, str, str, str]] = []
    for precision, peak in (report.get("peak_matmul") or {}).items():
        if isinstance(peak, dict):
            rows.append((f"peak matmul {precision} n={peak['n']}", _fmt(peak["gflop_per_s"]), "GFLOP/s", ""))
    for name, run in (_get(report, "training", "runs") or {}).items():
        if isinstance(run, dict) and "s_per_iter" in run:
            cpu = _fmt(_get(run, "memory", "cpu_s_per_wall_s"), 2)
            note = (
                f"data {run['data_wait_fraction']:.0%}, {_fmt(run.get('fraction_of_peak'))} of {run['precision']} "
                f"peak, {_fmt(run.get('gflop_per_iter'))} GFLOP/iter, cpu {cpu}"
            )
            rows.append(
                (f"train {name}", _fmt(run["s_per_iter"]), "s/iter", f"{_fmt(run['images_per_s'])} img/s; {note}")
            )
    for name, speedup in (_get(report, "training", "speedup_amp_over_fp32") or {}).items():
        rows.append((f"train {name} vs fp32", _fmt(speedup), "x img/s", ""))
    largest = _get(report, "training", "runs", "largest_batch")
    if isinstance(largest, dict) and largest.get("largest_fitting"):
        run = largest[largest["largest_fitting"]]
        note = f"amp; {_fmt(largest.get('speedup_amp_over_fp32'))}x fp32 at that batch"
        rows.append((f"train largest batch ({run['images_per_iter']:g} img)", _fmt(run["images_per_s"]), "img/s", note))
    generator = _get(report, "inference", "generator") or {}
    for key, value in generator.items():
        if isinstance(value, dict) and "slices_per_s" in value:
            note = f"{_fmt(value['fraction_of_peak'])} of {value['peak_precision']} peak"
            rows.append((f"generator {key}", _fmt(value["slices_per_s"]), "slices/s", note))
    if isinstance(generator.get("bf16_vs_fp32"), dict):
        rows.append(("generator bf16 vs fp32", _fmt(generator["bf16_vs_fp32"]["psnr_db"]), "dB PSNR", ""))
    for precision in ("fp32", "bf16"):
        volume = _get(report, "inference", f"volume_{precision}")
        if isinstance(volume, dict):
            shape = "x".join(str(s) for s in volume["input_shape"])
            note = f"network {_fmt(volume['network_s'])} s" + (", inference.json amp" if precision != "fp32" else "")
            rows.append((f"volume {shape} {precision}", _fmt(volume["wall_s"]), "s end to end", note))
    data = report.get("data_pipeline")
    if isinstance(data, dict):
        note = f"first epoch {_fmt(data['first_epoch_samples_per_s'])}, cache fill {_fmt(data['cache_fill_s'])} s"
        rows.append(("data loader", _fmt(data["steady_samples_per_s"]), "samples/s", note))
    memory = report.get("peak_memory") or {}
    if memory:
        note = f"largest data-loader worker {_fmt(memory.get('children_peak_rss_mib'))} MiB"
        if "gpu_peak_allocated_mib" in memory:
            note += f", GPU {_fmt(memory['gpu_peak_allocated_mib'])} MiB allocated"
        rows.append(("peak host RSS", _fmt(memory.get("host_peak_rss_mib"), 5), "MiB", note))
    ratio = _get(report, "targets", "data_over_training", "ratio")
    if ratio is not None:
        rows.append(("data / training rate", _fmt(ratio), "x", "target >= 5"))
    width = max((len(r[0]) for r in rows), default=10)
    print()
    machine = report["machine"]
    print(f"commit {report.get('commit')}  device {machine['device_name']}  load {report.get('load_average_at_start')}")
    for name, value, unit, note in rows:
        print(f"{name:<{width}}  {value:>9}  {unit:<13} {note}")
    for name, error in (report.get("errors") or {}).items():
        print(f"ERROR {name}: {error}")
