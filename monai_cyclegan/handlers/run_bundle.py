"""Writing a self-contained bundle of the trained model when training completes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from torch import nn

from monai_cyclegan.directions import T1_TO_T2, T2_TO_T1
from monai_cyclegan.handlers.run_record import source_commit
from monai_cyclegan.run_bundle import write_run_bundle

__all__ = ["RunBundleHandler"]


class RunBundleHandler:
    """When training completes, write the run's bundle (:func:`~monai_cyclegan.run_bundle.write_run_bundle`).

    The folder holds the run's settings in its configs, both generators, metadata, a model card and the licence, so
    that ``monai-cyclegan translate --checkpoint <folder>`` and ``python -m monai.bundle run --config_file
    configs/inference.json --bundle_root <folder>`` rebuild the trained architecture with no other setting. It is
    written as a whole or not at all, and only when training completes (not when it raises).

    Args:
        path: the bundle folder, e.g. ``<output_dir>/bundle``.
        settings: the run's settings by config ID (``run_settings`` in ``train.json``), resolved.
        g_ab: the T1w->T2w generator.
        g_ba: the T2w->T1w generator.
    """

    def __init__(self, path: str | Path, settings: Mapping[str, Any], g_ab: nn.Module, g_ba: nn.Module) -> None:
        self.path = Path(path)
        self.settings = dict(settings)
        self.generators = {T1_TO_T2: g_ab, T2_TO_T1: g_ba}
        self._commit: str | None = None
        self._started = 0.0

    def attach(self, engine: Engine) -> None:
        """Note the commit at ``STARTED`` and write the bundle on ``COMPLETED``."""
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.COMPLETED, self)

    def _start(self, engine: Engine) -> None:
        self._commit = source_commit()
        self._started = time.perf_counter()

    def __call__(self, engine: Engine) -> None:
        """Write the bundle, with the epochs, iterations, training time, device and commit in its model card."""
        record = {
            "epochs": engine.state.epoch,
            "iterations": engine.state.iteration,
            "train_minutes": round((time.perf_counter() - self._started) / 60, 1),
            "device": _device_name(getattr(engine.state, "device", None)),
            "commit": self._commit,
        }
        write_run_bundle(self.path, self.settings, self.generators, record=record)


def _device_name(device: torch.device | str | None) -> str | None:
    """The training device in words: ``cuda:0 (NVIDIA H200)``, ``cpu (2 threads)``; None when unknown."""
    if device is None:
        return None
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
