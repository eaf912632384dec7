"""The machine's own peak, measured in the same run: the best rate of large square matrix products per precision."""

from __future__ import annotations

import time
from typing import Any

import torch

from benchmarks.common import synchronize

__all__ = ["count_flops", "matmul_peak", "peak_for"]


def _one_rate(n: int, dtype: torch.dtype, device: torch.device, repeats: int) -> dict[str, Any]:
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    flops = 2.0 * n**3
    torch.mm(a, b)  # warm-up: library initialisation, thread pool, packing buffers
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        times.append(time.perf_counter() - start)
    best = min(times)
    return {
        "n": n,
        "flop_per_matmul": flops,
        "best_s": round(best, 5),
        "median_s": round(sorted(times)[len(times) // 2], 5),
        "gflop_per_s": round(flops / best / 1e9, 2),
    }


def matmul_peak(device: torch.device, n: int, repeats: int = 3) -> dict[str, Any]:
    """Best ``torch.mm`` rate of an ``n x n`` by ``n x n`` product in fp32 and bf16 (and fp16 on CUDA).

    The best of ``repeats`` timed products after one warm-up. On CUDA, fp32 follows the current TF32 setting
    (``torch.backends.cuda.matmul.allow_tf32``), which is recorded alongside.
    """
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    if device.type == "cuda":
        dtypes["fp16"] = torch.float16
    out: dict[str, Any] = {name: _one_rate(n, dtype, device, repeats) for name, dtype in dtypes.items()}
    if device.type == "cuda":
        out["fp32"]["allow_tf32"] = torch.backends.cuda.matmul.allow_tf32
    return out


def peak_for(peak: dict[str, Any], precision: str) -> float:
    """The measured peak in FLOP/s of ``precision`` (``fp32``, ``bf16`` or ``fp16``)."""
    return float(peak[precision]["gflop_per_s"]) * 1e9


def count_flops(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """FLOPs of one call of ``fn`` by ``torch.utils.flop_counter.FlopCounterMode`` (forward and any backward in it).

    The counter covers matrix products and convolutions (their forward and backward), the operations that dominate a
    convolutional network; element-wise work and normalisation are not counted.

    Returns:
        ``(flops, fn's result)``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        result = fn(*args, **kwargs)
    return float(counter.get_total_flops()), result
