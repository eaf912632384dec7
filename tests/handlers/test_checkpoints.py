from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.handlers import latest_checkpoint


class TestLatestCheckpoint(unittest.TestCase):
    def test_highest_epoch_wins(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name in (
                "cyclegan_checkpoint_epoch=2.pt",
                "cyclegan_checkpoint_epoch=10.pt",
                "model.pt",
                "x_epoch=3.txt",
            ):
                (Path(tmp) / name).write_bytes(b"")
            self.assertEqual(Path(latest_checkpoint(tmp)).name, "cyclegan_checkpoint_epoch=10.pt")

    def test_none_found(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(FileNotFoundError, "no checkpoint"):
            latest_checkpoint(tmp)


if __name__ == "__main__":
    unittest.main()
