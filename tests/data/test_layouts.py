from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
from PIL import Image

from monai_cyclegan.data import detect_layout
from tests.shared_data import shared_data


def _png(path: Path, size=(20, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros(size, dtype=np.uint8)).save(path)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


class TestDetectLayout(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_ixi_volumes(self):
        _touch(self.root / "IXI-T1/IXI002-Guys-0828-T1.nii.gz")
        _touch(self.root / "IXI-T2/IXI012-HH-1211-T2.nii.gz")
        _touch(self.root / "paired/IXI002-T1.nii.gz")  # other folders (pairing output, manifests) are ignored
        layout = detect_layout(self.root)
        self.assertEqual((layout.name, layout.kind), ("ixi", "volume"))
        self.assertEqual([e["subject"] for e in layout.t1], ["IXI002"])
        self.assertEqual([e["site"] for e in layout.t2], ["HH"])

    def test_public_slice_set_with_spaces_and_hashes(self):
        for name in ("Image #10.png", "Image #2.png"):
            _png(self.root / "Tr1/TrainT1" / name)
        _png(self.root / "Tr2/TrainT2/Image #70.png")
        layout = detect_layout(self.root)
        self.assertEqual((layout.name, layout.kind), ("slice_dataset", "slice"))
        self.assertEqual([e["subject"] for e in layout.t1], ["Image #10", "Image #2"])
        self.assertTrue(Path(layout.t2[0]["image"]).is_file())

    def test_t1_t2_folders_of_images_any_case_and_extension(self):
        _png(self.root / "T1/a.PNG")
        _png(self.root / "T1/b.jpg")
        _png(self.root / "t2/c.jpeg")
        _touch(self.root / "t2/.DS_Store")
        layout = detect_layout(self.root)
        self.assertEqual((layout.name, layout.kind), ("t1_t2_folders", "slice"))
        self.assertEqual([e["subject"] for e in layout.t1], ["a", "b"])
        self.assertEqual(len(layout.t2), 1)

    def test_t1_t2_folders_of_volumes_with_masks(self):
        for contrast in ("t1", "t2"):
            _touch(self.root / contrast / "sub01.nii.gz")
            _touch(self.root / f"{contrast}-mask" / "sub01.nii.gz")
        layout = detect_layout(self.root)
        self.assertEqual(layout.kind, "volume")
        self.assertEqual(layout.t1[0]["subject"], "sub01")
        self.assertEqual(layout.t2[0]["mask"], str(self.root / "t2-mask" / "sub01.nii.gz"))

    def test_ixi_masks_must_cover_every_volume(self):
        _touch(self.root / "IXI-T1/IXI002-Guys-0828-T1.nii.gz")
        _touch(self.root / "IXI-T1/IXI012-HH-1211-T1.nii.gz")
        _touch(self.root / "IXI-T2/IXI012-HH-1211-T2.nii.gz")
        _touch(self.root / "IXI-T1-mask/IXI002-Guys-0828-T1.nii.gz")
        with self.assertRaisesRegex(ValueError, r"IXI-T1-mask.*IXI012-HH-1211-T1\.nii\.gz"):
            detect_layout(self.root)

    def test_missing_directory(self):
        with self.assertRaisesRegex(FileNotFoundError, "nowhere"):
            detect_layout(self.root / "nowhere")

    def test_empty_directory_says_what_is_expected(self):
        with self.assertRaisesRegex(ValueError, r"it is empty.*IXI-T1/ \+ IXI-T2/.*Tr1/TrainT1/.*t1/ \+ t2/"):
            detect_layout(self.root)

    def test_unknown_contents_are_listed(self):
        _png(self.root / "scans/a.png")
        with self.assertRaisesRegex(ValueError, r"found \['scans/'\]"):
            detect_layout(self.root)

    def test_ambiguous(self):
        _png(self.root / "t1/a.png")
        _png(self.root / "t2/a.png")
        _touch(self.root / "IXI-T1/IXI002-Guys-0828-T1.nii.gz")
        with self.assertRaisesRegex(ValueError, r"ambiguous.*IXI-T1/.*t1/"):
            detect_layout(self.root)

    def test_one_sided(self):
        _png(self.root / "Tr1/TrainT1/Image #1.png")
        with self.assertRaisesRegex(ValueError, r"one-sided.*TrainT2.*no T2 images.*holds 1 files"):
            detect_layout(self.root)

    def test_one_sided_with_an_empty_folder(self):
        _png(self.root / "t2/a.png")
        (self.root / "t1").mkdir()
        with self.assertRaisesRegex(ValueError, r"one-sided.*t1.*no T1 images"):
            detect_layout(self.root)

    def test_mixed_images_and_volumes(self):
        _png(self.root / "t1/a.png")
        _touch(self.root / "t1/b.nii.gz")
        _png(self.root / "t2/a.png")
        with self.assertRaisesRegex(ValueError, r"mixes 2D images \(a\.png.*NIfTI volumes \(b\.nii\.gz"):
            detect_layout(self.root)

    def test_ixi_one_sided(self):
        _touch(self.root / "IXI-T1/IXI002-Guys-0828-T1.nii.gz")
        with self.assertRaisesRegex(ValueError, r"no volumes in \['IXI-T2'\]"):
            detect_layout(self.root)


class TestPublicSliceSet(unittest.TestCase):
    def test_shared_copy(self):
        layout = detect_layout(shared_data("capstone_t1t2"))
        self.assertEqual((layout.name, len(layout.t1), len(layout.t2)), ("slice_dataset", 43, 46))


if __name__ == "__main__":
    unittest.main()
