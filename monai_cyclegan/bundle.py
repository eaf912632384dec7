"""Helpers the bundle configs call: where the bundle lives, and what each translation direction uses."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigWorkflow
from monai.inferers import Inferer, SimpleInferer, SliceInferer, SlidingWindowInferer
from torch import nn

from monai_cyclegan.checks import as_bool
from monai_cyclegan.directions import T1_TO_T2, T2_TO_T1
from monai_cyclegan.inferers import AutocastInferer, FlipShiftEnsembleInferer, ForegroundSliceInferer
from monai_cyclegan.networks.phase_convolution import phase_convolutions_

__all__ = [
    "AMP_DTYPES",
    "BUNDLE_NAME",
    "DIRECTIONS",
    "autocast_kwargs",
    "bundle_dir",
    "direction_settings",
    "load_generator",
    "place_network",
    "run_workflow",
    "translation_inferer",
]

BUNDLE_NAME = "ixi_t1t2_cyclegan"

# Per direction: the network key in a full-state checkpoint, the deployed weights file, the output name postfix, the
# NIfTI header description of the outputs.
DIRECTIONS: dict[str, dict[str, str]] = {
    T1_TO_T2: {
        "network": "g_ab",
        "weights": "model.pt",
        "postfix": "synT2",
        "description": "synthetic T2w from T1w (monai_cyclegan), not for diagnostic use",
    },
    T2_TO_T1: {
        "network": "g_ba",
        "weights": "model_t2_to_t1.pt",
        "postfix": "synT1",
        "description": "synthetic T1w from T2w (monai_cyclegan), not for diagnostic use",
    },
}


def bundle_dir(name: str = BUNDLE_NAME) -> Path:
    """Directory of a bundle shipped with the package.

    Looks in the source checkout (``<repo>/bundles/<name>``, used by editable installs) and then in the installed
    data files (``<prefix>/share/monai_cyclegan/bundles/<name>``).

    Raises:
        FileNotFoundError: when neither holds the bundle's ``configs/``.
    """
    candidates = [
        Path(__file__).resolve().parents[1] / "bundles" / name,
        Path(sys.prefix) / "share" / "monai_cyclegan" / "bundles" / name,
    ]
    for candidate in candidates:
        if (candidate / "configs").is_dir():
            return candidate
    raise FileNotFoundError(f"bundle {name!r} not found in {[str(c) for c in candidates]}.")


def run_workflow(config_file: str | Path | list[str], workflow_type: str | None, **overrides: Any) -> ConfigWorkflow:
    """Initialise a bundle config, check its required properties, run it and finalise it.

    Args:
        config_file: e.g. ``bundle_dir() / "configs" / "train.json"``, or a list of config files merged in order.
        workflow_type: ``"train"`` or ``"infer"``, or None for a config with no MONAI workflow type (evaluation).
        overrides: config IDs and values, as on the command line.

    Raises:
        RuntimeError: when the config lacks a property MONAI requires of that workflow type.
    """
    files = [str(f) for f in config_file] if isinstance(config_file, list) else str(config_file)
    workflow = ConfigWorkflow(config_file=files, workflow_type=workflow_type, **overrides)
    workflow.initialize()
    missing = workflow.check_properties()
    if missing:
        raise RuntimeError(f"{config_file} lacks required bundle properties: {missing}")
    workflow.run()
    workflow.finalize()
    return workflow


def direction_settings(direction: str) -> dict[str, str]:
    """Settings of a translation direction (``"t1_to_t2"`` or ``"t2_to_t1"``); see :data:`DIRECTIONS`.

    Raises:
        ValueError: for any other direction.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}.")
    return DIRECTIONS[direction]


# The ``amp_dtype`` config ID: "" keeps the device's autocast type (float16 on CUDA, bfloat16 on CPU).
AMP_DTYPES: dict[str, torch.dtype | None] = {"": None, "float16": torch.float16, "bfloat16": torch.bfloat16}


def autocast_kwargs(amp_dtype: str) -> dict[str, torch.dtype]:
    """The trainer's ``amp_kwargs`` for the ``amp_dtype`` config ID (see :data:`AMP_DTYPES`).

    bfloat16 on CUDA (Ampere and newer) trains without loss scaling; float16 uses one gradient scaler per optimizer.

    Raises:
        ValueError: for any other name.
    """
    if amp_dtype not in AMP_DTYPES:
        raise ValueError(f"amp_dtype must be one of {sorted(AMP_DTYPES)}, got {amp_dtype!r}.")
    dtype = AMP_DTYPES[amp_dtype]
    return {} if dtype is None else {"dtype": dtype}


