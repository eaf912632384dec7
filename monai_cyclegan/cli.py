"""The ``monai-cyclegan`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from monai_cyclegan.demo import run_demo  # deferred: keeps `--help` fast

    settings = {"epochs": args.epochs} if args.epochs else {}
    summary = run_demo(args.output_dir, seed=args.seed, **settings)
    print(
        json.dumps(
            {
                k: summary[k]
                for k in ("timings", "metrics", "synthetic_tissue_core_means", "csf_bright_wm_dark", "picture")
            },
            indent=2,
        )
    )
    print(f"TensorBoard: tensorboard --logdir {summary['tensorboard']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of all verbs."""
    parser = argparse.ArgumentParser(prog="monai-cyclegan", description=__doc__)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verb named on the command line; errors print one line and exit non-zero."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"monai-cyclegan {args.verb}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
