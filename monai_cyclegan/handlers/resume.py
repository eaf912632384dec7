"""Resuming training from the newest checkpoint that loads, falling back to older ones."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint

from monai_cyclegan.files import load_checkpoint
from monai_cyclegan.handlers.checkpoints import checkpoints_newest_first

__all__ = ["ResumeCheckpointLoader"]


class ResumeCheckpointLoader:
    """Restores a training's full state, when it starts, from the newest good checkpoint in a folder.

    MONAI's ``CheckpointLoader`` loads one given file. After a crash the newest file may be damaged (a disk that
    filled up, a copy cut short), so this loader tries the checkpoints newest first and falls back to the previous
    one, with a warning that names the file and the problem. Files load with ``torch.load(weights_only=True)``: a
    checkpoint that carries pickled code is refused like a damaged one, never executed.

    As with MONAI's loader, the engine keeps its own ``max_epochs``, so that a resumed run can be extended.

    Args:
        checkpoint_dir: folder of the full-state checkpoints (``*_epoch=<n>.pt``).
        load_dict: the objects to restore, under the keys they were saved with.
        map_location: ``torch.load``'s ``map_location``.
        name: logger name; the engine's logger when None.

    Raises:
        FileNotFoundError: when the engine starts and the folder holds no checkpoint.
        RuntimeError: when the engine starts and no checkpoint loads (naming each file and its problem), or when the
            newest one that loads does not fit the objects (another architecture or pipeline).
    """

    def __init__(
        self,
        checkpoint_dir: str | Path,
        load_dict: dict[str, Any],
        map_location: str | torch.device | None = None,
        name: str | None = None,
    ) -> None:
        self.checkpoint_dir = Path(checkpoint_dir)
        self.load_dict = load_dict
        self.map_location = map_location
        self.logger = logging.getLogger(name)
        self._name = name
        self.loaded_path: Path | None = None

    def attach(self, engine: Engine) -> None:
        """Restore the state when ``engine`` starts."""
        if self._name is None:
            self.logger = engine.logger
        engine.add_event_handler(Events.STARTED, self)

    def __call__(self, engine: Engine) -> None:
        """Load the newest good checkpoint into the objects of ``load_dict``."""
        problems = []
        for path in checkpoints_newest_first(self.checkpoint_dir):
            try:
                checkpoint = load_checkpoint(path, self.map_location)
            except RuntimeError as e:
                problems.append(str(e))
                self.logger.warning(f"{e} Trying the previous checkpoint.")
                continue
            self._restore(engine, path, checkpoint)
            return
        raise RuntimeError("resume failed, no checkpoint loads:\n" + "\n".join(problems))

    def _restore(self, engine: Engine, path: Path, checkpoint: Any) -> None:
        max_epochs = engine.state.max_epochs
        missing = (
            sorted(set(self.load_dict) - set(checkpoint)) if isinstance(checkpoint, dict) else list(self.load_dict)
        )
        if missing:
            raise RuntimeError(f"{path}: not a full-state checkpoint of this training, it lacks {missing}.")
        try:
            Checkpoint.load_objects(to_load=self.load_dict, checkpoint=checkpoint)
        except (RuntimeError, ValueError, KeyError) as e:
            problem = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
            raise RuntimeError(f"{path}: does not fit this training's configuration: {problem}") from e
        if max_epochs is not None and engine.state.epoch > max_epochs:
            raise ValueError(
                f"{path}: holds epoch {engine.state.epoch}, beyond this run's {max_epochs} epochs; "
                "raise `epochs` to train further."
            )
        engine.state.max_epochs = max_epochs
        self.loaded_path = path
        self.logger.info(f"Resumed from {path} (epoch {engine.state.epoch}, iteration {engine.state.iteration}).")
