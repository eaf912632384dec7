"""Re-run the tests of each mutant that ``mutmut run`` reports as surviving, each in a fresh pytest process.

mutmut 3 runs every mutant's tests in a process forked from its own, and switches the mutant on through the
``MUTANT_UNDER_TEST`` environment variable. For a few mutants of the trainer it reported survival although their tests
fail when run in a fresh process with the same variable (docs/testing.md). This script does that for every reported
survivor, with the tests mutmut itself mapped to the mutated function, and prints KILLED or SURVIVED for each.

By hand, after ``python -m mutmut run`` (never in CI)::

    python tests/mutation_recheck.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

MUTANTS = Path(__file__).resolve().parents[1] / "mutants"


def survivors() -> list[str]:
    """The names of the mutants that mutmut's last run left alive."""
    results = subprocess.run([sys.executable, "-m", "mutmut", "results"], capture_output=True, text=True, check=True)
    return [line.split(":")[0].strip() for line in results.stdout.splitlines() if line.endswith("survived")]


def recheck(name: str, tests_by_function: dict[str, list[str]]) -> tuple[str, bool, str]:
    """Run ``name``'s tests with it switched on; return its name, whether a test failed, and the first failure."""
    tests = sorted(tests_by_function[re.sub(r"__mutmut_\d+$", "", name)])
    env = {**os.environ, "MUTANT_UNDER_TEST": name, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    run = subprocess.run(command, cwd=MUTANTS, env=env, capture_output=True, text=True)
    failures = [line for line in run.stdout.splitlines() if line.startswith("FAILED")]
    return name, run.returncode != 0, failures[0] if failures else ""


def main() -> int:
    stats = json.loads((MUTANTS / "mutmut-stats.json").read_text())["tests_by_mangled_function_name"]
    names = survivors()
    with ThreadPoolExecutor(max(1, (os.cpu_count() or 1))) as pool:
        outcomes = list(pool.map(lambda name: recheck(name, stats), names))
    for name, killed, failure in outcomes:
        print("KILLED  " if killed else "SURVIVED", name, failure)
    print(f"{sum(killed for _, killed, _ in outcomes)} of {len(names)} reported survivors killed on a fresh run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
