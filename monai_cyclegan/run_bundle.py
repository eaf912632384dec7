"""The bundle every training run writes: its settings, both generators, metadata and a model card, in one folder.

A run bundle is a MONAI bundle (``configs/``, ``models/``, ``docs/``, ``LICENSE``) whose configs are those of the
package's bundle with the run's settings written in as values, so that inference, evaluation and export rebuild the
trained architecture from the folder alone, wherever it is copied.
"""

from __future__ import annotations

import datetime
import functools
import importlib
import importlib.metadata
import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import monai
import numpy as np
import torch
from torch import nn

import monai_cyclegan
from monai_cyclegan.bundle import DIRECTIONS, bundle_dir
from monai_cyclegan.files import write_json

__all__ = [
    "ARCHITECTURE_IDS",
    "DEPLOYED_IDS",
    "RUN_BUNDLE_CONFIGS",
    "architecture_differences",
    "CITATION",
    "EVAL_METRICS",
    "MODEL_CARD_TAGS",
    "config_value",
    "eval_metrics_of",
    "find_run_bundle",
    "is_run_bundle",
    "read_architecture",
    "record_eval_metrics",
    "write_run_bundle",
]

# The config IDs that shape a generator and the images it sees: the configs of a run bundle carry the run's values
# of these, and inference or evaluation with other values does not fit the trained weights.
ARCHITECTURE_IDS = ("generator_def", "image_size", "crop_size", "fov_mm", "ngf")
# What a run writes into its inference and evaluation configs: the architecture and how its model translates.
DEPLOYED_IDS = (*ARCHITECTURE_IDS, "tta")
# The package bundle's files copied into every run bundle (configs/metadata.json is written, not copied).
RUN_BUNDLE_CONFIGS = ("train.json", "multi_gpu_train.json", "inference.json", "evaluate.json", "logging.conf")
# The model's figures of an evaluation summary that go into the metadata's ``eval_metrics``, per direction.
EVAL_METRICS = ("psnr", "ssim")


def _public_target(obj: Any) -> str:
    """The shortest importable dotted path of a class or function (``monai_cyclegan.networks.UNetGenerator``)."""
    parts = obj.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module = ".".join(parts[:end])
        try:
            if getattr(importlib.import_module(module), obj.__qualname__, None) is obj:
                return f"{module}.{obj.__qualname__}"
        except ImportError:
            continue
    return f"{obj.__module__}.{obj.__qualname__}"


