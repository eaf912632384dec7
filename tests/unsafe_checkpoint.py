"""A checkpoint file that runs code when unpickled, as an attacker would craft it."""

from __future__ import annotations

from pathlib import Path

import torch


class _TouchOnLoad:
    """Unpickling this object creates the file ``marker``: proof that loading ran foreign code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def write_code_running_checkpoint(path: Path, marker: Path, payload: dict | None = None) -> Path:
    """Save ``payload`` (a state dict, say) with an object that creates ``marker`` when a full unpickler loads it."""
    torch.save({**(payload or {}), "extra": _TouchOnLoad(marker)}, path)
    return path