def place_network(
    network: nn.Module,
    device: str | torch.device,
    channels_last: bool | str = False,
    compile: bool | str = False,
    compile_backend: str = "inductor",
    phase_convolutions: bool | str = False,
) -> nn.Module:
    """Move a network to ``device`` with the speed options, and return it (the same module).

    Args:
        network: the network.
        device: where it goes.
        channels_last: store 4D weights channels-last (NHWC), the layout CUDA tensor cores prefer under mixed
            precision; convolutions then produce channels-last activations. On two CPU cores it made training slower.
        compile: compile the forward pass with ``torch.compile`` in place (``nn.Module.compile``), so that the
            module, its ``state_dict`` keys and its checkpoints stay those of the plain network. The first
            iterations take longer: the four networks of a 32² test model took 67 s to compile with inductor on two
            CPU cores.
        compile_backend: the ``torch.compile`` backend.
        phase_convolutions: run each stride-2 transposed convolution as one ordinary convolution over its output
            phases (:func:`~monai_cyclegan.networks.phase_convolutions_`): the same outputs and ``state_dict``,
            faster on a CPU.
    """
    if as_bool("phase_convolutions", phase_convolutions):
        phase_convolutions_(network)
    network = network.to(device)
    if as_bool("channels_last", channels_last):
        network = network.to(memory_format=torch.channels_last)
    if as_bool("compile", compile):
        network.compile(backend=compile_backend)
    return network


