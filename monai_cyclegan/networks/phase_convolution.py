"""Stride-2 transposed convolutions computed as one ordinary convolution over their output phases, for speed.

A transposed convolution with stride 2 computes each output pixel from a fixed subset of its kernel's taps, chosen by
the pixel's parity (its *phase*) along each axis. Grouping the four phases' taps gives one stride-1 convolution with
four times the output channels and a kernel of about half the size per axis, followed by interleaving the four phases.
For an even kernel (the U-Net's 4x4) the multiply-adds are the same; on a CPU oneDNN runs the ordinary convolution
faster than the transposed one: the default U-Net 256 ran a batch of 8 slices in about 0.20 s against 0.24 s in bf16
on two cores, and the IXI-shaped T1 of ``benchmarks/translation.py`` translated in 14.2 s against 16.0 s end to end.
PyTorch has no such rewrite, so it is written here. The layer keeps the transposed convolution's parameters, so
``state_dict`` and checkpoints do not change; the phase kernel is derived from them, and kept between calls while the
weights do not change and no gradient is wanted.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PhaseConvTranspose2d", "phase_convolutions_"]

_STRIDE = 2


def _phase_taps(kernel: int, padding: int) -> list[dict[int, int]]:
    """Per output phase along one axis, the input offsets it reads and the kernel tap applied to each.

    An output index ``o`` receives input ``j`` through tap ``k`` when ``o = 2j - padding + k``; for ``o = 2i + a``
    the input ``j = i + d`` contributes through ``k = a + padding - 2d``.
    """
    taps = []
    for phase in range(_STRIDE):
        offsets = {}
        for d in range(-kernel, kernel + 1):
            k = phase + padding - _STRIDE * d
            if 0 <= k < kernel:
                offsets[d] = k
        taps.append(offsets)
    return taps


class PhaseConvTranspose2d(nn.ConvTranspose2d):
    """An ``nn.ConvTranspose2d`` with stride 2 whose forward pass is one stride-1 convolution over its output phases.

    The output equals the transposed convolution's up to floating-point rounding, for every input size; parameters,
    ``state_dict`` and gradients are those of ``nn.ConvTranspose2d``. Without gradients (inference), the phase kernel
    is built once per weight version and precision and kept: under ``torch.autocast`` it is kept in the autocast
    precision, so it is not cast again at every call.

    Args:
        args: those of ``nn.ConvTranspose2d``.
        kwargs: those of ``nn.ConvTranspose2d``.

    Raises:
        ValueError: for a stride other than 2, a dilation, groups, a padding mode other than zeros, or a kernel of
            size 1 (an output phase without taps).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if (
            tuple(self.stride) != (_STRIDE, _STRIDE)
            or tuple(self.dilation) != (1, 1)
            or self.groups != 1
            or self.padding_mode != "zeros"
        ):
            raise ValueError(f"only stride-2, undilated, ungrouped transposed convolutions have a phase form: {self}")
        self.taps = [_phase_taps(self.kernel_size[axis], self.padding[axis]) for axis in range(2)]
        if not all(all(axis_taps) for axis_taps in self.taps):
            raise ValueError(f"a kernel smaller than the stride leaves an output phase without taps: {self}")
        self.windows = [max(max(t) - min(t) + 1 for t in axis_taps) for axis_taps in self.taps]
        # per axis and phase, the input offset (from the output index halved) of the phase's first tap
        self.starts = [[min(t) for t in axis_taps] for axis_taps in self.taps]
        self._kept: tuple[tuple[Any, ...], torch.Tensor, torch.Tensor | None] | None = None

    @classmethod
    def from_transposed(cls, conv: nn.ConvTranspose2d) -> PhaseConvTranspose2d:
        """The phase form of ``conv``, sharing its parameters (no copy)."""
        phase = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            stride=conv.stride,  # type: ignore[arg-type]
            padding=conv.padding,  # type: ignore[arg-type]
            output_padding=conv.output_padding,  # type: ignore[arg-type]
            groups=conv.groups,
            bias=conv.bias is not None,
            dilation=conv.dilation,  # type: ignore[arg-type]
            padding_mode=conv.padding_mode,
            device="meta",  # its own parameters are replaced by conv's just below
        )
        phase.weight = conv.weight
        phase.bias = conv.bias
        return phase.train(conv.training)

    def _phase_kernel(self, weight: torch.Tensor) -> torch.Tensor:
        """``(4 * out_channels, in_channels, window_h, window_w)``, phases in row-major order, from ``weight``."""
        in_channels, out_channels = weight.shape[:2]
        kernel = weight.new_zeros(_STRIDE, _STRIDE, out_channels, in_channels, *self.windows)
        for a, rows in enumerate(self.taps[0]):
            for b, columns in enumerate(self.taps[1]):
                for dy, ky in rows.items():
                    for dx, kx in columns.items():
                        kernel[a, b, :, :, dy - self.starts[0][a], dx - self.starts[1][b]] = weight[:, :, ky, kx].t()
        return kernel.reshape(-1, in_channels, *self.windows)

    def _phase_bias(self) -> torch.Tensor | None:
        """The bias of the phase convolution's channels: the transposed convolution's, once per phase."""
        return None if self.bias is None else self.bias.repeat(_STRIDE * _STRIDE)

    def _phase_parameters(self, device_type: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The phase kernel and bias: rebuilt from the parameters when a gradient is wanted, else kept."""
        if torch.is_grad_enabled() and self.weight.requires_grad:
            return self._phase_kernel(self.weight), self._phase_bias()
        autocast = torch.is_autocast_enabled(device_type)
        dtype = torch.get_autocast_dtype(device_type) if autocast else self.weight.dtype
        key = (self.weight._version, self.weight.data_ptr(), self.weight.device, dtype)
        key += (None,) if self.bias is None else (self.bias._version, self.bias.data_ptr())
        if self._kept is None or self._kept[0] != key:
            with torch.no_grad():
                bias = self._phase_bias()
                self._kept = (key, self._phase_kernel(self.weight).to(dtype), None if bias is None else bias.to(dtype))
        return self._kept[1], self._kept[2]

    def _axis(self, axis: int, size_in: int) -> tuple[int, int]:
        """Along one axis: the output size, and the input padding (on both sides) that every phase needs."""
        size_out = (size_in - 1) * _STRIDE - 2 * self.padding[axis] + self.kernel_size[axis]
        size_out += self.output_padding[axis]
        starts = self.starts[axis]
        before = max(0, -min(starts))
        # phase a holds outputs a, a + 2, ...; its last reads the input up to its count - 1 + start + window - 1
        after = max(
            starts[a] + (size_out - a + 1) // _STRIDE + self.windows[axis] - 1 - size_in for a in range(_STRIDE)
        )
        # the same on both sides, so that the convolution pads by itself (an extra copy of the input otherwise)
        return size_out, max(before, after)

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        """Upsample ``(N, in_channels, H, W)`` as the transposed convolution would.

        Raises:
            ValueError: with ``output_size`` (not supported: the size follows from the input and ``output_padding``).
        """
        if output_size is not None:
            raise ValueError("PhaseConvTranspose2d takes no output_size; set output_padding instead.")
        size_h, top = self._axis(0, x.shape[-2])
        size_w, left = self._axis(1, x.shape[-1])
        kernel, bias = self._phase_parameters(x.device.type)
        phases = F.conv2d(x, kernel, bias, padding=(top, left))
        phases = phases.view(phases.shape[0], _STRIDE, _STRIDE, self.out_channels, *phases.shape[-2:])
        out = phases.new_empty((phases.shape[0], self.out_channels, size_h, size_w))
        for a in range(_STRIDE):
            rows = (size_h - a + 1) // _STRIDE
            row0 = self.starts[0][a] + top  # where phase a's output row 0 lies in the convolution's output
            for b in range(_STRIDE):
                columns = (size_w - b + 1) // _STRIDE
                col0 = self.starts[1][b] + left
                out[:, :, a::_STRIDE, b::_STRIDE] = phases[:, a, b, :, row0 : row0 + rows, col0 : col0 + columns]
        return out


def phase_convolutions_(network: nn.Module) -> nn.Module:
    """Replace, in place, each ``nn.ConvTranspose2d`` of ``network`` that has a phase form by a phase one.

    The others (another stride, a dilation, groups) stay as they are. The parameters are shared, not copied:
    outputs, ``state_dict`` and checkpoints stay the same. Returns ``network``.
    """
    for module in list(network.modules()):
        for name, child in list(module.named_children()):
            if type(child) is not nn.ConvTranspose2d:
                continue
            try:
                setattr(module, name, PhaseConvTranspose2d.from_transposed(child))
            except ValueError:
                pass  # another stride, a dilation or groups: it keeps the transposed convolution
    return network
