"""Training datasets built from a ``dataset_dir``, and the embedded phantom default."""

from __future__ import annotations

from pathlib import Path

from monai.data import CacheDataset

from monai_cyclegan.data.layouts import DatasetLayout, detect_layout
from monai_cyclegan.data.splits import load_splits, select_split
from monai_cyclegan.data.unpaired import UnpairedDataset
from monai_cyclegan.transforms.pipelines import (
    image_file_training_transforms,
    paired_validation_transforms,
    slice_training_transforms,
)

__all__ = ["paired_validation_dataset", "resolve_dataset_dir", "unpaired_slice_dataset"]


def resolve_dataset_dir(
    dataset_dir: str | Path | None,
    phantom_dir: str | Path,
    phantom_subjects: int = 10,
    phantom_scale: float = 1.0,
    seed: int = 0,
) -> str:
    """The data set to train on: ``dataset_dir`` when given, otherwise the synthetic phantom.

    The phantom is generated once into ``phantom_dir`` and reused while its parameters stay the same.

    Args:
        dataset_dir: a user data set, or ``None``/``""`` for the phantom.
        phantom_dir: where the phantom lives.
        phantom_subjects: number of phantom subjects.
        phantom_scale: phantom grid scale (1.0 is IXI's resolution).
        seed: phantom seed.
    """
    if dataset_dir:
        return str(dataset_dir)
    from monai_cyclegan.data.phantom import ensure_phantom_dataset  # deferred: only the default path needs it

    return str(ensure_phantom_dataset(phantom_dir, num_subjects=phantom_subjects, scale=phantom_scale, seed=seed))


def _split_entries(layout: DatasetLayout, split_file: str | Path | None, split: str) -> dict[str, list[dict]]:
    """Each contrast's entries, restricted to the subjects of ``split`` when a split file is given."""
    entries = {"t1": layout.t1, "t2": layout.t2}
    if not split_file:
        return entries
    splits = load_splits(split_file)
    chosen = {contrast: select_split(rows, splits, split) for contrast, rows in entries.items()}
    empty = [contrast.upper() for contrast, rows in chosen.items() if not rows]
    if empty:
        raise ValueError(
            f"split {split!r} of {str(split_file)!r} selects no {' or '.join(empty)} image of {layout.root!r}: the "
            "split file belongs to another data set, or the split is too small."
        )
    return chosen


def unpaired_slice_dataset(
    dataset_dir: str | Path,
    image_size: int = 256,
    fov_mm: float = 256.0,
    slices_per_volume: int = 1,
    flip_prob: float = 0.5,
    contrast_prob: float = 0.0,
    cache_rate: float = 1.0,
    num_workers: int = 0,
    split_file: str | Path | None = None,
    split: str = "train",
    crop_size: int | None = None,
    samples_per_epoch: int = 0,
) -> UnpairedDataset:
    """Unpaired T1 (domain A) / T2 (domain B) 2D training dataset over any supported ``dataset_dir`` layout.

    The layout is detected (:func:`~monai_cyclegan.data.layouts.detect_layout`): NIfTI volumes are harmonised to RAS
    and a common spacing and sliced axially (``slices_per_volume`` random slices per volume and item); 2D image
    folders give one image per item. The deterministic preprocessing is cached once by ``CacheDataset``; only the
    slice draw and the augmentations run per item.

    Args:
        dataset_dir: data set directory (IXI layout, the public slice set, or ``t1/`` + ``t2/``).
        image_size: in-plane model size.
        fov_mm: field of view covered by ``image_size`` pixels (volumes only).
        slices_per_volume: slices drawn per volume and item (volumes only; the batch holds
            ``batch_size * slices_per_volume`` slices).
        flip_prob: left-right flip probability.
        contrast_prob: probability of a random contrast change.
        cache_rate: fraction of images kept in memory after preprocessing.
        num_workers: threads used to fill the cache; 0 uses one per CPU (MONAI's ``None``).
        split_file: optional subject split (:func:`~monai_cyclegan.data.splits.write_splits`); only the subjects of
            ``split`` are used.
        split: ``"train"``, ``"validation"`` or ``"test"``.
        crop_size: train on random ``crop_size`` squares of the slices (None or ``image_size``: whole slices).
        samples_per_epoch: unpaired items per epoch (0: one per image of the larger domain); with few volumes, each
            item draws new random slices (see :class:`~monai_cyclegan.data.unpaired.UnpairedDataset`).
    """
    crop_size = crop_size if crop_size and crop_size < image_size else None
    layout = detect_layout(dataset_dir)
    entries = _split_entries(layout, split_file, split)
    domains = []
    for contrast in ("t1", "t2"):
        rows = entries[contrast]
        if layout.kind == "volume":
            mask_key = "mask" if "mask" in rows[0] else None
            transform = slice_training_transforms(
                ("image",),
                image_size,
                fov_mm,
                slices_per_volume,
                flip_prob,
                mask_key=mask_key,
                contrast_prob=contrast_prob,
                crop_size=crop_size,
            )
        else:
            transform = image_file_training_transforms(
                ("image",), image_size, flip_prob, contrast_prob, crop_size=crop_size
            )
        domains.append(
            CacheDataset(rows, transform, cache_rate=cache_rate, num_workers=num_workers or None, progress=False)
        )
    return UnpairedDataset(*domains, length=samples_per_epoch)


def paired_validation_dataset(
    rows: list[dict[str, str]], kind: str, image_size: int = 256, fov_mm: float = 256.0, num_workers: int = 0
) -> CacheDataset:
    """Paired items for validation during training (:func:`~monai_cyclegan.transforms.paired_validation_transforms`).

    Args:
        rows: pairs ``{"t1": path, "t2": path, ...}`` (the rows of :func:`~monai_cyclegan.evaluation.load_pairs`).
        kind: ``"slice"`` or ``"volume"``.
        image_size: in-plane model size.
        fov_mm: field of view covered by ``image_size`` pixels (volumes only).
        num_workers: threads filling the cache; 0 uses one per CPU.

    Raises:
        ValueError: when there is no pair.
    """
    if not rows:
        raise ValueError("no validation pairs: the pairs source or its validation split is empty.")
    data = [{"t1": row["t1"], "t2": row["t2"]} for row in rows]
    transform = paired_validation_transforms(kind, image_size, fov_mm)
    return CacheDataset(data, transform, cache_rate=1.0, num_workers=num_workers or None, progress=False)
