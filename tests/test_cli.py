from __future__ import annotations

import subprocess
import sys
import unittest

from monai_cyclegan.cli import build_parser, main


class TestCli(unittest.TestCase):
    def test_help_of_every_verb(self):
        for argv in (["--help"], ["demo", "--help"]):
            result = subprocess.run([sys.executable, "-m", "monai_cyclegan.cli", *argv], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("usage: monai-cyclegan", result.stdout)

    def test_demo_arguments(self):
        args = build_parser().parse_args(["demo", "--output_dir", "x", "--epochs", "3"])
        self.assertEqual((args.output_dir, args.epochs, args.seed), ("x", 3, 0))

    def test_errors_exit_non_zero_with_one_line(self):
        with self.assertRaises(SystemExit) as caught:
            main(["no-such-verb"])
        self.assertNotEqual(caught.exception.code, 0)


if __name__ == "__main__":
    unittest.main()
