"""Checks of settings whose errors name the setting, shared by the networks and the transforms."""

from __future__ import annotations

import numbers

__all__ = ["check_positive_int"]


def check_positive_int(name: str, value: object) -> None:
    """A ``ValueError`` naming the setting ``name`` unless ``value`` is a positive integer (booleans are not).

    A mistyped bundle override (``--image_size abc``) otherwise fails later with a ``TypeError`` about strings and
    integers that does not say which setting is wrong.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
