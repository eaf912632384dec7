from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.files import write_atomically


class TestWriteAtomically(unittest.TestCase):
    def test_failed_write_keeps_the_old_file_and_cleans_up(self):
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "report.csv"
            target.write_text("old")

            def failing_write(temporary: Path) -> None:
                self.assertEqual(temporary.parent, target.parent)
                self.assertTrue(temporary.name.endswith(".csv"))
                temporary.write_text("partial")
                raise RuntimeError("disk full")

            with self.assertRaisesRegex(RuntimeError, "disk full"):
                write_atomically(target, failing_write)
            self.assertEqual(target.read_text(), "old")
            self.assertEqual([p.name for p in Path(tmp).iterdir()], ["report.csv"])
            write_atomically(target, lambda temporary: temporary.write_text("new"))
            self.assertEqual(target.read_text(), "new")


if __name__ == "__main__":
    unittest.main()
