"""A record of what a training run was and how long it took, for results tables."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events

from monai_cyclegan.files import write_json
from monai_cyclegan.run_bundle import config_value

__all__ = ["RunRecordHandler", "source_commit"]


def source_commit(path: str | Path | None = None) -> str | None:
    """The git commit of the checkout holding ``path`` (this package by default).

    ``-dirty`` is appended when tracked files have uncommitted changes; None outside a git checkout or without git.
    """
    folder = Path(__file__).resolve().parent if path is None else Path(path)
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("-dirty" if status else "")


class RunRecordHandler:
    """When training completes, write ``path`` (JSON) with the training time, epochs, iterations, commit, settings.

    The time is the wall-clock time of this process's run, from ``STARTED`` to ``COMPLETED`` (a resumed run counts
    only its own part). The commit is read when the run starts: the code that trains is the code checked out then,
    whatever is edited while it runs.

    Args:
        path: the JSON file to write.
        settings: facts to keep with the record (e.g. image size, widths, loss weights): resolved config values,
            written as :func:`~monai_cyclegan.run_bundle.config_value` gives them (``generator_def`` as its
            ``_target_`` and arguments).
    """

    def __init__(self, path: str | Path, settings: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.settings = config_value(dict(settings or {}))
        self._started = 0.0
        self._commit: str | None = None

    def attach(self, engine: Engine) -> None:
        """Time the run from ``STARTED`` and write the record on ``COMPLETED``."""
        engine.add_event_handler(Events.STARTED, self._start)
        engine.add_event_handler(Events.COMPLETED, self)

    def _start(self, engine: Engine) -> None:
        self._started = time.perf_counter()
        self._commit = source_commit()

    def __call__(self, engine: Engine) -> None:
        """Write the record."""
        record = {
            "train_seconds": time.perf_counter() - self._started,
            "epochs": engine.state.epoch,
            "iterations": engine.state.iteration,
            "commit": self._commit,
            "settings": self.settings,
        }
        write_json(self.path, record)
