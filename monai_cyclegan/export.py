"""Exporting a generator to TorchScript or ONNX, checked against PyTorch before the file is kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from monai_cyclegan.files import write_atomically

__all__ = ["EXPORT_FORMATS", "export_generator"]

EXPORT_FORMATS = ("torchscript", "onnx")


def _run_exported(path: Path, export_format: str, x: torch.Tensor) -> np.ndarray:
    if export_format == "torchscript":
        with torch.no_grad():
            return torch.jit.load(str(path)).eval()(x).numpy()
    import onnxruntime  # deferred: an optional dependency (the export extra)

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def export_generator(
    network: nn.Module, out: str | Path, export_format: str, image_size: int, atol: float = 1e-4, seed: int = 0
) -> float:
    """Write ``network`` (a generator of ``(N, 1, S, S)`` images) as TorchScript or ONNX, with any batch size.

    The exported model is run on a random batch of three images and compared with PyTorch; the file is kept only if
    every output value agrees within ``atol``. ONNX needs the ``export`` extra (``onnx``, ``onnxscript``,
    ``onnxruntime``).

    Args:
        network: the generator, with its weights loaded.
        out: the file to write (``.ts``/``.pt`` for TorchScript, ``.onnx`` for ONNX).
        export_format: ``"torchscript"`` or ``"onnx"``.
        image_size: the generator's input size.
        atol: largest allowed difference from PyTorch's output (outputs lie in [-1, 1]).
        seed: seed of the check's random batch.

    Returns:
        The largest difference from PyTorch's output.

    Raises:
        ValueError: for another format, or when the exported model's output differs by more than ``atol``.
    """
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {EXPORT_FORMATS}, got {export_format!r}.")
    network = network.cpu().eval()
    example = torch.rand(1, 1, image_size, image_size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    check = torch.rand(3, 1, image_size, image_size, generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1
    with torch.no_grad():
        expected = network(check).numpy()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    difference: list[float] = []

    def write(temporary: Path) -> None:
        if export_format == "torchscript":
            torch.jit.save(torch.jit.script(network), str(temporary))
        else:
            batch = torch.export.Dim("batch")
            # weights inside the one file (the exporter would otherwise write them beside it, under the temporary name)
            torch.onnx.export(
                network, (example,), str(temporary), dynamo=True, dynamic_shapes=({0: batch},), external_data=False
            )
        difference.append(float(np.abs(_run_exported(temporary, export_format, check) - expected).max()))
        if difference[0] > atol:
            raise ValueError(
                f"{out}: the {export_format} model differs from PyTorch by {difference[0]:.2e} (> {atol:.0e}); "
                "not written."
            )

    write_atomically(out, write)
    return difference[0]
