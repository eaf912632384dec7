"""Inferers of volume translation: the generator runs only on the axial slices that hold the head.

MONAI's ``SliceInferer`` sends every axial slice of a volume through the network and blends the results in arrays of
the volume's size (the output and a count map). On a real acquisition resampled to the model grid many slices are
air: an IXI T1 (sagittal, 240 mm head to foot) gives 240 axial slices at 1 mm, of which a head phantom on the same
grid fills 132. :class:`ForegroundSliceInferer` translates only the slices that hold foreground, in batches, and
writes them into one preallocated output that starts as background, so its memory is the output array plus one batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.inferers import Inferer, sliding_window_inference
from monai.utils import convert_to_dst_type

from monai_cyclegan.checks import check_positive_int

__all__ = [
    "AutocastInferer",
    "BACKGROUND",
    "FOREGROUND_THRESHOLD",
    "FlipShiftEnsembleInferer",
    "ForegroundSliceInferer",
    "head_extent",
    "head_window",
]

# The model's intensity of air: inputs are scaled to [-1, 1] with air at -1 (RobustScaleIntensityd) and the generator
# ends in Tanh, so its air is -1 too.
BACKGROUND = -1.0
# Foreground in the model's [-1, 1] scale: 10% of the range above air, the head threshold of training's
# AxialSlabSelector and of the evaluation's head mask (FOREGROUND_THRESHOLD = 0.1 in [0, 1]).
FOREGROUND_THRESHOLD = -0.8


def head_extent(
    volume: torch.Tensor, threshold: float = FOREGROUND_THRESHOLD, chunk: int = 32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where a channel-first volume ``(C, X, Y, Z)`` holds voxels above ``threshold``, as three boolean vectors.

    The volume is scanned ``chunk`` slices at a time, so no mask of the volume's size is ever allocated.

    Returns:
        ``(slices, rows, columns)``: per axial slice (Z) whether it holds foreground, and per X row and Y column
        whether any slice does there.
    """
    channels, size_x, size_y, size_z = volume.shape
    slices = torch.zeros(size_z, dtype=torch.bool, device=volume.device)
    rows = torch.zeros(size_x, dtype=torch.bool, device=volume.device)
    columns = torch.zeros(size_y, dtype=torch.bool, device=volume.device)
    for start in range(0, size_z, chunk):
        above = (volume[..., start : start + chunk] > threshold).any(0)  # (X, Y, n)
        slices[start : start + chunk] = above.any(0).any(0)
        rows |= above.any(1).any(1)
        columns |= above.any(0).any(1)
    return slices, rows, columns


