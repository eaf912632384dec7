"""Error messages of dictionary transforms that name the file an image came from."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from monai.config import NdarrayOrTensor

__all__ = ["image_source", "naming_source"]


def image_source(img: object, key: Hashable) -> str:
    """The file an image was loaded from (MONAI's ``filename_or_obj`` metadata), else its dictionary key."""
    return str(getattr(img, "meta", {}).get("filename_or_obj", key))


def naming_source(transform: Callable[[NdarrayOrTensor], NdarrayOrTensor], img: NdarrayOrTensor, key: Hashable):
    """``transform(img)``, with a ``ValueError`` re-raised as ``"<file>: <problem>"``."""
    try:
        return transform(img)
    except ValueError as e:
        raise ValueError(f"{image_source(img, key)}: {e}") from e
