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
    "head_slices",
]

# The model's intensity of air: inputs are scaled to [-1, 1] with air at -1 (RobustScaleIntensityd) and the generator
# ends in Tanh, so its air is -1 too.
BACKGROUND = -1.0
# Foreground in the model's [-1, 1] scale: 10% of the range above air, the head threshold of training's
# AxialSlabSelector and of the evaluation's head mask (FOREGROUND_THRESHOLD = 0.1 in [0, 1]).
FOREGROUND_THRESHOLD = -0.8


def head_slices(volume: torch.Tensor, threshold: float = FOREGROUND_THRESHOLD, chunk: int = 32) -> torch.Tensor:
    """Which axial slices (last axis) of a channel-first volume ``(C, X, Y, Z)`` hold a voxel above ``threshold``.

    The volume is scanned ``chunk`` slices at a time, so no mask of the volume's size is ever allocated.
    """
    size_z = volume.shape[-1]
    slices = torch.zeros(size_z, dtype=torch.bool, device=volume.device)
    for start in range(0, size_z, chunk):
        slices[start : start + chunk] = (volume[..., start : start + chunk] > threshold).flatten(0, -2).any(0)
    return slices


class ForegroundSliceInferer(Inferer):
    """A 2D network over the axial slices of volumes, only where the head is, in batches, into a preallocated output.

    For each volume ``(C, X, Y, Z)`` of the batch (the model grid: RAS, axial slices along the last axis):

    1. the slices holding any voxel above ``threshold`` are found (:func:`head_slices`), widened by ``slice_margin``
       slices on each side so that resampling the output back to the input grid never blends a translated slice
       with an untranslated one; every other slice of the output is ``background``;
    2. ``sw_batch_size`` kept slices at a time go through the network whole, in windows of ``roi_size`` as in MONAI's
       ``SliceInferer`` (padded with ``background`` where smaller, windows overlapping by ``overlap`` where larger),
       and each result is written into its place.

    Kept slices get the result ``SliceInferer(roi_size, spatial_dim=2, padding_mode="constant", cval=background)``
    gives them. Slices are never cut to the head: every generator of the package normalises each feature map over the
    whole slice (instance normalisation), so a crop changes its output; cut to the head's bounding box, the CPU
    preset's real-brain translation lost 2.4 to 3.0 dB (``docs/translating.md``).

    Args:
        roi_size: in-plane window of the network, e.g. ``(256, 256)``.
        sw_batch_size: slices (or windows) per network call.
        threshold: foreground threshold in the model's intensity scale.
        background: the model's value of air: the output of skipped slices and the padding.
        slice_margin: background slices translated on each side of every slice that holds foreground.
        overlap: window overlap, as in ``SlidingWindowInferer``.
        mode: window blending, ``"constant"`` or ``"gaussian"``, as in ``SlidingWindowInferer``.

    Raises:
        ValueError: when a size is not a positive integer or ``slice_margin`` is negative.
    """

    def __init__(
        self,
        roi_size: Sequence[int],
        sw_batch_size: int = 8,
        threshold: float = FOREGROUND_THRESHOLD,
        background: float = BACKGROUND,
        slice_margin: int = 1,
        overlap: float = 0.25,
        mode: str = "constant",
    ) -> None:
        super().__init__()
        check_positive_int("sw_batch_size", sw_batch_size)
        for size in roi_size:
            check_positive_int("roi_size", size)
        if isinstance(slice_margin, bool) or not isinstance(slice_margin, int) or slice_margin < 0:
            raise ValueError(f"slice_margin must be an integer >= 0, got {slice_margin!r}.")
        self.roi_size = tuple(int(s) for s in roi_size)
        self.sw_batch_size = sw_batch_size
        self.threshold = threshold
        self.background = background
        self.slice_margin = slice_margin
        self.overlap = overlap
        self.mode = mode

    def kept_slices(self, volume: torch.Tensor) -> torch.Tensor:
        """The indices of the axial slices of one volume ``(C, X, Y, Z)`` that :meth:`__call__` translates."""
        slices = head_slices(volume, self.threshold)
        if self.slice_margin and bool(slices.any()):
            width = 2 * self.slice_margin + 1
            slices = F.max_pool1d(slices[None, None].float(), width, stride=1, padding=self.slice_margin)[0, 0] > 0
        return slices.nonzero().flatten()

    def __call__(
        self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any
    ) -> torch.Tensor:
        """Translate ``inputs`` ``(B, C, X, Y, Z)``; the output has the network's channels and the inputs' type.

        Args:
            inputs: volumes in the model's intensity scale.
            network: a 2D network (or any callable) from ``(n, C, H, W)`` to ``(n, C_out, H, W)``.
            args: passed on to ``network``.
            kwargs: passed on to ``network``.
        """
        if inputs.ndim != 5:
            raise ValueError(f"ForegroundSliceInferer expects volumes (B, C, X, Y, Z), got {tuple(inputs.shape)}.")
        data = inputs.as_tensor() if hasattr(inputs, "as_tensor") else inputs
        output: torch.Tensor | None = None
        for b in range(data.shape[0]):
            volume = data[b]
            kept = self.kept_slices(volume)
            for start in range(0, kept.numel(), self.sw_batch_size):
                index = kept[start : start + self.sw_batch_size]
                x = volume.index_select(-1, index).permute(3, 0, 1, 2)  # (n, C, X, Y), one batch copied
                y = sliding_window_inference(
                    x,
                    self.roi_size,
                    self.sw_batch_size,
                    lambda window: network(window, *args, **kwargs),
                    overlap=self.overlap,
                    mode=self.mode,
                    padding_mode="constant",
                    cval=self.background,
                )
                if output is None:
                    output = torch.full(
                        (data.shape[0], y.shape[1], *data.shape[2:]), self.background, dtype=y.dtype, device=y.device
                    )
                output[b].index_copy_(-1, index, y.permute(1, 2, 3, 0).to(output.dtype))
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
    slice circularly, which moves only background across the border of a padded slice.
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
