"""CSV lists of T1/T2 pairs, read by the protocol split and by the paired evaluation.

A list has ``t1``, ``t2`` and optionally ``mask`` columns, paths relative to the list, like the public set's
``pairs.csv``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from monai_cyclegan.data.layouts import file_subject

__all__ = ["read_pairs_list"]


def read_pairs_list(path: str | Path) -> list[dict[str, str]]:
    """The rows of a pairs list as ``{"subject", "t1", "t2"[, "mask"]}``, with absolute paths.

    A pair's subject is its T1 file name without extension.

    Raises:
        ValueError: when the file cannot be read as CSV, lacks a ``t1``/``t2`` header or rows, or names a file that
            does not exist (the message gives its line).
    """
    path = Path(path)
    try:
        with path.open(newline="") as f:
            records = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"{path}: cannot read it as a CSV pairs list: {e}") from e
    if not records or not {"t1", "t2"} <= set(records[0]):
        raise ValueError(f"{path}: a pairs list needs a header with columns 't1' and 't2' and at least one row.")
    rows = []
    for number, record in enumerate(records, start=2):
        row = {k: str(path.parent / record[k]) for k in ("t1", "t2", "mask") if record.get(k)}
        missing = [row[k] for k in row if not Path(row[k]).is_file()]
        if missing:
            raise ValueError(f"{path}, line {number}: file {missing[0]!r} does not exist.")
        rows.append({"subject": file_subject(row["t1"]), **row})
    return rows