def head_window(mask: torch.Tensor, multiple: int, margin: int) -> tuple[int, int, int, int]:
    """The window along one in-plane axis that holds the head with ``margin``, its size a multiple of ``multiple``.

    The window grows beyond the head inside the image first; only when the image itself is smaller than the rounded
    size is the rest padded.

    Args:
        mask: per pixel along the axis, whether the head reaches it (at least one true).
        multiple: the size the network needs the window to be a multiple of.
        margin: pixels of background kept on each side of the head.

    Returns:
        ``(start, stop, pad_before, pad_after)``: the window ``[start, stop)`` of the image and the background
        padding around it; ``stop - start + pad_before + pad_after`` is a multiple of ``multiple``.
    """
    length = int(mask.numel())
    where = mask.nonzero().flatten()
    start, stop = max(int(where[0]) - margin, 0), min(int(where[-1]) + 1 + margin, length)
    size = -(-(stop - start) // multiple) * multiple
    grow = size - (stop - start)
    start = max(start - grow // 2, 0)
    stop = min(start + size, length)
    start = max(stop - size, 0)
    pad = size - (stop - start)
    return start, stop, pad // 2, pad - pad // 2


class ForegroundSliceInferer(Inferer):
    """A 2D network over the axial slices of volumes, only where the head is, in batches, into a preallocated output.

    For each volume ``(C, X, Y, Z)`` of the batch (the model grid: RAS, axial slices along the last axis):

    1. the slices holding any voxel above ``threshold`` are found (:func:`head_extent`), widened by ``slice_margin``
       slices on each side so that resampling the output back to the input grid never blends a translated slice
       with an untranslated one; every other slice of the output is ``background``;
    2. with ``size_multiple`` (a fully convolutional network such as the ResNet generator), each slice is cut to the
       head's in-plane bounding box plus ``margin`` pixels, rounded up to a multiple of ``size_multiple``
       (:func:`head_window`), and the network sees that crop whole; without it (the U-Net generator, which needs its
       own size), each slice stays whole and goes through windows of ``roi_size`` as in MONAI's ``SliceInferer``:
       padded with ``background`` where smaller, windows overlapping by ``overlap`` where larger;
    3. ``sw_batch_size`` slices at a time go through the network, and each result is written into its place.

    Kept slices without a crop get the same result as ``SliceInferer(roi_size, spatial_dim=2, padding_mode="constant",
    cval=background)`` gives them. A crop changes what instance normalisation sees (fewer background pixels), so its
    result differs slightly; ``docs/translating.md`` gives the measured difference.

    Args:
        roi_size: in-plane window of the network, e.g. ``(256, 256)``; None when ``size_multiple`` is given and the
            network takes any crop whole.
        sw_batch_size: slices (or windows) per network call.
        size_multiple: cut slices to the head and pad the crop to a multiple of this; None keeps slices whole.
        threshold: foreground threshold in the model's intensity scale.
        background: the model's value of air: the output of skipped slices and the padding.
        margin: background pixels kept around the head's bounding box when cropping.
        slice_margin: background slices translated on each side of every slice that holds foreground.
        overlap: window overlap (with ``roi_size``), as in ``SlidingWindowInferer``.
        mode: window blending, ``"constant"`` or ``"gaussian"``, as in ``SlidingWindowInferer``.

    Raises:
        ValueError: when neither ``roi_size`` nor ``size_multiple`` is given, or a size is not a positive integer.
    """

    def __init__(
        self,
        roi_size: Sequence[int] | None = None,
        sw_batch_size: int = 8,
        size_multiple: int | None = None,
        threshold: float = FOREGROUND_THRESHOLD,
        background: float = BACKGROUND,
        margin: int = 16,
        slice_margin: int = 1,
        overlap: float = 0.25,
        mode: str = "constant",
    ) -> None:
        super().__init__()
        if roi_size is None and size_multiple is None:
            raise ValueError("ForegroundSliceInferer needs a roi_size, or a size_multiple to crop slices to the head.")
        check_positive_int("sw_batch_size", sw_batch_size)
        if size_multiple is not None:
            check_positive_int("size_multiple", size_multiple)
        for name, value in (("margin", margin), ("slice_margin", slice_margin)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
        self.roi_size = None if roi_size is None else tuple(int(s) for s in roi_size)
        self.sw_batch_size = sw_batch_size
        self.size_multiple = size_multiple
        self.threshold = threshold
        self.background = background
        self.margin = margin
        self.slice_margin = slice_margin
        self.overlap = overlap
        self.mode = mode

    def _predict(
        self, x: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """The network's output for a batch of slices ``(n, C, H, W)``, whole or window by window."""
        if self.size_multiple is not None:
            return network(x, *args, **kwargs)
        return sliding_window_inference(
            x,
            self.roi_size,
            self.sw_batch_size,
            lambda window: network(window, *args, **kwargs),
            overlap=self.overlap,
            mode=self.mode,
            padding_mode="constant",
            cval=self.background,
        )

    def kept_slices(self, volume: torch.Tensor) -> tuple[torch.Tensor, tuple[slice, slice], tuple[int, ...]]:
        """What :meth:`__call__` translates of one volume ``(C, X, Y, Z)``.

        Returns:
            The indices of the kept slices, the in-plane window ``(rows, columns)`` they are cut to, and the padding
            of that window (``F.pad`` order: last axis first).
        """
        slices, rows, columns = head_extent(volume, self.threshold)
        if self.slice_margin and bool(slices.any()):
            width = 2 * self.slice_margin + 1
            slices = F.max_pool1d(slices[None, None].float(), width, stride=1, padding=self.slice_margin)[0, 0] > 0
        kept = slices.nonzero().flatten()
        if self.size_multiple is None or kept.numel() == 0:
            return kept, (slice(None), slice(None)), (0, 0, 0, 0)
        x0, x1, px0, px1 = head_window(rows, self.size_multiple, self.margin)
        y0, y1, py0, py1 = head_window(columns, self.size_multiple, self.margin)
        return kept, (slice(x0, x1), slice(y0, y1)), (py0, py1, px0, px1)

    def __call__(
        self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Translate ``inputs`` ``(B, C, X, Y, Z)``; the output has the network's channels and the inputs' type.

        Args:
            inputs: volumes in the model's intensity scale.
            network: a 2D network (or any callable) from ``(n, C, H, W)`` to ``(n, C_out, H', W')`` with ``H'``,
                ``W'`` those of its input (or of ``roi_size``).
            args: passed on to ``network``.
            kwargs: passed on to ``network``.
        """
        if inputs.ndim != 5:
            raise ValueError(f"ForegroundSliceInferer expects volumes (B, C, X, Y, Z), got {tuple(inputs.shape)}.")
        data = inputs.as_tensor() if hasattr(inputs, "as_tensor") else inputs
        output: torch.Tensor | None = None
        for b in range(data.shape[0]):
            volume = data[b]
            kept, (rows, columns), pad = self.kept_slices(volume)
            region = volume[:, rows, columns]  # a view: (C, h, w, Z)
            for start in range(0, kept.numel(), self.sw_batch_size):
                index = kept[start : start + self.sw_batch_size]
                x = region.index_select(-1, index).permute(3, 0, 1, 2)  # (n, C, h, w), one batch copied
                if any(pad):
                    x = F.pad(x, pad, value=self.background)
                y = self._predict(x, network, *args, **kwargs)
                y = y[..., pad[2] : y.shape[-2] - pad[3], pad[0] : y.shape[-1] - pad[1]]
                if output is None:
                    output = torch.full(
                        (data.shape[0], y.shape[1], *data.shape[2:]), self.background, dtype=y.dtype, device=y.device
                    )
                output[b][:, rows, columns].index_copy_(-1, index, y.permute(1, 2, 3, 0).to(output.dtype))
        if output is None:  # no slice of any volume holds foreground
            output = torch.full_like(data, self.background)
        return convert_to_dst_type(output, inputs)[0]


class FlipShiftEnsembleInferer(Inferer):
    """Runs another inferer with each network call averaged over left-right flips and small in-plane shifts.

    Test-time augmentation for a 2D generator: every batch of slices the inner inferer sends to the network goes
    through it once per (flip, shift) view, each output is mapped back (un-shifted, un-flipped) and the views are
    averaged. The flip is the left-right flip of training (axis 0 of a slice, ``RandFlipd(spatial_axis=0)``), so the
    network has seen both orientations; the shifts move the slice against the stride-2 grid of the generator, so the
    fine periodic texture that transposed convolutions leave averages out while the anatomy stays put. Shifts roll the
    slice circularly, which moves only background across the border of a padded slice or a head crop with a margin.
    MONAI's ``TestTimeAugmentation`` draws random transforms per dataset item and inverts them with their metadata;
    this is the deterministic, network-level version that any inferer (slices, volumes, windows) can use.

    Args:
        inferer: the inferer to run, e.g. a ``SliceInferer``.
        flip: whether the left-right flipped view is added to every shift.
        shifts: in-plane shifts ``(rows, columns)`` in pixels; ``(0, 0)`` is the plain view.

    Raises:
        ValueError: when ``shifts`` is empty or a shift is not a pair of integers.
    """

    def __init__(self, inferer: Inferer, flip: bool = True, shifts: Sequence[Sequence[int]] = ((0, 0), (2, 2))) -> None:
        super().__init__()
        shifts = [tuple(shift) for shift in shifts]
        if not shifts or any(
            len(s) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in s) for s in shifts
        ):
            raise ValueError(f"shifts must be a non-empty list of (rows, columns) integer pairs, got {shifts!r}.")
        self.inferer = inferer
        self.flips = (False, True) if flip else (False,)
        self.shifts = shifts

    @property
    def views(self) -> int:
        """How many network calls each batch of slices costs."""
        return len(self.flips) * len(self.shifts)

    def __call__(self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """``inferer(inputs, network, ...)`` with every network call replaced by the average over the views."""

        def ensemble(x: torch.Tensor, *net_args: Any, **net_kwargs: Any) -> torch.Tensor:
            total: torch.Tensor | None = None
            for flip in self.flips:
                view = x.flip(-2) if flip else x
                for rows, columns in self.shifts:
                    output = network(torch.roll(view, (rows, columns), dims=(-2, -1)), *net_args, **net_kwargs)
                    output = torch.roll(output, (-rows, -columns), dims=(-2, -1))
                    output = output.flip(-2) if flip else output
                    total = output if total is None else total + output
            return total / self.views

        return self.inferer(inputs, ensemble, *args, **kwargs)


class AutocastInferer(Inferer):
    """Runs another inferer with the network under ``torch.autocast`` (bf16 by default), each output cast to float32.

    MONAI's ``SupervisedEvaluator`` autocasts on CUDA only, so reduced precision on the CPU has to come from the
    inferer. The network's outputs are cast back to float32 window by window, so that sliding-window blending and
    everything after it run in float32 (autocast changes only matrix products and convolutions). One autocast region
    spans the whole volume, so the weights are cast to bf16 once per volume rather than once per batch of slices: for
    the 54 M weights of the default U-Net that made a batch of 8 slices about 20% faster on two CPU cores.

    Args:
        inferer: the inferer to run, e.g. a ``SliceInferer``.
        dtype: the autocast precision.
    """

    def __init__(self, inferer: Inferer, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        self.inferer = inferer
        self.dtype = dtype

    def __call__(self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """``inferer(inputs, network, ...)`` with every network call autocast."""

        def float_network(x: torch.Tensor, *net_args: Any, **net_kwargs: Any) -> torch.Tensor:
            return network(x, *net_args, **net_kwargs).float()

        with torch.autocast(inputs.device.type, dtype=self.dtype):
            return self.inferer(inputs, float_network, *args, **kwargs)
