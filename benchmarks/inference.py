"""Inference speed: the bare generator in slices per second, and one volume translated end to end by inference.json."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from torch import nn

from benchmarks.common import SectionMeter, bundle_config, quiet, synchronize, workflow
from benchmarks.peak import count_flops, peak_for

__all__ = [
    "generator_benchmark",
    "psnr_db",
    "reference_generator",
    "volume_benchmark",
    "write_checkpoint",
    "write_volume",
]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# PSNR a translation must keep within 0.5 dB: the quality issue's target for T1 -> T2.
_REFERENCE_PSNR_DB = 28.0


def write_volume(path: Path, shape: Sequence[int], spacing_mm: float, seed: int = 0) -> Path:
    """A synthetic head-like int16 NIfTI volume (RAS, axis-aligned, ``spacing_mm`` voxels): a noisy ellipsoid."""
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1.0, 1.0, n, dtype=np.float32) for n in shape]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    r = np.sqrt((x / 0.8) ** 2 + (y / 0.9) ** 2 + (z / 0.85) ** 2)
    head = (r < 1.0).astype(np.float32)
    brain = (r < 0.85).astype(np.float32)
    texture = 0.5 + 0.25 * np.sin(9.0 * x) * np.cos(7.0 * y) * np.sin(5.0 * z)
    image = 300.0 * head + 500.0 * brain * texture + rng.normal(0.0, 12.0, size=shape).astype(np.float32)
    affine = np.diag([spacing_mm, spacing_mm, spacing_mm, 1.0])
    affine[:3, 3] = -0.5 * spacing_mm * (np.asarray(shape) - 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.clip(image, 0, None).astype(np.int16), affine), str(path))
    return path


def reference_generator(files: Sequence[str], overrides: dict[str, Any], checkpoint: str | None) -> nn.Module:
    """The generator of the inference config (``network_def``): the given weights, or a fresh random one."""
    parser = bundle_config(files, overrides)
    network = parser.get_parsed_content("network_def")
    if checkpoint:
        from monai_cyclegan.bundle import load_generator

        network = load_generator(network, checkpoint, parser.get_parsed_content("direction"), "cpu")
    return network


def write_checkpoint(network: nn.Module, path: Path) -> Path:
    """Save a bare generator state dict, as the bundle deploys ``models/model.pt``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return path


