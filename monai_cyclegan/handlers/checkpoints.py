"""Saving checkpoints so that a crash never leaves a partial one, and finding them again."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ignite.engine import Engine
from ignite.handlers import DiskSaver
from monai.handlers import CheckpointSaver

from monai_cyclegan.files import write_atomically

__all__ = ["AtomicCheckpointSaver", "checkpoints_newest_first", "latest_checkpoint"]

# MONAI's CheckpointSaver names interval checkpoints <prefix>_checkpoint_epoch=<n>.pt (or iteration=<n>).
_STEP = re.compile(r"_(?:epoch|iteration)=(\d+)\.pt$")


def checkpoints_newest_first(checkpoint_dir: str | Path) -> list[Path]:
    """The full-state checkpoints (``*_epoch=<n>.pt``, ``*_iteration=<n>.pt``) in a folder, highest ``n`` first.

    Raises:
        FileNotFoundError: when there is none, naming the folder.
    """
    folder = Path(checkpoint_dir)
    candidates = sorted(
        ((int(m.group(1)), p) for p in folder.glob("*.pt") if (m := _STEP.search(p.name))), reverse=True
    )
    if not candidates:
        raise FileNotFoundError(f"resume requested, but {str(folder)!r} holds no checkpoint (*_epoch=<n>.pt).")
    return [path for _, path in candidates]


def latest_checkpoint(checkpoint_dir: str | Path) -> str:
    """Path of the newest full-state checkpoint in ``checkpoint_dir``; see :func:`checkpoints_newest_first`."""
    return str(checkpoints_newest_first(checkpoint_dir)[0])


class _AtomicDiskSaver(DiskSaver):
    """Ignite's ``DiskSaver`` writing through :func:`~monai_cyclegan.files.write_atomically` (fsync and rename).

    Ignite's own ``atomic`` mode renames without fsync, and MONAI's saver turns it off. ``filename``, when given,
    replaces the name ignite chooses (MONAI's ``final_filename``).
    """

    def __init__(self, dirname: str, filename: str | None = None) -> None:
        super().__init__(dirname=dirname, require_empty=False, atomic=False)
        self.filename = filename

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        super().__call__(checkpoint, self.filename or filename, metadata)

    def remove(self, filename: str) -> None:
        super().remove(self.filename or filename)

    def _save_func(self, checkpoint: Mapping, path: Path, func: Callable) -> None:
        write_atomically(path, lambda temporary: func(checkpoint, temporary, **self.kwargs))


class AtomicCheckpointSaver(CheckpointSaver):
    """MONAI's ``CheckpointSaver`` with two changes that keep good checkpoints good.

    * Every file is written to a temporary name, fsync'ed and renamed, so a crash during a save leaves the previous
      checkpoint (or ``model.pt``) intact instead of a truncated file under its name.
    * The final file is written when training completes, not when it raises: MONAI's saver also saves on an
      exception, which would replace a good ``model.pt`` with untrained weights when a resume fails at start, or with
      diverged ones. The full-state checkpoints are what recovers a crashed run.

    Arguments are those of ``monai.handlers.CheckpointSaver``.
    """

    def __init__(self, save_dir: str, save_dict: dict, **kwargs) -> None:
        super().__init__(save_dir, save_dict, **kwargs)
        fixed_names = {
            id(self._final_checkpoint): self._final_filename,
            id(self._key_metric_checkpoint): kwargs.get("key_metric_filename"),
        }
        for checkpoint in (self._final_checkpoint, self._key_metric_checkpoint, self._interval_checkpoint):
            if checkpoint is not None:
                checkpoint.save_handler = _AtomicDiskSaver(save_dir, fixed_names.get(id(checkpoint)))

    def exception_raised(self, engine: Engine, e: Exception) -> None:
        """Re-raise without saving (see the class docstring)."""
        raise e
