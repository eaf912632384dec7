"""Finding the checkpoint to resume from."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["latest_checkpoint"]

# MONAI's CheckpointSaver names interval checkpoints <prefix>_checkpoint_epoch=<n>.pt (or iteration=<n>).
_STEP = re.compile(r"_(?:epoch|iteration)=(\d+)\.pt$")


def latest_checkpoint(checkpoint_dir: str | Path) -> str:
    """Path of the newest full-state checkpoint (highest epoch/iteration number) in ``checkpoint_dir``.

    Raises:
        FileNotFoundError: when there is none, naming the directory.
    """
    folder = Path(checkpoint_dir)
    candidates = [(int(m.group(1)), p) for p in folder.glob("*.pt") if (m := _STEP.search(p.name))]
    if not candidates:
        raise FileNotFoundError(f"resume requested, but {str(folder)!r} holds no checkpoint (*_epoch=<n>.pt).")
    return str(max(candidates)[1])
