"""Checks of settings whose errors name the setting, shared by the networks and the transforms."""

from __future__ import annotations

import numbers

__all__ = ["as_bool", "check_positive_int"]


def check_positive_int(name: str, value: object) -> None:
    """A ``ValueError`` naming the setting ``name`` unless ``value`` is a positive integer (booleans are not).

    A mistyped bundle override (``--image_size abc``) otherwise fails later with a ``TypeError`` about strings and
    integers that does not say which setting is wrong.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def as_bool(name: str, value: object) -> bool:
    """``value`` as a bool, or a ``ValueError`` naming the setting ``name``.

    ``python -m monai.bundle run ... --amp false`` passes the string ``"false"``, which Python takes as true; so the
    strings ``"true"`` and ``"false"`` (any case) count as what they say, as do booleans and the integers 0 and 1.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"{name} must be true or false, got {value!r}.")
