"""Training datasets built from a ``dataset_dir``, and the embedded phantom default."""

from __future__ import annotations

from pathlib import Path

from monai.data import CacheDataset

from monai_cyclegan.data.ixi import list_ixi_volumes
from monai_cyclegan.data.unpaired import UnpairedDataset
from monai_cyclegan.transforms.pipelines import slice_training_transforms

__all__ = ["resolve_dataset_dir", "unpaired_slice_dataset"]


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


def unpaired_slice_dataset(
    dataset_dir: str | Path,
    image_size: int = 256,
    fov_mm: float = 256.0,
    slices_per_volume: int = 1,
    flip_prob: float = 0.5,
    cache_rate: float = 1.0,
    num_workers: int = 0,
) -> UnpairedDataset:
    """Unpaired T1 (domain A) / T2 (domain B) axial-slice dataset over an IXI-layout directory.

    Each volume's deterministic preprocessing (load, RAS, resample, scale, slab crop, pad) is cached once by
    ``CacheDataset``; each item then draws ``slices_per_volume`` random slices per domain.

    Args:
        dataset_dir: directory with ``IXI-T1/`` and ``IXI-T2/``.
        image_size: in-plane model size.
        fov_mm: field of view covered by ``image_size`` pixels.
        slices_per_volume: slices drawn per volume and item (the batch holds ``batch_size * slices_per_volume``).
        flip_prob: left-right flip probability.
        cache_rate: fraction of volumes kept in memory after preprocessing.
        num_workers: threads used to fill the cache; 0 uses one per CPU (MONAI's ``None``).
    """
    volumes = list_ixi_volumes(dataset_dir)
    transform = slice_training_transforms(("image",), image_size, fov_mm, slices_per_volume, flip_prob)
    domains = [
        CacheDataset(volumes[c], transform, cache_rate=cache_rate, num_workers=num_workers or None, progress=False)
        for c in ("t1", "t2")
    ]
    return UnpairedDataset(*domains)
