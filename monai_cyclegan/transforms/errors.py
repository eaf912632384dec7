"""Clear errors: dictionary transforms name the file an image came from, settings checks name the setting."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Hashable

from monai.config import NdarrayOrTensor

__all__ = ["check_positive_int", "image_source", "naming_source"]


def check_positive_int(name: str, value: object) -> None:
    """A ``ValueError`` naming the setting ``name`` unless ``value`` is a positive integer (booleans are not).

    A mistyped bundle override (``--image_size abc``) otherwise fails later with a ``TypeError`` about strings and
    integers that does not say which setting is wrong.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def image_source(img: object, key: Hashable) -> str:
    """The file an image was loaded from (MONAI's ``filename_or_obj`` metadata), else its dictionary key."""
    return str(getattr(img, "meta", {}).get("filename_or_obj", key))


def naming_source(transform: Callable[[NdarrayOrTensor], NdarrayOrTensor], img: NdarrayOrTensor, key: Hashable):
    """``transform(img)``, with a ``ValueError`` re-raised as ``"<file>: <problem>"``."""
    try:
        return transform(img)
    except ValueError as e:
        raise ValueError(f"{image_source(img, key)}: {e}") from e
