from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from monai_cyclegan.data import list_ixi_volumes, parse_ixi_name


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


class TestParseIxiName(unittest.TestCase):
    @parameterized.expand(
        [
            ("IXI002-Guys-0828-T1.nii.gz", {"subject": "IXI002", "site": "Guys", "contrast": "T1"}),
            ("IXI662-IOP-1156-T2.nii.gz", {"subject": "IXI662", "site": "IOP", "contrast": "T2"}),
            ("PH003-Phantom-0003-T2.nii", {"subject": "PH003", "site": "Phantom", "contrast": "T2"}),
            ("sub01-T1.nii.gz", {"subject": "sub01", "site": "", "contrast": "T1"}),
        ]
    )
    def test_parse(self, name, expected):
        self.assertEqual(parse_ixi_name(name), expected)

    @parameterized.expand([("IXI002-Guys-0828-PD.nii.gz",), ("IXI002-Guys-0828-T1.png",), ("T1.nii.gz",)])
    def test_not_ixi(self, name):
        self.assertIsNone(parse_ixi_name(name))


class TestListIxiVolumes(unittest.TestCase):
    def test_lists_both_contrasts_independently(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            _touch(
                root,
                "IXI-T1/IXI012-HH-1211-T1.nii.gz",
                "IXI-T1/IXI002-Guys-0828-T1.nii.gz",
                "IXI-T1/notes.txt",
                "IXI-T1/IXI002-Guys-0828-T2.nii.gz",  # wrong folder for its contrast: ignored
                "IXI-T2/IXI013-HH-1212-T2.nii.gz",
            )
            found = list_ixi_volumes(root)
            self.assertEqual([v["subject"] for v in found["t1"]], ["IXI002", "IXI012"])
            self.assertEqual([v["site"] for v in found["t1"]], ["Guys", "HH"])
            self.assertEqual([Path(v["image"]).name for v in found["t2"]], ["IXI013-HH-1212-T2.nii.gz"])

    def test_missing_directory(self):
        with self.assertRaisesRegex(FileNotFoundError, "does-not-exist"):
            list_ixi_volumes("/tmp/does-not-exist-monai-cyclegan")

    def test_empty_directory(self):
        with tempfile.TemporaryDirectory() as tmp, self.assertRaisesRegex(ValueError, "IXI-T1.*IXI-T2"):
            list_ixi_volumes(tmp)

    def test_one_sided_directory_names_missing_side(self):
        with tempfile.TemporaryDirectory() as tmp:
            _touch(Path(tmp), "IXI-T1/IXI002-Guys-0828-T1.nii.gz", "stray.txt")
            with self.assertRaisesRegex(ValueError, r"no volumes in \['IXI-T2'\].*stray.txt"):
                list_ixi_volumes(tmp)


if __name__ == "__main__":
    unittest.main()
