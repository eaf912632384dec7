"""Training speed: the bundle's ``CycleGANTrainer`` run by its own train config, timed iteration by iteration."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events

from benchmarks.common import SectionMeter, bundle_config, quiet, summary_stats, synchronize, workflow
from benchmarks.peak import count_flops, peak_for

__all__ = ["IMAGE_DEFINITION", "IterationTimer", "benchmark_initialize", "train_benchmark", "with_flops"]

IMAGE_DEFINITION = (
    "image = one unpaired training pair (one domain-A and one domain-B slice); an iteration over n images runs both "
    "generators' translation, identity and cycle passes and both discriminators, forward and backward"
)

# initialize entries of train.json that only print or draw (config dump, tqdm bar): left out so that the output stays
# readable; every other entry (determinism, flush-denormal, checkpoint saver) runs as in training.
_COSMETIC = ("print_config", "progress_bar")


def benchmark_initialize(files: Sequence[str]) -> list[str]:
    """The merged config's ``initialize`` list without its cosmetic entries."""
    entries = bundle_config(files).get("initialize", [])
    return [e for e in entries if not any(word in str(e) for word in _COSMETIC)]


class IterationTimer:
    """Per-iteration data wait and compute time of an Ignite engine, stopping it after ``total`` iterations.

    Data wait: from the end of the previous iteration (the first: from the first batch request) to the batch being
    ready, so that a data-loader restart at the end of the data is counted. Compute: from the batch being ready to the
    end of every ``ITERATION_COMPLETED`` handler (attach this timer last), with the device synchronised.

    With ``count_first``, the first iteration (a warm-up, left out of the rates) runs under ``FlopCounterMode``, so
    that counting costs no extra iteration; ``flops`` then holds its count.
    """

    def __init__(self, device: torch.device, total: int, count_first: bool = False) -> None:
        self.device = device
        self.total = total
        self.count_first = count_first
        self.flops: float | None = None
        self._counter: Any = None
        self.data_s: list[float] = []
        self.compute_s: list[float] = []
        self.images: list[int] = []
        self._last_end: float | None = None
        self._batch_ready = 0.0

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.GET_BATCH_STARTED, self._batch_started)
        engine.add_event_handler(Events.GET_BATCH_COMPLETED, self._batch_completed)
        engine.add_event_handler(Events.ITERATION_STARTED, self._iteration_started)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._iteration_completed)

    def _iteration_started(self, engine: Engine) -> None:
        if self.count_first and self.flops is None and self._counter is None:
            from torch.utils.flop_counter import FlopCounterMode

            self._counter = FlopCounterMode(display=False)
            self._counter.__enter__()

    def _batch_started(self, engine: Engine) -> None:
        if self._last_end is None:
            self._last_end = time.perf_counter()

    def _batch_completed(self, engine: Engine) -> None:
        self._batch_ready = time.perf_counter()
        self.data_s.append(self._batch_ready - (self._last_end or self._batch_ready))
        self.images.append(int(engine.state.batch["A"].shape[0]))

    def _iteration_completed(self, engine: Engine) -> None:
        if self._counter is not None:
            self._counter.__exit__(None, None, None)
            self.flops = float(self._counter.get_total_flops())
            self._counter = None
        synchronize(self.device)
        self._last_end = time.perf_counter()
        self.compute_s.append(self._last_end - self._batch_ready)
        if len(self.compute_s) >= self.total:
            engine.terminate()


def _precision(device: torch.device, amp: bool, amp_dtype: torch.dtype | None) -> str:
    if not amp:
        return "fp32"
    dtype = amp_dtype or torch.get_autocast_dtype(device.type)
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))


