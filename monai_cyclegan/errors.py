"""The error a user needs to see: the package's own message, unwrapped from MONAI's generic wrappers.

Kept free of heavy imports, so that the command line can use it without importing MONAI.
"""

from __future__ import annotations

__all__ = ["MONAI_WRAPPERS", "root_cause"]

# MONAI wraps an error of the package in "Failed to evaluate/instantiate ..." (the config parser) and in "applying
# transform <object at 0x...>" (Compose); the cause names the file or setting.
MONAI_WRAPPERS = ("Failed to ", "applying transform ")


def root_cause(error: BaseException) -> BaseException:
    """``error``, or the first of its causes that MONAI has not wrapped (see :data:`MONAI_WRAPPERS`)."""
    while str(error).startswith(MONAI_WRAPPERS) and error.__cause__ is not None:
        error = error.__cause__
    return error
