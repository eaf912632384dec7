"""Hypothesis profiles of the test suite: the same examples on every CI run, a wide random search by hand.

``ci`` (the default) derandomizes hypothesis: each property test draws the same examples on every run, so that one
commit gets one CI result. ``wide`` draws fresh random examples, many more of them, to look for new failing inputs::

    HYPOTHESIS_PROFILE=wide python -m pytest tests/transforms/test_properties.py

A failure found that way is replayed by hypothesis's printed ``@reproduce_failure`` line; keep it as an ``@example`` of
the test so that CI checks it from then on. The property tests take their example counts from the loaded profile
(``settings.default.max_examples``).
"""

from __future__ import annotations

import os

from hypothesis import settings

# No example database in either profile: a run replays nothing that an earlier run left in .hypothesis/
settings.register_profile("ci", max_examples=200, derandomize=True, database=None, deadline=None)
settings.register_profile("wide", max_examples=5000, derandomize=False, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
