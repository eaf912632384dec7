from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from monai_cyclegan.data import read_pairs_list
from tests.evaluation.slices import write_slice_pairs


class TestReadPairsList(unittest.TestCase):
    def test_optional_mask_column_and_absolute_paths(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            pairs = write_slice_pairs(root, count=2)
            (root / "m0.png").write_bytes((root / "t1" / "s0.png").read_bytes())
            pairs.write_text("t1,t2,mask\nt1/s0.png,t2/s0-T2.png,m0.png\nt1/s1.png,t2/s1-T2.png,\n")
            rows = read_pairs_list(pairs)
            self.assertEqual(
                rows[0],
                {
                    "subject": "s0",
                    "t1": str(root / "t1" / "s0.png"),
                    "t2": str(root / "t2" / "s0-T2.png"),
                    "mask": str(root / "m0.png"),
                },
            )
            self.assertNotIn("mask", rows[1])
            pairs.write_text("t1,t2,mask\nt1/s0.png,t2/s0-T2.png,gone.png\n")
            with self.assertRaisesRegex(ValueError, r"pairs.csv, line 2: file .*gone.png.* does not exist"):
                read_pairs_list(pairs)


if __name__ == "__main__":
    unittest.main()
