"""The random-number states of a training run, as a checkpointable object.

A resumed run matches an uninterrupted one only if every random stream restarts where it stopped: Python's, NumPy's
and torch's global generators (the data loader's shuffling and its workers' seeds come from torch's), and, when the
data is loaded in the main process, the generators of the dataset's random transforms. Ignite and MONAI checkpoint
none of these, hence this object, which goes into the full-state checkpoint next to the networks.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from monai.transforms import Randomizable

__all__ = ["RandomStates", "randomizables"]


def randomizables(root: object) -> dict[str, Randomizable]:
    """Every MONAI ``Randomizable`` reachable from ``root``, by attribute path and type (``"transform:Compose"``).

    Walks attributes, lists and tuples (a dataset's transforms, a ``Compose``'s children, the datasets an
    ``UnpairedDataset`` zips), skipping tensors and arrays; each object is listed once, under its first path.
    """
    found: dict[str, Randomizable] = {}
    seen: set[int] = set()

    def visit(obj: object, path: str) -> None:
        if id(obj) in seen or isinstance(obj, (torch.Tensor, np.ndarray, str, bytes, int, float)):
            return
        seen.add(id(obj))
        if isinstance(obj, (list, tuple)):
            for index, item in enumerate(obj):
                visit(item, f"{path}[{index}]")
            return
        if isinstance(obj, Randomizable):
            found[f"{path}:{type(obj).__name__}"] = obj
        for name, value in getattr(obj, "__dict__", {}).items():
            if name != "R" and not name.startswith("__"):
                visit(value, f"{path}.{name}" if path else name)

    visit(root, "")
    return found


def _numpy_state(state: tuple) -> dict[str, Any]:
    """A NumPy ``get_state()`` tuple as tensors and numbers, which ``torch.load(weights_only=True)`` reads."""
    _, keys, position, has_gauss, cached_gauss = state
    return {
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": position,
        "has_gauss": has_gauss,
        "gauss": cached_gauss,
    }


def _numpy_tuple(state: dict[str, Any]) -> tuple:
    """The inverse of :func:`_numpy_state`."""
    return ("MT19937", state["keys"].numpy().astype(np.uint32), state["pos"], state["has_gauss"], state["gauss"])


class RandomStates:
    """Saves and restores the random states of a run through ``state_dict``/``load_state_dict``.

    In distributed training only the first process (rank 0) saves a checkpoint, so the others have no states of their
    own to go back to. Built with its ``rank``, a process other than the first restores rank 0's states and then
    re-seeds every stream from them and its rank: the processes keep drawing different augmentations after a resume,
    deterministically, though not the numbers an uninterrupted run would have drawn on them.

    Args:
        data: the training dataset (or loader); the generators of its random transforms are saved too.
        rank: the process's rank in distributed training (0 otherwise).
    """

    def __init__(self, data: object = None, rank: int = 0) -> None:
        self.data = data
        self.rank = rank

    def state_dict(self) -> dict[str, Any]:
        """Python, NumPy, torch (CPU and every CUDA device) and data-transform states, as tensors and numbers.

        CUDA states are restored only on a machine with as many CUDA devices as the one that saved them.
        """
        version, python_state, gauss_next = random.getstate()
        return {
            "python": {"version": version, "state": torch.tensor(python_state, dtype=torch.int64), "gauss": gauss_next},
            "numpy": _numpy_state(np.random.get_state()),
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            # Randomizables that were never seeded share the class's generator; seeded ones have their own, and some
            # (the inner cropper of RandSpatialCropSamplesd) get theirs only at their first use.
            "data_shared": _numpy_state(Randomizable.R.get_state()),
            "data": {path: _numpy_state(obj.R.get_state()) for path, obj in self._seeded().items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the states saved by :meth:`state_dict`.

        Raises:
            ValueError: when the checkpoint holds states of data transforms that this pipeline lacks (another pipeline).
        """
        found = randomizables(self.data)
        unknown = sorted(set(state["data"]) - set(found))
        if unknown:
            raise ValueError(
                f"the checkpoint holds the random states of data transforms this training's pipeline lacks: {unknown}; "
                "it was saved by a different pipeline."
            )
        python = state["python"]
        random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))
        np.random.set_state(_numpy_tuple(state["numpy"]))
        torch.set_rng_state(state["torch"])
        if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        Randomizable.R.set_state(_numpy_tuple(state["data_shared"]))
        for path, saved in state["data"].items():
            found[path].R = np.random.RandomState()  # its own generator, even if it had none yet
            found[path].R.set_state(_numpy_tuple(saved))
        if self.rank:
            self._reseed_for_rank()

    def _reseed_for_rank(self) -> None:
        """Seed every stream from a draw of the restored torch generator (the same on all ranks) and the rank."""
        seed = (int(torch.randint(2**31, (1,))) + 7919 * self.rank) % 2**32
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        Randomizable.R.seed(seed)
        for offset, obj in enumerate(self._seeded().values(), start=1):
            obj.R.seed((seed + offset) % 2**32)

    def _seeded(self) -> dict[str, Randomizable]:
        """The data's Randomizables that hold their own generator."""
        return {path: obj for path, obj in randomizables(self.data).items() if "R" in vars(obj)}
