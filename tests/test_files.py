from __future__ import annotations

import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from monai_cyclegan.files import write_atomically, write_json


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

    def test_content_reaches_the_disk_before_the_rename(self):
        """fsync of the complete temporary file, then the rename, then fsync of the folder (the rename itself)."""
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "model.pt"
            target.write_text("old")
            synced = []

            def record(fd: int) -> None:
                path = Path(os.readlink(f"/proc/self/fd/{fd}"))
                synced.append((path.name, path.read_text() if path.is_file() else None, target.read_text()))

            with mock.patch("monai_cyclegan.files.os.fsync", side_effect=record):
                write_atomically(target, lambda temporary: temporary.write_text("new"))
        self.assertEqual(len(synced), 2)
        self.assertRegex(synced[0][0], r"^\.model\.\w+\.tmp\.pt$")
        self.assertEqual(synced[0][1:], ("new", "old"))  # the new content is synced while the old file still stands
        self.assertEqual(synced[1], (Path(tmp).name, None, "new"))  # then the folder, after the rename


class TestWriteJson(unittest.TestCase):
    def test_nan_becomes_null_and_the_folder_is_made(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_json(Path(tmp) / "new" / "r.json", {"a": float("nan"), "b": [1.5, float("inf")], "c": "x"})
            self.assertEqual(json.loads(path.read_text()), {"a": None, "b": [1.5, None], "c": "x"})
            self.assertEqual(list(path.parent.iterdir()), [path])  # no temporary file left


if __name__ == "__main__":
    unittest.main()
