"""Unpaired two-domain dataset: every item pairs a domain-A sample with an independently drawn domain-B sample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monai.data.utils import set_rnd
from monai.transforms import Randomizable
from torch.utils.data import Dataset

__all__ = ["UnpairedDataset"]


class UnpairedDataset(Randomizable, Dataset):
    """Zip two datasets without pairing them, as CycleGAN's unaligned loader does.

    Item ``i`` takes domain-A sample ``i`` (modulo its length; the data loader's shuffle randomises the order) and a
    domain-B sample drawn at random, so the two domains are shuffled independently and an epoch covers the larger
    domain once, or holds ``length`` items when that is given. Items of the underlying datasets may be dictionaries or
    lists of them (several slices per volume).

    ``length`` serves data sets of few volumes: each access to a volume draws a new random slice, so with two volumes
    per contrast and ``length=100`` an epoch is 100 different slice pairs instead of two, and the per-epoch work of
    the handlers (checkpoints, image panels) no longer dominates the training time.

    MONAI's data loader seeds this dataset per worker through ``set_random_state``, which here also re-seeds the
    random transforms of both underlying datasets (the loader does not descend into a seeded object itself).

    Args:
        dataset_a: dataset of domain A (e.g. T1 slices).
        dataset_b: dataset of domain B (e.g. T2 slices).
        keys: output keys of the two domains.
        image_key: key of the image in the underlying items.
        length: items per epoch; None or 0 for the larger domain's size.
    """

    def __init__(
        self,
        dataset_a: Dataset,
        dataset_b: Dataset,
        keys: Sequence[str] = ("A", "B"),
        image_key: str = "image",
        length: int | None = None,
    ) -> None:
        for name, ds in (("dataset_a", dataset_a), ("dataset_b", dataset_b)):
            if len(ds) == 0:  # type: ignore[arg-type]
                raise ValueError(f"{name} is empty: an unpaired dataset needs images of both domains.")
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 0):
            raise ValueError(f"length must be a non-negative number of items per epoch (0: automatic), got {length!r}.")
        self.length = length or max(len(dataset_a), len(dataset_b))  # type: ignore[arg-type]
        self.dataset_a = dataset_a
        self.dataset_b = dataset_b
        self.keys = tuple(keys)
        self.image_key = image_key
        self._b_index = 0

    def set_random_state(self, seed: int | None = None, state: Any = None) -> UnpairedDataset:
        """Seed this dataset's draws of domain B and the random transforms of both domains."""
        super().set_random_state(seed, state)
        base = int(self.R.randint(0, 2**31 - 1))
        set_rnd(self.dataset_a, base)
        set_rnd(self.dataset_b, base + 1)
        return self

    def __len__(self) -> int:
        return self.length

    def randomize(self, data: Any = None) -> None:
        """Draw the index of the next domain-B sample."""
        self._b_index = int(self.R.randint(len(self.dataset_b)))  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> list[dict[str, Any]]:
        self.randomize()
        items_a = self.dataset_a[index % len(self.dataset_a)]  # type: ignore[arg-type]
        items_b = self.dataset_b[self._b_index]
        items_a = items_a if isinstance(items_a, list) else [items_a]
        items_b = items_b if isinstance(items_b, list) else [items_b]
        if len(items_a) != len(items_b):
            raise ValueError(f"Domains yield different numbers of samples per item: {len(items_a)} and {len(items_b)}.")
        a_key, b_key = self.keys
        return [{a_key: a[self.image_key], b_key: b[self.image_key]} for a, b in zip(items_a, items_b, strict=True)]
