from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from ignite.engine import Engine

from monai_cyclegan.handlers import RunRecordHandler, source_commit


class TestRunRecord(unittest.TestCase):
    def test_record_after_training(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "run" / "run_record.json"
            engine = Engine(lambda engine, batch: None)
            RunRecordHandler(path, {"ngf": 4}).attach(engine)
            engine.run(range(5), max_epochs=3)
            record = json.loads(path.read_text())
            self.assertEqual((record["epochs"], record["iterations"]), (3, 15))
            self.assertGreaterEqual(record["train_seconds"], 0)
            self.assertEqual(record["settings"], {"ngf": 4})

    def test_commit_is_the_one_checked_out_at_the_start(self):
        with (
            tempfile.TemporaryDirectory() as tmp,
            mock.patch("monai_cyclegan.handlers.run_record.source_commit", side_effect=["at start", "edited later"]),
        ):
            engine = Engine(lambda engine, batch: None)
            RunRecordHandler(Path(tmp) / "r.json").attach(engine)
            engine.run(range(2), max_epochs=1)
            self.assertEqual(json.loads((Path(tmp) / "r.json").read_text())["commit"], "at start")

    def test_commit(self):
        commit = source_commit()  # this checkout
        self.assertRegex(commit or "", r"^[0-9a-f]{40}(-dirty)?$")
        with tempfile.TemporaryDirectory() as tmp:
            self.assertIsNone(source_commit(tmp))  # not a checkout


if __name__ == "__main__":
    unittest.main()
