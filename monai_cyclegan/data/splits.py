"""Subject-level train / validation / test splits, so that no subject's slices appear in two splits."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from monai_cyclegan.data.layouts import detect_layout, file_subject
from monai_cyclegan.data.pairs_list import read_pairs_list
from monai_cyclegan.files import write_json

__all__ = [
    "SPLITS",
    "load_splits",
    "select_split",
    "split_dataset",
    "split_from_pairs",
    "split_named",
    "split_subjects",
    "write_splits",
]

SPLITS = ("train", "validation", "test")


def split_subjects(
    subjects: Iterable[str], val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
) -> dict[str, list[str]]:
    """Shuffle the distinct subject ids with ``seed`` and cut them into train, validation and test.

    The validation and test sizes are the fractions of the number of subjects, rounded up so that a non-zero fraction
    always gets a subject; training keeps the rest and must keep at least one. The same ids and seed always give the
    same split, whatever order the ids come in.

    Raises:
        ValueError: for fractions outside [0, 1), fractions that leave no training subject, or no subjects.
    """
    unique = sorted(set(subjects))
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in [0, 1), got {value}.")
    if not unique:
        raise ValueError("no subjects to split.")
    n_test = math.ceil(test_fraction * len(unique))
    n_val = math.ceil(val_fraction * len(unique))
    if n_test + n_val >= len(unique):
        raise ValueError(
            f"{len(unique)} subjects cannot give {n_val} validation and {n_test} test subjects and still leave one "
            "for training; lower the fractions."
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    shuffled = [unique[i] for i in order]
    return {
        "train": sorted(shuffled[n_test + n_val :]),
        "validation": sorted(shuffled[n_test : n_test + n_val]),
        "test": sorted(shuffled[:n_test]),
    }


def write_splits(path: str | Path, splits: dict[str, list[str]], **provenance: Any) -> Path:
    """Write ``splits`` (plus provenance such as the seed and data set) to a JSON file, atomically."""
    return write_json(path, {**provenance, **{name: splits[name] for name in SPLITS}})


def load_splits(path: str | Path) -> dict[str, list[str]]:
    """Read a split file written by :func:`write_splits`.

    Raises:
        FileNotFoundError: when it does not exist.
        ValueError: when it is not JSON, lacks a split, or puts a subject in two splits.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {str(path)!r} does not exist.")
    try:
        payload = json.loads(path.read_text())
        splits = {name: [str(s) for s in payload[name]] for name in SPLITS}
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"split file {str(path)!r} is not a split file with lists {list(SPLITS)}: {e!r}") from e
    seen: dict[str, str] = {}
    for name, subjects in splits.items():
        for subject in subjects:
            if subject in seen and seen[subject] != name:
                raise ValueError(f"split file {str(path)!r} puts subject {subject!r} in {seen[subject]} and {name}.")
            seen[subject] = name
    return splits


def select_split(entries: list[dict[str, str]], splits: dict[str, list[str]], split: str) -> list[dict[str, str]]:
    """The entries whose ``"subject"`` belongs to ``split``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}.")
    members = set(splits[split])
    return [e for e in entries if e["subject"] in members]


def split_dataset(
    dataset_dir: str | Path, path: str | Path, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
) -> dict[str, list[str]]:
    """Split the subjects of any supported ``dataset_dir`` (T1 and T2 together) and write the split file ``path``.

    A subject with both contrasts lands in one split with both; one with a single contrast is split all the same, so
    unpaired training may use different subjects for T1 and T2.
    """
    layout = detect_layout(dataset_dir)
    subjects = [e["subject"] for e in layout.t1 + layout.t2]
    splits = split_subjects(subjects, val_fraction, test_fraction, seed)
    write_splits(
        path,
        splits,
        dataset_dir=str(Path(dataset_dir).resolve()),
        layout=layout.name,
        seed=seed,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
    )
    return splits


def split_from_pairs(
    dataset_dir: str | Path, pairs_csv: str | Path, path: str | Path, test_every: int = 4
) -> dict[str, list[str]]:
    """Test on every ``test_every``-th pair of a pairs list, train on all other images; write the split to ``path``.

    The test split holds both images of the pairs in rows 0, k, 2k, ... (k = ``test_every``), by file name without
    extension (the subject ids of the slice layouts); training gets every other T1 and T2 image of ``dataset_dir``,
    to be used unpaired. This is the protocol of the public slice data set (``pairs.csv``, ``test_every=4``: 11 test
    pairs of 43).

    Raises:
        ValueError: when ``test_every`` < 2, the pairs list cannot be read (:func:`~.pairs_list.read_pairs_list`),
            or a listed image is not part of ``dataset_dir``.
    """
    if test_every < 2:
        raise ValueError(f"test_every must be >= 2 (testing on every pair leaves nothing to train), got {test_every}.")
    layout = detect_layout(dataset_dir)
    known = {e["subject"] for e in layout.t1 + layout.t2}
    rows = read_pairs_list(pairs_csv)
    test = sorted({file_subject(row[c]) for row in rows[::test_every] for c in ("t1", "t2")})
    unknown = sorted(set(test) - known)
    if unknown:
        raise ValueError(f"{pairs_csv}: images {unknown[:5]} are not part of the data set {str(dataset_dir)!r}.")
    splits = {"train": sorted(known - set(test)), "validation": [], "test": test}
    write_splits(
        path,
        splits,
        dataset_dir=str(Path(dataset_dir).resolve()),
        layout=layout.name,
        pairs=str(Path(pairs_csv).resolve()),
        test_every=test_every,
    )
    return splits


def split_named(
    dataset_dir: str | Path, path: str | Path, test: Iterable[str], validation: Iterable[str] = ()
) -> dict[str, list[str]]:
    """Test (and validate) on the named subjects, train on every other subject of ``dataset_dir``; write ``path``.

    For fixed protocols, e.g. the real-volume protocol (train on two MS patients, test on the third).

    Raises:
        ValueError: when a named subject is not part of ``dataset_dir``, is named for both splits, or no subject is
            left for training.
    """
    layout = detect_layout(dataset_dir)
    known = {e["subject"] for e in layout.t1 + layout.t2}
    test, validation = sorted(set(test)), sorted(set(validation))
    unknown = sorted((set(test) | set(validation)) - known)
    if unknown:
        raise ValueError(
            f"subjects {unknown[:5]} are not part of the data set {str(dataset_dir)!r} ({sorted(known)[:10]})."
        )
    both = sorted(set(test) & set(validation))
    if both:
        raise ValueError(f"subjects {both[:5]} are named for both test and validation.")
    train = sorted(known - set(test) - set(validation))
    if not train:
        raise ValueError(f"no subject of {str(dataset_dir)!r} is left for training.")
    splits = {"train": train, "validation": validation, "test": test}
    write_splits(path, splits, dataset_dir=str(Path(dataset_dir).resolve()), layout=layout.name)
    return splits
