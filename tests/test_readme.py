from __future__ import annotations

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_command(marker: str, page: str = "README.md") -> str:
    """The shell line in the page's fenced block that follows the comment ``# <marker>``."""
    match = re.search(rf"# {marker}\n(.+)\n", (ROOT / page).read_text())
    assert match, f"{page} has no '# {marker}' command"
    return match.group(1).strip()


class TestReadmeContract(unittest.TestCase):
    def test_ci_runs_the_readme_test_command(self):
        ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
        self.assertIn(_readme_command("run the tests"), ci_lines)

    def test_getting_started_shows_the_readme_commands(self):
        for marker in ("run the demo", "run the tests"):
            self.assertEqual(_readme_command(marker, "docs/getting_started.md"), _readme_command(marker), marker)

    def test_gpu_page_shows_the_readme_torchrun_launches(self):
        readme = (ROOT / "README.md").read_text().splitlines()
        launches = [line for line in (ROOT / "docs" / "gpu.md").read_text().splitlines() if line.startswith("torchrun")]
        self.assertEqual(len(launches), 2)
        for line in launches:
            self.assertIn(line, readme)

    def test_the_test_command_builds_the_docs_with_warnings_as_errors(self):
        self.assertRegex(_readme_command("run the tests"), r"sphinx-build -W .*docs ")

    def test_both_commands_install_the_pinned_cpu_torch_first(self):
        for marker in ("run the demo", "run the tests"):
            command = _readme_command(marker)
            self.assertLess(command.index("pip install -q torch=="), command.index("pip install -q -e"), marker)


if __name__ == "__main__":
    unittest.main()
