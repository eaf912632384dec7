"""The training data pipeline alone: phantom generation, cache fill, and samples per second from the data loader."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from benchmarks.common import SectionMeter, bundle_config, quiet, summary_stats

__all__ = ["data_benchmark"]


def data_benchmark(
    files: Sequence[str], overrides: dict[str, Any], epochs: int, device: torch.device
) -> tuple[dict[str, Any], Any]:
    """Build ``train#dataset`` and ``train#dataloader`` of the bundle's train config and iterate the loader.

    A sample is one item of the unpaired dataset: one domain-A (T1) slice and one domain-B (T2) slice, as the trainer
    consumes them; ``images_per_batch`` counts them per batch (``batch_size * slices_per_volume``). The caching of the
    deterministic preprocessing happens when the dataset is built (``CacheDataset``), so it is timed on its own
    (``cache_fill_s``); the first epoch then adds the start of the loader's worker processes, and later epochs start
    them again (the bundle's loader has no persistent workers), which is what training sees at each epoch.

    Returns:
        ``(result, dataset)``: the numbers, and the built dataset so that the training benchmarks reuse its cache.
    """
    parser = bundle_config(files, overrides)
    out: dict[str, Any] = {
        "definition": "sample = one unpaired training item (one domain-A and one domain-B slice); samples_per_s counts "
        "slices of one domain per second",
        "batch_size": parser.get_parsed_content("batch_size"),
        "num_workers": parser.get_parsed_content("num_workers"),
        "slices_per_volume": parser.get_parsed_content("slices_per_volume"),
        "cache_rate": parser.get_parsed_content("cache_rate"),
    }
    with SectionMeter(device) as memory:
        start = time.perf_counter()
        with quiet():
            data_dir = parser.get_parsed_content("data_dir")
        out["phantom_or_dataset_s"] = round(time.perf_counter() - start, 3)
        out["data_dir"] = str(data_dir)
        start = time.perf_counter()
        dataset = parser.get_parsed_content("train#dataset")
        out["cache_fill_s"] = round(time.perf_counter() - start, 3)
        out["dataset_items"] = len(dataset)
        loader = parser.get_parsed_content("train#dataloader")
        per_epoch = []
        within_epoch_batches: list[float] = []
        samples_within = 0
        for epoch in range(epochs):
            samples, batch_times = 0, []
            start = last = time.perf_counter()
            for batch in loader:
                now = time.perf_counter()
                batch_times.append(now - last)
                last = now
                n = int(batch["A"].shape[0])
                samples += n
                if len(batch_times) > 1:  # after the first batch of the epoch: no worker start-up
                    within_epoch_batches.append(batch_times[-1])
                    samples_within += n
                out.setdefault("images_per_batch", n)
                out.setdefault("image_shape", list(batch["A"].shape[1:]))
            seconds = time.perf_counter() - start
            per_epoch.append(
                {
                    "epoch": epoch + 1,
                    "samples": samples,
                    "s": round(seconds, 4),
                    "samples_per_s": round(samples / seconds, 2),
                    "first_batch_s": round(batch_times[0], 4) if batch_times else None,
                }
            )
    out["epochs"] = per_epoch
    out["first_epoch_samples_per_s"] = per_epoch[0]["samples_per_s"]
    steady = per_epoch[1:] or per_epoch
    steady_samples = sum(e["samples"] for e in steady)
    steady_seconds = sum(e["s"] for e in steady)
    out["steady_samples_per_s"] = round(steady_samples / steady_seconds, 2)
    if within_epoch_batches:
        out["within_epoch_samples_per_s"] = round(samples_within / sum(within_epoch_batches), 2)
        out["within_epoch_batch_wait"] = summary_stats(within_epoch_batches)
    out["memory"] = memory.result()
    return out, dataset
