from __future__ import annotations

import json
import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import torch

from monai_cyclegan.files import load_checkpoint, write_atomically, write_csv, write_json
from tests.unsafe_checkpoint import write_code_running_checkpoint


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


class TestWriteCsv(unittest.TestCase):
    def test_columns_in_first_seen_order_and_missing_values_empty(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows = [{"b": 1, "a": "x,y"}, {"a": "z", "c": 0.5}]
            path = write_csv(Path(tmp) / "new" / "table.csv", rows)
            self.assertEqual(path.read_text(), 'b,a,c\n1,"x,y",\n,z,0.5\n')
            self.assertEqual([p.name for p in path.parent.iterdir()], ["table.csv"])  # no temporary left

    def test_given_columns_and_a_header_for_no_rows(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = write_csv(Path(tmp) / "t.csv", [{"a": 1, "b": 2}], columns=["b", "a"])
            self.assertEqual(path.read_text(), "b,a\n2,1\n")
            self.assertEqual(write_csv(Path(tmp) / "e.csv", [], columns=["a"]).read_text(), "a\n")


class TestLoadCheckpoint(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_tensors_load(self):
        torch.save({"w": torch.ones(2)}, self.dir / "ok.pt")
        self.assertTrue(torch.equal(load_checkpoint(self.dir / "ok.pt")["w"], torch.ones(2)))

    def test_a_checkpoint_that_would_run_code_is_refused_and_nothing_runs(self):
        marker = self.dir / "code-ran"
        path = write_code_running_checkpoint(self.dir / "evil.pt", marker, {"w": torch.ones(2)})
        with self.assertRaisesRegex(
            RuntimeError, r"evil\.pt: refused, it holds a pickled object other than tensors .*\(getattr\)"
        ):
            load_checkpoint(path)
        self.assertFalse(marker.exists())

    def test_damaged_files_name_the_file(self):
        torch.save({"w": torch.ones(1000)}, self.dir / "good.pt")
        data = (self.dir / "good.pt").read_bytes()
        (self.dir / "truncated.pt").write_bytes(data[: len(data) // 2])
        (self.dir / "text.pt").write_text("not a checkpoint")
        (self.dir / "empty.pt").write_bytes(b"")
        for name in ("truncated.pt", "text.pt", "empty.pt"):
            with self.subTest(name), self.assertRaisesRegex(RuntimeError, rf"{name}: cannot be read, it is truncated"):
                load_checkpoint(self.dir / name)
        with self.assertRaisesRegex(FileNotFoundError, "missing.pt: no such checkpoint"):
            load_checkpoint(self.dir / "missing.pt")
