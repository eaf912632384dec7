"""Results over several training runs (seeds): the mean and spread of each figure, with every run kept beside them.

One GAN run is one draw: on the public slices two seeds of one recipe differed by 1.5-1.8 dB. A published figure is
therefore the mean over seeds, with the standard deviation as its spread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_cyclegan.directions import DIRECTION_CONTRASTS
from monai_cyclegan.files import write_json

__all__ = ["combine_results", "combine_result_files"]


def _mean_and_spread(values: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per key, the mean over the runs and, as ``<key>_spread``, the standard deviation (ddof 1; 0 for one run)."""
    combined: dict[str, float] = {}
    for key in values[0]:
        numbers = np.asarray([float(v[key]) for v in values])
        combined[key] = float(numbers.mean())
        combined[f"{key}_spread"] = float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0
    return combined


def combine_results(runs: Sequence[Mapping[str, Any]], seeds: Sequence[int] | None = None) -> dict[str, Any]:
    """Combine the ``results.json`` records of several runs of one recipe (:func:`~.evaluate.results_record`).

    The model's figures become means with ``*_spread`` standard deviations; the baselines, which do not depend on the
    run, must agree and are kept once; so are the lesion figures of the ground truth. ``train_minutes`` is the mean,
    ``commit`` must be the same clean commit for every run.

    Args:
        runs: the records, one per run.
        seeds: the runs' seeds, kept in the record.

    Raises:
        ValueError: for no runs, runs of different commits or of a dirty tree, or baselines that differ.
    """
    if not runs:
        raise ValueError("no runs to combine.")
    commits = {run.get("commit") for run in runs}
    if len(commits) != 1 or None in commits or any(str(c).endswith("-dirty") for c in commits):
        raise ValueError(f"the runs must come from one clean commit, got {sorted(map(str, commits))}.")
    if any(run["baselines"] != runs[0]["baselines"] for run in runs):
        raise ValueError("the runs' baselines differ: they were not scored on the same test data.")
    record: dict[str, Any] = {
        direction: _mean_and_spread([run[direction] for run in runs]) for direction in DIRECTION_CONTRASTS
    }
    record["baselines"] = runs[0]["baselines"]
    if "lesions" in runs[0]:
        lesions = {direction: dict(runs[0]["lesions"][direction]) for direction in DIRECTION_CONTRASTS}
        for direction in DIRECTION_CONTRASTS:
            lesions[direction]["model"] = _mean_and_spread([run["lesions"][direction]["model"] for run in runs])
        record["lesions"] = lesions
    record["train_minutes"] = float(np.mean([run["train_minutes"] for run in runs]))
    record["commit"] = commits.pop()
    record["runs"] = [
        {"seed": seed, **{k: v for k, v in run.items() if k not in ("baselines", "commit")}}
        for seed, run in zip(seeds if seeds is not None else [None] * len(runs), runs, strict=True)
    ]
    return record


def combine_result_files(paths: Sequence[str | Path], out: str | Path, seeds: Sequence[int] | None = None) -> dict:
    """:func:`combine_results` of ``results.json`` files, written to ``out``.

    Raises:
        ValueError: when a file cannot be read as a results record, or as in :func:`combine_results`.
    """
    runs = []
    for path in paths:
        try:
            runs.append(json.loads(Path(path).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{path}: cannot read it as a results record: {e}") from e
    record = combine_results(runs, seeds)
    write_json(out, record, indent=1)
    return record