def psnr_db(reference: torch.Tensor, other: torch.Tensor, data_range: float = 2.0) -> float:
    """PSNR of ``other`` against ``reference`` over a value range of ``data_range`` (2 for [-1, 1])."""
    mse = float(torch.mean((reference.float() - other.float()) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _slices(volume: Path, image_size: int, n: int) -> torch.Tensor:
    """``n`` axial slices of ``volume`` from its middle, scaled to [-1, 1] and fitted to the model size."""
    data = np.asarray(nib.load(str(volume)).dataobj, dtype=np.float32)
    middle = data.shape[2] // 2
    picks = [(middle + k - n // 2) % data.shape[2] for k in range(n)]
    x = torch.from_numpy(np.stack([data[:, :, k] for k in picks]))[:, None]
    x = 2.0 * x / max(float(x.max()), 1e-6) - 1.0
    return torch.nn.functional.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)


def _autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device.type, dtype=_DTYPES[precision], enabled=precision != "fp32")


def _time_batches(network: nn.Module, x: torch.Tensor, batch: int, precision: str, device: torch.device) -> float:
    with torch.no_grad(), _autocast(device, precision):
        network(x[:batch])  # warm-up at this batch size and precision
        synchronize(device)
        start = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            network(x[i : i + batch])
        synchronize(device)
    return time.perf_counter() - start


def generator_benchmark(
    network: nn.Module,
    volume: Path,
    device: torch.device,
    batch_sizes: Sequence[int],
    slices: int,
    peak: dict[str, Any],
    image_size: int,
) -> dict[str, Any]:
    """Slices per second of the bare generator (no data loading, no inferer) per precision and batch size.

    Also the FLOPs of one slice, the achieved rate as a fraction of the measured peak of each precision, and the
    difference of each reduced precision's output from fp32's on the same slices.
    """
    torch.set_flush_denormal(True)  # as the bundle's inference initialize does
    network = network.to(device).eval()
    x = _slices(volume, image_size, slices).to(device)
    with torch.no_grad():
        flops, _ = count_flops(network, x[:1])
    precisions = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
    out: dict[str, Any] = {
        "slice_shape": list(x.shape[1:]),
        "slices_per_measurement": slices,
        "flop_per_slice": flops,
        "gflop_per_slice": round(flops / 1e9, 3),
        "mode": "eval, torch.no_grad, reduced precision by torch.autocast",
    }
    with SectionMeter(device) as memory:
        for precision in precisions:
            for batch in batch_sizes:
                seconds = _time_batches(network, x, batch, precision, device)
                rate = slices / seconds
                top = peak_for(peak, precision)
                out[f"{precision}_batch{batch}"] = {
                    "s": round(seconds, 4),
                    "slices_per_s": round(rate, 3),
                    "achieved_gflop_per_s": round(flops * rate / 1e9, 2),
                    "fraction_of_peak": round(flops * rate / top, 4),
                    "peak_precision": precision,
                }
        with torch.no_grad():
            n = min(slices, max(batch_sizes))
            reference = network(x[:n]).float()
            for precision in precisions[1:]:
                with _autocast(device, precision):
                    other = network(x[:n]).float()
                psnr = psnr_db(reference, other)
                rmse = float(torch.sqrt(torch.mean((reference - other) ** 2)))
                spread = float(reference.std())
                out[f"{precision}_vs_fp32"] = {
                    "psnr_db": round(psnr, 2),
                    "rmse": rmse,
                    "fp32_output_std": spread,
                    "relative_rmse": rmse / spread if spread > 0 else None,
                    "max_abs_diff": float((reference - other).abs().max()),
                    "worst_psnr_drop_db_at_28db": round(_psnr_drop(psnr, _REFERENCE_PSNR_DB), 3),
                }
    out["memory"] = memory.result()
    return out


def _psnr_drop(psnr_vs_fp32: float, reference_db: float) -> float:
    """PSNR lost by a translation of ``reference_db`` when an independent error of ``psnr_vs_fp32`` is added."""
    if math.isinf(psnr_vs_fp32):
        return 0.0
    ratio = 10.0 ** ((reference_db - psnr_vs_fp32) / 10.0)  # error MSE over the translation's own MSE
    return 10.0 * math.log10(1.0 + ratio)


class _ForwardTimer:
    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds = 0.0
        self.calls = 0
        self.slices = 0
        self._start = 0.0

    def attach(self, module: nn.Module) -> None:
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, module: nn.Module, args: Any) -> None:
        synchronize(self.device)
        self._start = time.perf_counter()

    def _post(self, module: nn.Module, args: Any, output: Any) -> None:
        synchronize(self.device)
        self.seconds += time.perf_counter() - self._start
        self.calls += 1
        self.slices += int(args[0].shape[0])


def volume_benchmark(
    files: Sequence[str],
    overrides: dict[str, Any],
    volume: Path,
    checkpoint: Path,
    output_dir: Path,
    device: torch.device,
    precision: str = "fp32",
) -> dict[str, Any]:
    """Wall time of translating ``volume`` to a NIfTI file through the bundle's inference config, end to end.

    The clock runs from building the workflow to the written file: config parsing, loading the weights, reading and
    preprocessing the volume, the slice-by-slice inferer, inverting the preprocessing and saving. ``precision``
    "bf16" sets inference.json's ``amp`` (its default), "fp32" clears it.
    """
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"inference.json runs in fp32 or bf16 (amp), not {precision!r}.")
    settings = {**overrides, "input_path": str(volume), "output_dir": str(output_dir), "checkpoint": str(checkpoint)}
    settings["amp"] = precision == "bf16"
    with SectionMeter(device) as memory:
        start = time.perf_counter()
        with quiet():
            wf = workflow(files, "infer", settings)
        evaluator = wf.parser.get_parsed_content("evaluator")
        timer = _ForwardTimer(device)
        timer.attach(evaluator.network)
        setup_s = time.perf_counter() - start
        with quiet():
            wf.run()
            wf.finalize()
        wall = time.perf_counter() - start
    written = sorted(output_dir.glob("*.nii.gz"))
    out: dict[str, Any] = {
        "precision": precision,
        "input_shape": list(nib.load(str(volume)).shape),
        "sw_batch_size": wf.parser.get_parsed_content("sw_batch_size"),
        "wall_s": round(wall, 3),
        "setup_s": round(setup_s, 3),
        "network_s": round(timer.seconds, 3),
        "network_calls": timer.calls,
        "slices_through_network": timer.slices,
        "other_s": round(wall - setup_s - timer.seconds, 3),
        "output_file": written[0].name if written else None,
        "output_shape": list(nib.load(str(written[0])).shape) if written else None,
    }
    if timer.seconds > 0:
        out["network_slices_per_s"] = round(timer.slices / timer.seconds, 3)
    out["memory"] = memory.result()
    return out