def train_benchmark(
    files: Sequence[str],
    overrides: dict[str, Any],
    batch_size: int,
    amp: bool,
    iterations: int,
    warmup: int,
    device: torch.device,
    peak: dict[str, Any],
    work_dir: Path,
    dataset: Any = None,
    amp_dtype: torch.dtype | None = None,
    slices_per_volume: int | None = None,
    count: bool = True,
) -> tuple[dict[str, Any], Any]:
    """Time ``iterations`` training iterations (after ``warmup``) of the bundle's trainer with every train handler.

    The workflow is the bundle's train config (merged ``files`` plus ``overrides``) with a temporary output folder,
    ``batch_size``, ``amp`` and a loader that drops a last partial batch (so that every timed iteration has the same
    batch). ``dataset``, when given, replaces ``train#dataset`` so that its cache is filled only once.

    Returns:
        ``(result, trainer)``.
    """
    run_dir = work_dir / f"train_b{batch_size}{'_spv' + str(slices_per_volume) if slices_per_volume else ''}"
    run_dir = run_dir.with_name(run_dir.name + ("_amp" if amp else "_fp32") + (f"_{amp_dtype}" if amp_dtype else ""))
    settings: dict[str, Any] = {
        **overrides,
        "batch_size": batch_size,
        "amp": amp,
        "output_dir": str(run_dir / "output"),
        "ckpt_dir": str(run_dir / "models"),
        "train#dataloader#drop_last": True,
        "train#trainer#epoch_length": warmup + iterations,
        "initialize": benchmark_initialize(files),
    }
    if slices_per_volume:
        settings["slices_per_volume"] = slices_per_volume
    if dataset is not None:
        settings["train#dataset"] = dataset
    if amp_dtype is not None:
        settings["amp_dtype"] = str(amp_dtype).removeprefix("torch.")
    precision = _precision(device, amp, amp_dtype)
    with SectionMeter(device) as memory:
        with quiet():
            wf = workflow(files, "train", settings)
        trainer = wf.parser.get_parsed_content("train#trainer")
        # The FLOPs are counted during the first warm-up iteration (or in one more iteration when there is none).
        timer = IterationTimer(device, warmup + iterations, count_first=count and warmup > 0)
        timer.attach(trainer)  # last, so that its ITERATION_COMPLETED handler follows every train handler
        start = time.perf_counter()
        with quiet():
            trainer.run()
        run_s = time.perf_counter() - start
    if len(timer.compute_s) < warmup + iterations:
        raise RuntimeError(f"the trainer stopped after {len(timer.compute_s)} of {warmup + iterations} iterations")
    data_s, compute_s, images = timer.data_s[warmup:], timer.compute_s[warmup:], timer.images[warmup:]
    iter_s = [d + c for d, c in zip(data_s, compute_s, strict=True)]
    mean_iter, mean_data, mean_compute = (statistics.fmean(v) for v in (iter_s, data_s, compute_s))
    n_images = statistics.fmean(images)
    result: dict[str, Any] = {
        "batch_size": batch_size,
        "slices_per_volume": wf.parser.get_parsed_content("slices_per_volume"),
        "images_per_iter": n_images,
        "image_shape": list(trainer.state.batch["A"].shape[1:]) if trainer.state.batch is not None else None,
        "amp": amp,
        "precision": precision,
        "warmup_iterations": warmup,
        "timed_iterations": iterations,
        "first_iteration_s": round(timer.data_s[0] + timer.compute_s[0], 4),
        "s_per_iter": round(mean_iter, 4),
        "s_per_iter_median": round(statistics.median(iter_s), 4),
        "data_wait_s_per_iter": round(mean_data, 4),
        "compute_s_per_iter": round(mean_compute, 4),
        "data_wait_fraction": round(mean_data / mean_iter, 4),
        "images_per_s": round(n_images / mean_iter, 4),
        "compute_only_images_per_s": round(n_images / mean_compute, 4),
        "per_iteration_data_s": [round(v, 4) for v in data_s],
        "per_iteration_compute_s": [round(v, 4) for v in compute_s],
        "iteration_stats": summary_stats(iter_s),
        "run_wall_s": round(run_s, 3),
    }
    if count:
        flops = timer.flops
        if flops is None:
            batch = next(iter(wf.parser.get_parsed_content("train#dataloader")))
            flops, _ = count_flops(trainer._iteration, trainer, batch)
        result.update(_rates(flops, n_images, mean_iter, mean_compute, peak, precision))
    result["memory"] = memory.result()
    return result, trainer


def _rates(
    flops: float, n_images: float, mean_iter: float, mean_compute: float, peak: dict[str, Any], precision: str
) -> dict[str, Any]:
    top = peak_for(peak, precision) if precision in peak else float("nan")
    return {
        "flop_per_iter": flops,
        "gflop_per_iter": round(flops / 1e9, 2),
        "gflop_per_image": round(flops / 1e9 / n_images, 2),
        "achieved_gflop_per_s": round(flops / mean_iter / 1e9, 2),
        "achieved_compute_gflop_per_s": round(flops / mean_compute / 1e9, 2),
        "peak_precision": precision,
        "peak_gflop_per_s": round(top / 1e9, 2),
        "fraction_of_peak": round(flops / mean_iter / top, 4),
        "compute_fraction_of_peak": round(flops / mean_compute / top, 4),
    }


def with_flops(result: dict[str, Any], flops: float, peak: dict[str, Any]) -> dict[str, Any]:
    """Add the FLOP rates to a result measured without counting (the count of another run at the same batch)."""
    rates = _rates(
        flops, result["images_per_iter"], result["s_per_iter"], result["compute_s_per_iter"], peak, result["precision"]
    )
    return {**result, **rates}
