"""The two translation directions, named once for the CLI, the bundle, the handlers and the evaluation.

Kept free of heavy imports so that the CLI can build its ``--help`` from it quickly.
"""

from __future__ import annotations

__all__ = ["DIRECTION_CONTRASTS", "DIRECTION_NAMES", "T1_TO_T2", "T2_TO_T1"]

T1_TO_T2 = "t1_to_t2"
T2_TO_T1 = "t2_to_t1"
DIRECTION_NAMES: tuple[str, ...] = (T1_TO_T2, T2_TO_T1)
# source and target contrast of each direction
DIRECTION_CONTRASTS: dict[str, tuple[str, str]] = {T1_TO_T2: ("t1", "t2"), T2_TO_T1: ("t2", "t1")}