def load_generator(
    network: nn.Module,
    checkpoint: str | Path,
    direction: str,
    device: str | torch.device,
    architecture: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Load the weights of one direction's generator into ``network`` and move it to ``device``.

    All weights load or none: a file whose tensors do not fit ``network`` is an error that says which settings differ
    from the training's (read from the bundle the file belongs to, when it belongs to one), never a partial load.

    Args:
        network: the generator, built with the architecture the weights were trained with.
        checkpoint: a bundle folder written by training (its ``models/``), a directory of deployed weights (the
            bundle's ``models/``, holding ``model.pt`` and ``model_t2_to_t1.pt``), or one file: a deployed weights
            file, or a full training checkpoint (``cyclegan_checkpoint_epoch=N.pt``, which holds both generators).
        direction: ``"t1_to_t2"`` or ``"t2_to_t1"``.
        device: where the network goes.
        architecture: the settings ``network`` was built with (the configs' ``architecture`` ID: ``generator_def``,
            ``image_size``, ``crop_size``, ``fov_mm``, ``ngf``), to name those that differ from the training's.

    Raises:
        FileNotFoundError: when the weights file does not exist.
        RuntimeError: when the file is damaged, carries pickled code (refused, never run), or its weights do not fit
            ``network`` (another architecture or size).
    """
    from ignite.handlers import Checkpoint  # deferred, with the handlers package, until weights are loaded

    from monai_cyclegan.files import load_checkpoint
    from monai_cyclegan.run_bundle import is_run_bundle

    settings = direction_settings(direction)
    path = Path(checkpoint)
    if is_run_bundle(path):
        path = path / "models"
    if path.is_dir():
        path = path / settings["weights"]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no generator weights for {direction} (train first, or pass a checkpoint).")
    state = load_checkpoint(path, map_location="cpu")
    # A deployed file holds one state dict; Checkpoint.load_objects takes it whole when the key is absent.
    weights = state.get(settings["network"], state) if isinstance(state, Mapping) else state
    # load_state_dict copies the tensors that fit before it reports those that do not: check them all first
    own = {k: v.shape for k, v in network.state_dict().items()}
    fits = isinstance(weights, Mapping) and own == {k: getattr(v, "shape", None) for k, v in weights.items()}
    try:
        if not fits:
            raise RuntimeError("the tensor names or shapes differ from the network's")
        Checkpoint.load_objects({settings["network"]: network}, state)
    except RuntimeError as e:
        raise RuntimeError(
            f"{path}: the weights do not fit the {direction} generator: "
            f"{_mismatch(path, network, weights, architecture)} ({str(e).splitlines()[0]})"
        ) from e
    return network.to(device)


def _mismatch(path: Path, network: nn.Module, weights: Any, architecture: Mapping[str, Any] | None) -> str:
    """What differs between the weights and the network, in settings where they can be named."""
    from monai_cyclegan.run_bundle import architecture_differences, find_run_bundle, read_architecture

    bundle = find_run_bundle(path)
    if bundle is not None and architecture is not None:
        differences = architecture_differences(read_architecture(bundle), architecture)
        if differences:
            return f"{'; '.join(differences)}. Pass the bundle folder {bundle} alone: its configs hold the training's"
    hints = []
    own = network.state_dict()
    if isinstance(weights, Mapping):
        if set(weights) != set(own):
            hints.append("the weights hold another generator or depth (generator_def, or a U-Net's image_size)")
        # the stem, the first convolution of either generator, has ngf output channels
        stems = [next((v for v in d.values() if getattr(v, "ndim", 0) == 4), None) for d in (weights, own)]
        if all(stem is not None for stem in stems) and stems[0].shape[0] != stems[1].shape[0]:
            hints.append(f"ngf {stems[0].shape[0]} in the weights, {stems[1].shape[0]} here")
    return "; ".join(hints or ["the layer shapes differ"]) + (
        ". Pass the run's bundle folder (<output_dir>/bundle), which holds the training's settings, or the "
        "settings the weights were trained with"
    )


def translation_inferer(
    kind: str,
    image_size: int = 256,
    sw_batch_size: int = 8,
    window_size: int | None = None,
    amp: bool | str = False,
    foreground_only: bool | str = False,
    tta: bool | str = False,
) -> Inferer:
    """The inferer of an input kind (``"volume"`` or ``"slice"``).

    A volume goes through the 2D generator axial slice by axial slice (``SliceInferer``, ``sw_batch_size`` slices at a
    time, padded with air, -1); a 2D image, already fitted to the model size, in one pass.

    With ``foreground_only``, a volume's slices without foreground are not translated but set to air, and the others
    are written into a preallocated output (:class:`~monai_cyclegan.inferers.ForegroundSliceInferer`), each slice
    whole as ``SliceInferer`` sends it.

    A generator trained on crops (``window_size`` smaller than ``image_size``) sees each slice window by window
    instead, in windows of the size it was trained on that overlap by half and are blended with Gaussian weights, so
    that no seam shows where two windows meet.

    With ``tta``, every network call is averaged over the left-right flip and a 2-pixel shift of the slice
    (:class:`~monai_cyclegan.inferers.FlipShiftEnsembleInferer`): four network calls per slice instead of one.

    With ``amp``, the generator runs in bf16 (:class:`AutocastInferer`): faster on a GPU and on a CPU with bf16 units
    (``benchmarks/``); on the capstone model its PSNR differs from float32's by at most 0.013 dB (README). The flags
    may be the strings ``"true"`` and ``"false"`` of a bundle command line (:func:`~monai_cyclegan.checks.as_bool`).

    Raises:
        ValueError: for a kind other than ``"volume"`` or ``"slice"``, or a flag that is not true or false.
    """
    if kind not in ("slice", "volume"):
        raise ValueError(f"kind must be 'volume' or 'slice', got {kind!r}.")
    amp, foreground_only, tta = as_bool("amp", amp), as_bool("foreground_only", foreground_only), as_bool("tta", tta)
    windowed = window_size is not None and window_size < image_size
    size = window_size if windowed else image_size
    settings = {"overlap": 0.5, "mode": "gaussian"} if windowed else {"overlap": 0.25}
    if kind == "slice" and not windowed:
        inferer: Inferer = SimpleInferer()
    elif kind == "volume" and foreground_only:
        inferer = ForegroundSliceInferer((size, size), sw_batch_size, **settings)
    else:
        sliding = SliceInferer if kind == "volume" else SlidingWindowInferer
        extra = {"spatial_dim": 2} if kind == "volume" else {}
        inferer = sliding(
            roi_size=(size, size), sw_batch_size=sw_batch_size, padding_mode="constant", cval=-1.0, **extra, **settings
        )
    if tta:
        inferer = FlipShiftEnsembleInferer(inferer)
    return AutocastInferer(inferer) if amp else inferer