def config_value(value: Any) -> Any:
    """A resolved config value as JSON that a bundle config reads back to the same value.

    A callable component (``"_mode_": "callable"``, such as ``generator_def``) becomes its ``_target_`` with the
    resolved arguments; devices and paths become strings, tuples lists; containers are converted item by item.

    Raises:
        TypeError: for a value with no JSON form (e.g. a network), naming its type.
    """
    if isinstance(value, functools.partial):
        return {"_target_": _public_target(value.func), "_mode_": "callable", **config_value(dict(value.keywords))}
    if isinstance(value, Mapping):
        return {str(k): config_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [config_value(v) for v in value]
    if isinstance(value, (torch.device, Path)):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a setting of type {type(value).__name__} cannot be written to a bundle config: {value!r}.")


def _network_component(generator_def: dict[str, Any]) -> dict[str, Any]:
    """``network_def`` as a component with the arguments of ``generator_def``, so ``net_override`` can change them."""
    return {k: v for k, v in generator_def.items() if k != "_mode_"}


def _spatial_shape(settings: Mapping[str, Any]) -> list[int]:
    size = settings.get("crop_size", settings.get("image_size", 256))
    return [size, size]


def _tensor_format(contrast: str, spatial_shape: list[int], modality: bool) -> dict[str, Any]:
    tensor: dict[str, Any] = {"type": "image", "format": "magnitude"}
    if modality:
        tensor["modality"] = "MR"
    tensor |= {
        "num_channels": 1,
        "spatial_shape": spatial_shape,
        "dtype": "float32",
        "value_range": [-1, 1],
        "is_patch_data": False,
        "channel_def": {"0": contrast},
    }
    return tensor


def _installed_version(package: str, default: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return default


def _environment_versions(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata's software versions as those of the running environment: the versions the run was trained with.

    ``required_packages_version`` keeps its packages (``monai-cyclegan`` among them), each at its installed version
    (the listed one when it is not installed).
    """
    required = dict(metadata.get("required_packages_version", {}))
    required = {name: _installed_version(name, version) for name, version in required.items()}
    required["monai-cyclegan"] = monai_cyclegan.__version__
    return {
        "monai_version": monai.__version__,
        "pytorch_version": torch.__version__.split("+")[0],  # as MONAI writes it: 2.13.0+cpu -> 2.13.0
        "numpy_version": np.__version__,
        "required_packages_version": required,
    }


def _metadata(source: Path, settings: Mapping[str, Any], eval_metrics: Mapping[str, Any] | None) -> dict[str, Any]:
    """The package bundle's metadata with this run's software versions, generator, input size and both networks."""
    metadata = json.loads((source / "configs" / "metadata.json").read_text())
    metadata |= _environment_versions(metadata)
    shape = _spatial_shape(settings)
    generator = settings.get("generator_def", {}).get("_target_", "a generator").rsplit(".", 1)[-1]
    metadata["description"] = (
        f"Two {generator} generators (T1w->T2w and T2w->T1w) trained as an unpaired CycleGAN on axial slices of "
        f"brain MRI, {shape[0]}x{shape[1]} pixels over a {settings.get('fov_mm', 256.0)} mm field of view. "
        "models/model.pt holds the T1w->T2w generator (network_def; inputs 'image', outputs 'pred'); "
        "models/model_t2_to_t1.pt the T2w->T1w one (inputs 'image_t2', outputs 'pred_t1'). "
        "Written by a monai_cyclegan training run; configs/ hold its settings."
    )
    metadata["network_data_format"] = {
        "inputs": {
            "image": _tensor_format("T1w", shape, modality=True),
            "image_t2": _tensor_format("T2w", shape, modality=True),
        },
        "outputs": {
            "pred": _tensor_format("T2w", shape, modality=False),
            "pred_t1": _tensor_format("T1w", shape, modality=False),
        },
    }
    metadata["eval_metrics"] = dict(eval_metrics or {})
    return metadata


# Arguments of the network definitions written back as references to the top-level IDs they came from, when equal,
# so that an override of the top-level ID reaches the network as it does in the package's configs.
_ARGUMENT_REFERENCES = {"ngf": "ngf", "ndf": "ndf", "image_size": "crop_size"}


def _referenced(definition: dict[str, Any], config: Mapping[str, Any]) -> dict[str, Any]:
    referenced = dict(definition)
    for argument, key in _ARGUMENT_REFERENCES.items():
        if argument in referenced and key in config and config[key] == referenced[argument]:
            referenced[argument] = f"@{key}"
    return referenced


def _with_settings(config: dict[str, Any], settings: Mapping[str, Any], ids: tuple[str, ...] | None) -> dict[str, Any]:
    """``config`` with the run's values of ``ids`` (all settings when None) that it defines, and a relative root.

    The network definitions refer to ``ngf``, ``ndf`` and ``crop_size`` (and ``crop_size`` to ``image_size``) where
    the run's values agree, as in the package's configs.
    """
    config = dict(config)
    for key in settings if ids is None else ids:
        if key in config and key in settings:
            config[key] = settings[key]
    if "generator_def" in settings and "network_def" in config:
        config["network_def"] = _network_component(settings["generator_def"])
    for key in ("generator_def", "network_def", "discriminator_def"):
        if isinstance(config.get(key), dict):
            config[key] = _referenced(config[key], config)
    if "crop_size" in config and config["crop_size"] == config.get("image_size"):
        config["crop_size"] = "@image_size"
    if "bundle_root" in config:
        config["bundle_root"] = "."  # the model-zoo default: run from the bundle folder, or pass --bundle_root
    return config


# The model-zoo template's tags of this model (model-zoo ``docs/readme_template.md``, "Tags").
MODEL_CARD_TAGS = "Image-to-image translation, Synthesis, MR, Brain, T1w, T2w, CycleGAN, Unpaired, 2D slices"
CITATION = """@inproceedings{zhu2017unpaired,
  title={Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks},
  author={Zhu, Jun-Yan and Park, Taesung and Isola, Phillip and Efros, Alexei A},
  booktitle={IEEE International Conference on Computer Vision (ICCV)},
  year={2017}
}
@article{cardoso2022monai,
  title={MONAI: An open-source framework for deep learning in healthcare},
  author={Cardoso, M. Jorge and Li, Wenqi and Brown, Richard and others},
  journal={arXiv preprint arXiv:2211.02701},
  year={2022}
}"""


def _training_data(settings: Mapping[str, Any]) -> str:
    """Where the run's training images came from, in a sentence."""
    if settings.get("dataset_dir"):
        split = ""
        if settings.get("split_file"):
            split = f", the `{settings.get('split') or 'train'}` split of `{settings['split_file']}`"
        return f"`{settings['dataset_dir']}`{split} (IXI layout, public slice set or `t1/` + `t2/` folders)."
    return (
        f"the embedded synthetic head phantom ({settings.get('phantom_subjects', 'the default number of')} subjects at "
        f"grid scale {settings.get('phantom_scale', 1.0)}), generated from the MNI ICBM152 2009a template."
    )


def _model_card(settings: Mapping[str, Any], record: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    """The run bundle's ``docs/README.md``, with the sections of the model-zoo template (``docs/readme_template.md``).

    Authors, tags, model description, data and preprocessing, performance, usage, system configuration,
    limitations (not for diagnostic use), citation, data licence and references, with this run's settings and facts.
    """
    rows = "\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in settings.items())
    facts = "\n".join(f"- {k}: {v}" for k, v in record.items() if v is not None)
    generator = settings.get("generator_def", {}).get("_target_", "the configured generator").rsplit(".", 1)[-1]
    shape = _spatial_shape(settings)
    versions = ", ".join(
        [f"MONAI {metadata.get('monai_version')}", f"PyTorch {metadata.get('pytorch_version')}"]
        + [f"{k} {v}" for k, v in metadata.get("required_packages_version", {}).items()]
    )
    return f"""# CycleGAN T1w ↔ T2w: a trained run (model card)

### **Authors**
{metadata.get("authors", "monai_cyclegan contributors")}

### **Tags**
{MODEL_CARD_TAGS}

> **Not for diagnostic use.** Synthetic images can look plausible and still be wrong: they may miss or invent
> anatomy and pathology. This bundle is a research tool. Never use its output for clinical decisions.

## **Model Description**
Unpaired translation between T1-weighted and T2-weighted brain MRI, written by a `monai_cyclegan` training run: two
{generator} generators trained as a CycleGAN (with two PatchGAN discriminators, not shipped) on axial slices of
{shape[0]}×{shape[1]} pixels. `models/model.pt` translates T1w to T2w, `models/model_t2_to_t1.pt` T2w to T1w; inputs
and outputs are single-channel slices in [-1, 1] (`configs/metadata.json`, `network_data_format`).

## **Intended use**
- Research on MRI contrast translation, data augmentation and harmonisation studies, teaching.
- Input: a 3D brain MRI volume in NIfTI (one contrast), any orientation and spacing, or PNG/JPEG slices.
- Output: the other contrast on the input's grid, values in [0, 1].

## **Data**
Trained on {_training_data(settings)}

#### **Preprocessing**
Volumes are reoriented to RAS, resampled to `fov_mm / image_size` mm ({settings.get("fov_mm", 256.0)} mm over
{settings.get("image_size", 256)} pixels) and scaled per volume so that air is -1 and the 99.5th percentile of the head
is +1; axial slices are padded or cropped to the model's size. Inference applies the same steps and inverts them.

## **This run**
{facts}

| setting | value |
|---|---|
{rows}

`configs/` hold these values: inference, evaluation and export rebuild this architecture from the folder, with no
architecture flag.

## **Performance**
`monai-cyclegan evaluate --checkpoint <this folder>` writes the model's PSNR and SSIM per direction into
`configs/metadata.json` (`eval_metrics`, with what they were measured on in `eval_data`); `{{}}` there means this model
has not been evaluated yet. Compare them with the two non-learned baselines of the evaluation report
(`summary.json`): a model that does not beat them is not worth using.

## **Additional Usage Steps**
From this folder (or with `--bundle_root` naming it):
```bash
python -m monai.bundle run --config_file configs/inference.json --bundle_root . \\
    --input_path scan_T1.nii.gz --output_dir out/
python -m monai.bundle run --config_file configs/inference.json --bundle_root . \\
    --input_path t2/ --direction t2_to_t1 --output_dir out/
python -m monai.bundle ckpt_export network_def --filepath model.ts --ckpt_file models/model.pt \\
    --meta_file configs/metadata.json --config_file configs/inference.json --bundle_root .
```
With the `monai-cyclegan` command, from anywhere:
```bash
monai-cyclegan translate --checkpoint path/to/this/folder --input_path scan_T1.nii.gz --output_dir out/
monai-cyclegan evaluate --checkpoint path/to/this/folder --pairs pairs.csv --output_dir eval/
monai-cyclegan export --checkpoint path/to/this/folder --out model.ts
```
From Python, the T1w→T2w generator with its trained weights:
```python
import monai.bundle
generator = monai.bundle.load("<folder name>", bundle_dir="<its parent>", workflow_type="inference", device="cpu")
```

## **System Configuration**
Python ≥ 3.10 with the `monai-cyclegan` package installed (it brings MONAI, PyTorch and the other requirements).
Trained with {versions}{f", on {record['device']}" if record.get("device") else ""}.
Inference runs on a CPU or one GPU, the generator in bf16 by default (`--fp32` for float32); the time per volume
grows with its size and the generator's (the package's default U-Net 256 translates a 256×256×150 volume in about
8 s on two CPU cores).

## **Limitations**
Out of scope: diagnosis, treatment planning, quantitative relaxometry, non-brain anatomy, contrasts other than
T1w/T2w, scanners and protocols far from the training data, pathology the training data did not show. This research
software has not been cleared or approved by any regulatory agency.

## **Citation Info**
```
{CITATION}
```
Weights trained on IXI: cite the IXI data set as well (https://brain-development.org/ixi-dataset/), as its licence asks.

## **Data licence**
Weights trained on IXI (https://brain-development.org/ixi-dataset/) are a derivative of data distributed under
CC BY-SA 3.0 (Creative Commons Attribution-ShareAlike 3.0 Unported): attribute IXI and share alike. Weights trained on
the embedded phantom derive from the MNI ICBM152 2009a template (`docs/data_license.txt`). The code is under the
Apache License 2.0 (`LICENSE`).

## **Security**
Configs evaluate Python expressions (`$...`) and import `_target_` classes: run only bundles from a trusted source.
Weights load with `torch.load(weights_only=True)`.

## **References**
[1] Zhu J-Y, Park T, Isola P, Efros AA. Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks. ICCV 2017.

[2] MONAI Consortium. MONAI: Medical Open Network for AI. https://monai.io
"""


def _unwrap(network: nn.Module) -> nn.Module:
    """The network inside a ``DistributedDataParallel`` (or ``DataParallel``) wrapper."""
    return getattr(network, "module", network)


def write_run_bundle(
    folder: str | Path,
    settings: Mapping[str, Any],
    generators: Mapping[str, nn.Module],
    record: Mapping[str, Any] | None = None,
    eval_metrics: Mapping[str, Any] | None = None,
    source: str | Path | None = None,
) -> Path:
    """Write a run bundle to ``folder``, atomically: built in a temporary folder beside it and renamed when complete.

    A bundle already at ``folder`` (an earlier or resumed run) is replaced; a reader sees the old bundle or the new
    one, never a partial one.

    Args:
        folder: the bundle folder, e.g. ``<output_dir>/bundle``.
        settings: the run's settings, resolved (:func:`config_value` converts them); ``generator_def`` and the other
            :data:`DEPLOYED_IDS` go into every config that defines them, all settings into ``train.json``.
        generators: the networks by direction (``"t1_to_t2"``, ``"t2_to_t1"``); their state dicts become
            ``models/model.pt`` and ``models/model_t2_to_t1.pt``.
        record: facts about the run for the model card (epochs, training time, commit).
        eval_metrics: the metadata's ``eval_metrics``.
        source: the bundle whose configs, licence and data licence are copied (default: the package's).

    Raises:
        ValueError: when a direction's generator is missing.
    """
    folder = Path(folder)
    source = Path(source) if source is not None else bundle_dir()
    missing = set(DIRECTIONS) - set(generators)
    if missing:
        raise ValueError(f"a run bundle needs both generators; missing {sorted(missing)}.")
    values = config_value(dict(settings))
    folder.parent.mkdir(parents=True, exist_ok=True)
    temporary = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        (temporary / "configs").mkdir(parents=True)
        (temporary / "models").mkdir()
        (temporary / "docs").mkdir()
        for name in RUN_BUNDLE_CONFIGS:
            src = source / "configs" / name
            if not src.is_file():
                continue
            if name.endswith(".json"):
                ids = None if name == "train.json" else DEPLOYED_IDS
                write_json(temporary / "configs" / name, _with_settings(json.loads(src.read_text()), values, ids), 4)
            else:
                shutil.copyfile(src, temporary / "configs" / name)
        metadata = _metadata(source, values, eval_metrics)
        write_json(temporary / "configs" / "metadata.json", metadata, 4)
        for direction, network in generators.items():
            torch.save(_unwrap(network).state_dict(), temporary / "models" / DIRECTIONS[direction]["weights"])
        card = {"written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **(record or {})}
        (temporary / "docs" / "README.md").write_text(_model_card(values, card, metadata))
        for extra in ("LICENSE", "docs/data_license.txt"):
            if (source / extra).is_file():
                shutil.copyfile(source / extra, temporary / extra)
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
        if folder.exists():
            folder.rename(old)
        temporary.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return folder


def is_run_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a bundle folder: ``configs/inference.json`` and ``models/`` in it."""
    path = Path(path)
    return (path / "configs" / "inference.json").is_file() and (path / "models").is_dir()


def find_run_bundle(checkpoint: str | Path) -> Path | None:
    """The bundle that ``checkpoint`` is, or whose ``models/`` folder or weights file it is; None for any other."""
    path = Path(checkpoint)
    for candidate in (path, path.parent, path.parent.parent):
        if is_run_bundle(candidate) and (candidate == path or path.is_relative_to(candidate / "models")):
            return candidate
    return None


def eval_metrics_of(summary: Mapping[str, Any]) -> dict[str, float | None]:
    """The metadata's ``eval_metrics`` of an evaluation summary: the model's figures of each direction it scored.

    Keys are ``<direction>_<metric>`` for the :data:`EVAL_METRICS` (``t1_to_t2_psnr``, ``t2_to_t1_ssim``...), flat
    numbers as model-zoo bundles give them (``{"mean_dice": 0.96}``). A direction scored without the model (baselines
    only) has none.

    Args:
        summary: what :func:`~monai_cyclegan.evaluation.evaluate_translation` returns (``summary.json``).
    """
    metrics: dict[str, float | None] = {}
    for direction in DIRECTIONS:
        model = summary["metrics"].get(direction, {}).get("model")
        if model is not None:
            metrics |= {f"{direction}_{name}": model[name] for name in EVAL_METRICS}
    return metrics


def record_eval_metrics(checkpoint: str | Path, summary: Mapping[str, Any]) -> Path | None:
    """Write an evaluation's figures into the ``configs/metadata.json`` of the run bundle it evaluated, atomically.

    ``eval_metrics`` becomes :func:`eval_metrics_of` of ``summary`` (the last evaluation replaces an earlier one), and
    ``eval_data`` says what it was measured on (pairs, their kind and number, the intensity convention, when). Nothing
    is written when ``checkpoint`` is not a run bundle's folder or its ``models/`` (a single weights file, a training
    checkpoint), when it is the package's bundle (a template every run shares), or when the model was not scored.

    Args:
        checkpoint: what the evaluation loaded its generators from (``evaluate.json``'s ``checkpoint``).
        summary: what :func:`~monai_cyclegan.evaluation.evaluate_translation` returns.

    Returns:
        The metadata file written, or None.
    """
    bundle = find_run_bundle(checkpoint)
    if bundle is None or Path(checkpoint).resolve() not in (bundle.resolve(), (bundle / "models").resolve()):
        return None
    if bundle.resolve() == bundle_dir().resolve():
        return None
    metrics = eval_metrics_of(summary)
    path = bundle / "configs" / "metadata.json"
    if not metrics or not path.is_file():
        return None
    metadata = json.loads(path.read_text())
    metadata["eval_metrics"] = metrics
    metadata["eval_data"] = {
        "pairs": summary.get("pairs"),
        "kind": summary.get("kind"),
        "num_pairs": summary.get("num_pairs"),
        "intensity_convention": summary.get("intensity_convention"),
        "evaluated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    return write_json(path, metadata, 4)


def read_architecture(bundle: str | Path, config: str = "inference.json") -> dict[str, Any]:
    """The :data:`ARCHITECTURE_IDS` of a bundle's ``configs/<config>``, references to other IDs resolved.

    An ID set by an expression (``$...``) is left out.
    """
    content = json.loads((Path(bundle) / "configs" / config).read_text())

    def resolved(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: resolved(v) for k, v in value.items()}
        if isinstance(value, str) and value.startswith("@") and value[1:] in content:
            return resolved(content[value[1:]])
        return value

    values = {k: resolved(content[k]) for k in ARCHITECTURE_IDS if k in content}
    return {k: v for k, v in values.items() if not _is_expression(v)}


def _is_expression(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_is_expression(v) for v in value.values())
    return isinstance(value, str) and value[:1] in ("$", "%")


def architecture_differences(trained: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """``"<id> <trained value> in training, <value> here"`` for each :data:`ARCHITECTURE_IDS` setting that differs.

    Args:
        trained: the training's settings (:func:`read_architecture`), resolved.
        here: the settings now, resolved (``generator_def`` as a callable or as :func:`config_value` writes it).
    """
    trained, here = config_value(dict(trained)), config_value(dict(here))
    return [
        f"{key} {json.dumps(trained[key])} in training, {json.dumps(here[key])} here"
        for key in ARCHITECTURE_IDS
        if key in trained and key in here and trained[key] != here[key]
    ]
