"""The ``monai-cyclegan`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from monai_cyclegan.directions import DIRECTION_NAMES, T1_TO_T2
from monai_cyclegan.errors import root_cause

__all__ = ["main"]

# argparse attributes that are not config IDs
_NOT_CONFIG_IDS = ("verb", "func", "config")


def _run_bundle_config(
    name: str, workflow_type: str | None, args: argparse.Namespace, not_ids: tuple[str, ...] = (), **overrides
):
    """Run the bundle config ``name`` with every ``--config`` file merged after it and the verb's flags as overrides.

    A flag left unset (None) keeps the config's value; flags named in ``not_ids`` are not config IDs and are left out
    (the verb turns them into ``overrides``). A ``--checkpoint`` that is a bundle folder written by training runs
    that folder's config, which holds the trained architecture (see :func:`_bundle_config`).
    """
    from monai_cyclegan.bundle import run_workflow  # deferred: keeps `--help` fast

    config, root = _bundle_config(name, args)
    skipped = _NOT_CONFIG_IDS + not_ids + (("checkpoint",) if root else ())
    flags = {k: v for k, v in vars(args).items() if k not in skipped and v is not None}
    return run_workflow([config, *args.config], workflow_type, **flags, **root, **overrides)


def _bundle_config(name: str, args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """The config file ``name`` to run, and the ``bundle_root`` override it needs.

    The package's bundle config, or, when ``--checkpoint`` is a bundle folder (``<output_dir>/bundle`` of a training
    run, or a copy of it), that folder's config with ``bundle_root`` set to it, so that its weights and the
    architecture its configs record are used with no architecture flag.
    """
    from monai_cyclegan.bundle import bundle_dir
    from monai_cyclegan.run_bundle import is_run_bundle

    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and is_run_bundle(checkpoint):
        return str(Path(checkpoint) / "configs" / name), {"bundle_root": str(Path(checkpoint).resolve())}
    return str(bundle_dir() / "configs" / name), {}


def _add_tta_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tta",
        action="store_true",
        default=None,
        help="average the generator over a left-right flip and 2-pixel shifts (4 network calls per slice)",
    )


def _add_config_option(parser: argparse.ArgumentParser, after: str, example: str = "") -> None:
    parser.add_argument(
        "--config", action="append", default=[], help=f"a JSON config merged after {after}{example} (repeatable)"
    )


def _demo(args: argparse.Namespace) -> int:
    from monai_cyclegan.demo import run_demo  # deferred: keeps `--help` fast

    settings = {"epochs": args.epochs} if args.epochs else {}
    summary = run_demo(args.output_dir, seed=args.seed, **settings)
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("timings", "metrics", "baseline_metrics", "lesion_contrast", "csf_bright_wm_dark", "picture")
            },
            indent=2,
        )
    )
    print(f"TensorBoard: tensorboard --logdir {summary['tensorboard']}")
    return 0


def _phantom(args: argparse.Namespace) -> int:
    from monai_cyclegan.data.phantom import ensure_phantom_dataset

    out = ensure_phantom_dataset(
        args.out,
        num_subjects=args.subjects,
        scale=args.scale,
        seed=args.seed,
        lesions=args.lesions,
        vary_sequences=args.vary_sequences,
    )
    t1, t2 = (len(list((out / f"IXI-{c}").glob("*.nii.gz"))) for c in ("T1", "T2"))
    print(f"{out}: {t1} T1 and {t2} T2 volumes, with paired/ ground truth and manifest.json")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from monai_cyclegan.data.preview import preview_dataset

    print(preview_dataset(args.dataset_dir, args.out, samples=args.samples, image_size=args.image_size))
    return 0


def _train(args: argparse.Namespace) -> int:
    workflow = _run_bundle_config("train.json", "train", args)
    state = workflow.trainer.state
    ckpt_dir = workflow.parser.get_parsed_content("ckpt_dir")
    print(f"trained {state.epoch} epochs ({state.iteration} iterations); generators in {ckpt_dir}")
    return 0


def _translate(args: argparse.Namespace) -> int:
    precision = {"amp": False} if args.fp32 else {}
    # a failed input makes the run raise (after every other input), with each failure and the report in the message
    workflow = _run_bundle_config("inference.json", "infer", args, not_ids=("fp32",), **precision)
    from monai_cyclegan.translation import SKIPPED, TRANSLATED

    report = workflow.parser.get_parsed_content("report")
    skipped = report.count(SKIPPED)
    print(
        f"{report.count(TRANSLATED)} file(s) translated {workflow.parser.get_parsed_content('direction')} into "
        f"{args.output_dir}" + (f", {skipped} skipped (already complete)" if skipped else "")
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from monai.bundle import ConfigParser

    from monai_cyclegan.bundle import load_generator
    from monai_cyclegan.export import export_generator

    config, root = _bundle_config("inference.json", args)
    parser = ConfigParser()
    parser.read_config([config, *args.config])
    parser.update({k: v for k, v in (("image_size", args.image_size), ("ngf", args.ngf)) if v is not None} | root)
    checkpoint = args.checkpoint or str(Path(parser.get_parsed_content("bundle_root")) / "models")
    network = load_generator(
        parser.get_parsed_content("network_def"),
        checkpoint,
        args.direction,
        "cpu",
        parser.get_parsed_content("architecture"),
    )
    image_size = parser.get_parsed_content("crop_size")
    difference = export_generator(network, args.out, args.format, image_size, atol=args.atol)
    print(f"{args.out}: {args.format} generator {args.direction}, matches PyTorch within {difference:.1e}")
    return 0


def _prepare_ixi(args: argparse.Namespace) -> int:
    from monai_cyclegan.data.prepare_ixi import prepare_ixi

    result = prepare_ixi(args.t1, args.t2, args.out, symlink=args.symlink)
    print(
        f"{result.count('T1')} T1 and {result.count('T2')} T2 volumes in {result.out_dir} "
        f"(manifest.csv, manifest.json); {len(result.skipped)} member(s) skipped"
    )
    for item in result.skipped:
        print(f"  skipped {item.member} ({item.source}): {item.reason}")
    return 0


def _split(args: argparse.Namespace) -> int:
    from monai_cyclegan.data.splits import split_dataset, split_from_pairs, split_named

    if args.pairs and args.test:
        raise ValueError("give either --pairs or --test, not both.")
    if args.pairs:
        splits = split_from_pairs(args.dataset_dir, args.pairs, args.out, args.test_every)
    elif args.test:
        splits = split_named(args.dataset_dir, args.out, args.test.split(","), filter(None, args.validation.split(",")))
    else:
        splits = split_dataset(args.dataset_dir, args.out, args.val_fraction, args.test_fraction, args.seed)
    print(f"{args.out}: " + ", ".join(f"{name} {len(subjects)}" for name, subjects in splits.items()) + " subjects")
    return 0


def _pair(args: argparse.Namespace) -> int:
    from monai_cyclegan.registration import pair_dataset  # deferred: importing ITK takes seconds

    results = pair_dataset(args.dataset_dir, args.out, method=args.method)
    for r in results:
        moved = "" if r.displacement_mm is None else f", registration moved the head {r.displacement_mm:.1f} mm"
        print(
            f"{r.subject}: {r.status} ({r.method}{moved}); Dice {r.dice_before:.3f} -> {r.dice_after:.3f}, "
            f"NMI {r.nmi_before:.3f} -> {r.nmi_after:.3f}"
        )
    poor = sum(r.status == "poor" for r in results)
    print(
        f"{len(results)} subjects paired in {args.out} ({poor} poor); report: pairing_report.csv, pairing_report.json"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    workflow = _run_bundle_config("evaluate.json", None, args)
    summary = workflow.parser.get_parsed_content("evaluate")
    for direction, methods in summary["metrics"].items():
        for method, m in methods.items():
            flags = f", identity-like {m['identity_like']}, inversion-like {m['inversion_like']} of {m['images']}"
            print(
                f"{direction} {method:17s} PSNR {m['psnr']:6.2f} dB  SSIM {m['ssim']:.3f}  MAE {m['mae']:.4f}  "
                f"NMSE {m['nmse']:.4f}  (head: PSNR {m['masked']['psnr']:.2f}, SSIM {m['masked']['ssim']:.3f}){flags}"
            )
    print(f"report: {workflow.parser.get_parsed_content('output_dir')} (metrics.csv, summary.json, results.json, PNGs)")
    return 0


def _combine(args: argparse.Namespace) -> int:
    from monai_cyclegan.evaluation.aggregate import combine_result_files

    record = combine_result_files(args.results, args.out, args.seeds)
    for direction in DIRECTION_NAMES:
        m = record[direction]
        print(
            f"{direction}: PSNR {m['psnr']:.2f} ± {m['psnr_spread']:.2f} dB, SSIM {m['ssim']:.3f} ± "
            f"{m['ssim_spread']:.3f} over {len(args.results)} runs"
        )
    print(f"written: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all verbs."""
    parser = argparse.ArgumentParser(
        prog="monai-cyclegan",
        description="Unpaired T1w <-> T2w brain MRI translation with CycleGAN: data, training, translation, "
        "evaluation and export. 'monai-cyclegan VERB --help' describes each verb.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    demo = verbs.add_parser(
        "demo",
        help="train a small CycleGAN on the synthetic phantom and translate a held-out T1 volume",
        description="Generate a phantom data set, train a small CycleGAN through the bundle, translate a held-out "
        "T1 volume into T2, and write TensorBoard logs, models/model.pt, the synthetic NIfTI and demo.png.",
    )
    demo.add_argument("--output_dir", default="runs/demo", help="where to write everything (default: runs/demo)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the phantom and the training (default: 0)")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs (default: the demo's setting)")
    demo.set_defaults(func=_demo)

    phantom = verbs.add_parser(
        "phantom",
        help="generate a synthetic brain phantom data set (T1 and T2 volumes, IXI layout)",
        description="Write a seeded synthetic head phantom built from the MNI ICBM152 template in the IXI layout "
        "(OUT/IXI-T1, OUT/IXI-T2) with paired ground truth (OUT/paired: both contrasts, tissue labels, lesion masks) "
        "and a manifest; an existing phantom with the same settings is kept as it is.",
    )
    phantom.add_argument("--out", required=True, help="data set directory to write (use it as dataset_dir)")
    phantom.add_argument("--subjects", type=int, default=10, help="number of subjects (default: 10)")
    phantom.add_argument("--scale", type=float, default=1.0, help="grid scale, 1.0 is IXI's resolution (default: 1)")
    phantom.add_argument("--seed", type=int, default=0, help="seed of the phantom (default: 0)")
    phantom.add_argument("--lesions", action="store_true", help="give every subject MS-like white-matter lesions")
    phantom.add_argument(
        "--vary_sequences",
        action="store_true",
        help="draw each subject's TR, TE, TI and flip angle from ranges around IXI's protocols",
    )
    phantom.set_defaults(func=_phantom)

    preview = verbs.add_parser(
        "preview",
        help="a PNG of sample slices of each contrast of a data set, with their intensity histograms",
        description="Pick SAMPLES files of each contrast of DATASET_DIR (any supported layout), prepare them as the "
        "model will see them (a volume's middle axial slice), and draw them in a row per contrast, each row ending "
        "with the histogram of its non-background intensities.",
    )
    preview.add_argument("--dataset_dir", required=True, help="the data set directory")
    preview.add_argument("--out", default="preview.png", help="the PNG to write (default: preview.png)")
    preview.add_argument("--samples", type=int, default=4, help="images per contrast (default: 4)")
    preview.add_argument("--image_size", type=int, default=256, help="model size to prepare them for (default: 256)")
    preview.set_defaults(func=_preview)

    train = verbs.add_parser(
        "train",
        help="train the CycleGAN with the bundle's configs/train.json",
        description="Run the bundle's training (configs/train.json, any --config merged after it) with the common "
        "settings as flags; every other setting is in docs/training.md. Same as python -m monai.bundle run training.",
    )
    train.add_argument("--dataset_dir", default=None, help="data set directory (default: the synthetic phantom)")
    train.add_argument("--output_dir", default=None, help="TensorBoard logs, full-state checkpoints, run record")
    train.add_argument("--ckpt_dir", default=None, help="where model.pt and model_t2_to_t1.pt go")
    train.add_argument("--split_file", default=None, help="train on the train split of this split file")
    train.add_argument("--epochs", type=int, default=None, help="epochs (default: 200)")
    train.add_argument("--image_size", type=int, default=None, help="model input size (default: 256)")
    train.add_argument("--batch_size", type=int, default=None, help="volumes per batch (default: 1)")
    train.add_argument("--num_workers", type=int, default=None, help="data-loader workers (default: 2)")
    train.add_argument("--seed", type=int, default=None, help="seed (default: 0)")
    train.add_argument("--amp", action="store_true", default=None, help="mixed precision (bf16 on CPU)")
    train.add_argument(
        "--amp_dtype", choices=("bfloat16", "float16"), default=None, help="autocast type (default: the device's)"
    )
    train.add_argument("--channels_last", action="store_true", default=None, help="channels-last weights (for GPUs)")
    train.add_argument("--compile", action="store_true", default=None, help="compile the networks (torch.compile)")
    train.add_argument("--resume", action="store_true", default=None, help="continue from the newest checkpoint")
    _add_config_option(train, "train.json")
    train.set_defaults(func=_train)

    translate = verbs.add_parser(
        "translate",
        help="translate a NIfTI volume, a folder of them, or a folder of PNG/JPEG slices into the other contrast",
        description="Run the bundle's inference (configs/inference.json): every file of INPUT_PATH goes through the "
        "generator, volumes slice by slice in batches (only the slices that hold the head), and is written to "
        "OUTPUT_DIR as <name>_synT2 (or _synT1) with the input's affine and size (NIfTI) or size (PNG). Each output "
        "appears only once complete. A file that cannot be translated is reported and the others go on; "
        "OUTPUT_DIR/translation_report.csv lists every input, and the exit status is 1 if any failed.",
    )
    translate.add_argument("--input_path", required=True, help="a NIfTI or PNG/JPEG file, or a folder of one kind")
    translate.add_argument("--output_dir", required=True, help="where the translated files go")
    translate.add_argument(
        "--direction", choices=DIRECTION_NAMES, default=None, help=f"translation direction ({T1_TO_T2})"
    )
    translate.add_argument(
        "--checkpoint",
        default=None,
        help="a training run's bundle folder (<output_dir>/bundle: its configs set the architecture), or a weights "
        "file, with --config for its architecture (default: the package bundle's models/ file of the direction)",
    )
    translate.add_argument("--sw_batch_size", type=int, default=None, help="slices per generator batch (default: 8)")
    translate.add_argument("--fp32", action="store_true", help="run the generator in float32 instead of bf16")
    _add_tta_option(translate)
    translate.add_argument(
        "--skip_existing",
        action="store_true",
        default=None,
        help="continue a half-done run: skip inputs whose output in OUTPUT_DIR is complete (loads, input's grid)",
    )
    _add_config_option(translate, "inference.json", ", e.g. the one the model was trained with")
    translate.set_defaults(func=_translate)

    export = verbs.add_parser(
        "export",
        help="export a trained generator to TorchScript or ONNX, checked against PyTorch",
        description="Load a generator as inference.json builds it (any --config merged after it), export it with a "
        "free batch size, run the export on a random batch and keep the file only if it matches PyTorch within "
        "--atol. ONNX needs the export extra: pip install 'monai-cyclegan[export]'.",
    )
    export.add_argument("--out", required=True, help="the file to write, e.g. model.ts or model.onnx")
    export.add_argument("--format", choices=("torchscript", "onnx"), default="torchscript", help="(torchscript)")
    export.add_argument("--direction", choices=DIRECTION_NAMES, default=T1_TO_T2, help=f"({T1_TO_T2})")
    export.add_argument(
        "--checkpoint",
        default=None,
        help="a training run's bundle folder (sets the architecture), a weights file or a models/ folder "
        "(default: the package bundle's)",
    )
    export.add_argument("--image_size", type=int, default=None, help="generator input size it was trained with")
    export.add_argument("--ngf", type=int, default=None, help="generator width it was trained with")
    export.add_argument("--atol", type=float, default=1e-4, help="largest allowed difference from PyTorch (1e-4)")
    _add_config_option(export, "inference.json", ", e.g. the one the model was trained with")
    export.set_defaults(func=_export)

    prepare = verbs.add_parser(
        "prepare-ixi",
        help="check the IXI T1/T2 tarballs (or extracted folders) and write the IXI layout with a manifest",
        description="Extract IXI-T1.tar and IXI-T2.tar (or copy extracted folders), check that every volume opens as "
        "a finite 3D NIfTI, and write OUT/IXI-T1, OUT/IXI-T2, manifest.csv and manifest.json (subject, site, shape, "
        "spacing, orientation). Bad members are skipped with a warning; nothing half-extracted remains.",
    )
    prepare.add_argument("--t1", required=True, help="IXI-T1.tar (.tar, .tar.gz, .tgz) or a folder of T1 NIfTI files")
    prepare.add_argument("--t2", required=True, help="IXI-T2.tar or a folder of T2 NIfTI files")
    prepare.add_argument("--out", required=True, help="output data set directory (use it as dataset_dir)")
    prepare.add_argument("--symlink", action="store_true", help="link files of folder inputs instead of copying")
    prepare.set_defaults(func=_prepare_ixi)

    split = verbs.add_parser(
        "split",
        help="write a seeded train/validation/test split of a data set's subjects",
        description="Split the subjects of DATASET_DIR (any supported layout) into train, validation and test, and "
        "write them to a JSON file that training reads with --split_file. No subject is in two splits.",
    )
    split.add_argument("--dataset_dir", required=True, help="the data set directory")
    split.add_argument("--out", required=True, help="split file to write, e.g. splits.json")
    split.add_argument("--val_fraction", type=float, default=0.1, help="share of subjects for validation (0.1)")
    split.add_argument("--test_fraction", type=float, default=0.1, help="share of subjects for testing (0.1)")
    split.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default: 0)")
    split.add_argument(
        "--pairs",
        default=None,
        help="a pairs list (CSV with t1,t2 columns): test on its rows 0, k, 2k, ... (k = --test_every) and train on "
        "every other image, unpaired, instead of a random split",
    )
    split.add_argument("--test_every", type=int, default=4, help="k of --pairs (default: 4)")
    split.add_argument(
        "--test",
        default=None,
        help="comma-separated subjects to test on (e.g. patient19); every other subject trains, unless named by "
        "--validation. Replaces the random split",
    )
    split.add_argument("--validation", default="", help="comma-separated validation subjects, with --test")
    split.set_defaults(func=_split)

    pair = verbs.add_parser(
        "pair",
        help="bring each subject's T2 onto its T1 grid for paired evaluation, with an alignment report",
        description="For every subject of an IXI-layout DATASET_DIR with both contrasts, resample the T2 onto the T1 "
        "grid by the headers, or by rigid ITK registration (Mattes mutual information) when registration moves the "
        "head by more than 1 mm; write <subject>-T1/-T2/-mask.nii.gz and pairing_report.csv/.json with Dice and NMI "
        "before and after, and flag pairs whose alignment stays poor.",
    )
    pair.add_argument("--dataset_dir", required=True, help="IXI-layout directory (IXI-T1/, IXI-T2/)")
    pair.add_argument("--out", required=True, help="output directory of the pairs and the report")
    pair.add_argument(
        "--method",
        choices=("auto", "header", "rigid"),
        default="auto",
        help="auto: register and keep the headers unless they are off by > 1 mm (default); header: headers only; "
        "rigid: always use the registration",
    )
    pair.set_defaults(func=_pair)

    evaluate = verbs.add_parser(
        "evaluate",
        help="score a trained model and two baselines on paired data, both directions",
        description="Translate every pair both ways with the trained generators and score them, and the identity and "
        "intensity-mapping baselines, with PSNR, SSIM, MAE and NMSE on the whole image and in the head mask; check for "
        "identity-like and inversion-like outputs; write metrics.csv, summary.json, results.json and one figure per "
        "direction (bundle config configs/evaluate.json).",
    )
    evaluate.add_argument(
        "--pairs", required=True, help="a CSV pairs list (t1,t2[,mask] columns), or a directory of paired volumes"
    )
    evaluate.add_argument("--split_file", default=None, help="keep only the pairs of --split of this split file")
    evaluate.add_argument("--split", default=None, help="the split to evaluate (default: test)")
    evaluate.add_argument(
        "--checkpoint",
        default=None,
        help="a training run's bundle folder (<output_dir>/bundle: its configs set the architecture), a models/ "
        "directory (model.pt, model_t2_to_t1.pt), a weights file, or a full training checkpoint (default: the "
        "package bundle's models/)",
    )
    _add_config_option(evaluate, "evaluate.json", ", e.g. the one the model was trained with")
    evaluate.add_argument("--run_record", default=None, help="the training's run_record.json (time and commit)")
    evaluate.add_argument(
        "--tensorboard_dir", default=None, help="the training's tensorboard/ folder: also draw its loss curves"
    )
    evaluate.add_argument("--output_dir", default=None, help="where to write the report (default: the bundle's eval/)")
    evaluate.add_argument("--image_size", type=int, default=None, help="generator input size it was trained with")
    evaluate.add_argument("--ngf", type=int, default=None, help="generator width it was trained with")
    evaluate.add_argument("--crop_size", type=int, default=None, help="training crop size, if it trained on crops")
    _add_tta_option(evaluate)
    evaluate.set_defaults(func=_evaluate)

    combine = verbs.add_parser(
        "combine",
        help="combine the results.json of several training runs (seeds) into mean ± spread",
        description="Combine the results.json files that 'evaluate' wrote for several runs of one recipe (different "
        "seeds, one clean commit): each model figure becomes the mean with its standard deviation as '<name>_spread', "
        "the baselines are kept once, and every run is kept beside them.",
    )
    combine.add_argument("--results", nargs="+", required=True, help="the runs' results.json files")
    combine.add_argument("--seeds", nargs="+", type=int, default=None, help="the runs' seeds, in the same order")
    combine.add_argument("--out", required=True, help="the combined JSON file to write")
    combine.set_defaults(func=_combine)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verb named on the command line; errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError, RuntimeError) as e:
        # show the cause of MONAI's wrappers, which names the file or setting
        print(f"monai-cyclegan {args.verb}: error: {root_cause(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
