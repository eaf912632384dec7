"""Where the time goes: ``torch.profiler`` top operators of one training iteration and of one inference batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["top_ops"]


def top_ops(fn: Callable[[], Any], device: torch.device, rows: int = 15) -> dict[str, Any]:
    """Run ``fn`` once under ``torch.profiler`` and return its most expensive operators by self time.

    Self time excludes the operators an operator calls, so the rows add up (``self_share`` of the profiled total).
    On CUDA the ranking is by self device time.
    """
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    events = prof.key_averages()
    on_device = device.type == "cuda"

    def self_us(e: Any) -> float:
        return float(getattr(e, "self_device_time_total", 0.0) if on_device else e.self_cpu_time_total)

    total = sum(self_us(e) for e in events) or 1.0
    ranked = sorted(events, key=self_us, reverse=True)[:rows]
    return {
        "ranked_by": "self_device_time" if on_device else "self_cpu_time",
        "total_self_s": round(total / 1e6, 4),
        "ops": [
            {
                "name": e.key,
                "calls": int(e.count),
                "self_s": round(self_us(e) / 1e6, 4),
                "self_share": round(self_us(e) / total, 4),
            }
            for e in ranked
        ],
    }
