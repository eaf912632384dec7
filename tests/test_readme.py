from __future__ import annotations

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_command(marker: str) -> str:
    """The shell line in the README's fenced block that follows the comment ``# <marker>``."""
    match = re.search(rf"# {marker}\n(.+)\n", (ROOT / "README.md").read_text())
    assert match, f"README has no '# {marker}' command"
    return match.group(1).strip()


class TestReadmeContract(unittest.TestCase):
    def test_ci_runs_the_readme_test_command(self):
        ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
        self.assertIn(_readme_command("run the tests"), ci_lines)

    def test_both_commands_install_the_pinned_cpu_torch_first(self):
        for marker in ("run the demo", "run the tests"):
            command = _readme_command(marker)
            self.assertLess(command.index("pip install -q torch=="), command.index("pip install -q -e"), marker)


if __name__ == "__main__":
    unittest.main()
