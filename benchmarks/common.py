"""Shared pieces of the benchmarks: machine facts, the measured commit, memory peaks, timing and config building."""

from __future__ import annotations

import contextlib
import io
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigParser, ConfigWorkflow

from monai_cyclegan.bundle import bundle_dir

__all__ = [
    "REPO_ROOT",
    "SectionMeter",
    "bundle_config",
    "config_files",
    "load_average",
    "machine_facts",
    "quiet",
    "summary_stats",
    "synchronize",
    "workflow",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
MIB = 1024.0 * 1024.0


def config_files(kind: str, extra: Sequence[str | Path] = ()) -> list[str]:
    """The bundle's ``train.json`` or ``inference.json`` followed by ``extra`` files merged over it (later wins)."""
    return [str(bundle_dir() / "configs" / f"{kind}.json"), *(str(Path(f).resolve()) for f in extra)]


def bundle_config(files: Sequence[str], overrides: dict[str, Any] | None = None) -> ConfigParser:
    """A ``ConfigParser`` over the merged ``files`` with ``overrides`` applied (nothing instantiated yet)."""
    parser = ConfigParser()
    parser.read_config(list(files))
    parser.update(overrides or {})
    return parser


def workflow(files: Sequence[str], workflow_type: str, overrides: dict[str, Any]) -> ConfigWorkflow:
    """An initialised ``ConfigWorkflow`` of the bundle, checked for its required properties (as ``run_workflow``)."""
    wf = ConfigWorkflow(config_file=list(files), workflow_type=workflow_type, **overrides)
    wf.initialize()
    missing = wf.check_properties()
    if missing:
        raise RuntimeError(f"{files} lack required bundle properties: {missing}")
    return wf


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence stdout (MONAI's config printing, progress output) while building or running a workflow."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (a contended machine shows a load above its benchmark's own threads)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The CPU's vector and matrix extensions that decide fp32 and bf16 speed."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def _mkldnn_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def machine_facts(device: torch.device) -> dict[str, Any]:
    """What was measured on: CPU, cores, threads, versions, accelerator."""
    import ignite
    import monai
    import numpy as np

    try:
        usable_cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        usable_cpus = os.cpu_count()
    facts: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpu_count": usable_cpus,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "python_version": sys.version.split()[0],
        "torch_version": torch.__version__,
        "monai_version": monai.__version__,
        "ignite_version": ignite.__version__,
        "numpy_version": np.__version__,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model(),
        "cuda_version": torch.version.cuda,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_flags": _cpu_flags(),
        "mkldnn_bf16_supported": _mkldnn_bf16(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        facts["gpu_total_memory_mib"] = round(props.total_memory / MIB, 1)
        facts["cuda_matmul_allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
        facts["cudnn_allow_tf32"] = torch.backends.cudnn.allow_tf32
    return facts


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a timer around it measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summary_stats(values: Sequence[float], digits: int = 4) -> dict[str, float]:
    """Mean, median, min and max of timings in seconds."""
    if not values:
        return {}
    return {
        "mean_s": round(statistics.fmean(values), digits),
        "median_s": round(statistics.median(values), digits),
        "min_s": round(min(values), digits),
        "max_s": round(max(values), digits),
    }


class SectionMeter:
    """Peak memory and CPU use of one benchmark section.

    Host: the process's peak resident set (``ru_maxrss``), reset at the start of each section through
    ``/proc/self/clear_refs`` where Linux allows it (otherwise the peak since the process started, flagged in the
    result); the largest peak of any finished child process (data-loader workers), which cannot be reset. GPU: the
    peak of ``torch.cuda.max_memory_allocated`` and ``max_memory_reserved``, reset per section.

    CPU: the process's CPU seconds (all its threads, not its children) per wall second. On a machine of ``n`` cores
    running ``n`` torch threads, a value well below ``n`` during compute means the threads waited: for memory, for
    each other, or for other processes on the same cores (timings taken then are contaminated).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.host_reset = False
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.wall_s = 0.0
        self.cpu_s = 0.0

    def __enter__(self) -> SectionMeter:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self.host_reset = True
        except OSError:
            self.host_reset = False
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self.start
        self.cpu_s = time.process_time() - self.cpu_start

    def result(self) -> dict[str, Any]:
        self_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        child_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out: dict[str, Any] = {
            "host_peak_rss_mib": round(self_kib / 1024.0, 1),
            "host_peak_rss_is_per_section": self.host_reset,
            "children_peak_rss_mib": round(child_kib / 1024.0, 1),
            "section_wall_s": round(self.wall_s, 3),
            "process_cpu_s": round(self.cpu_s, 3),
            "cpu_s_per_wall_s": round(self.cpu_s / self.wall_s, 3) if self.wall_s > 0 else None,
        }
        if self.device.type == "cuda":
            out["gpu_peak_allocated_mib"] = round(torch.cuda.max_memory_allocated(self.device) / MIB, 1)
            out["gpu_peak_reserved_mib"] = round(torch.cuda.max_memory_reserved(self.device) / MIB, 1)
        return out
