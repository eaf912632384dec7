from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.data import CacheDataset
from monai.transforms import Compose, LoadImage, ResampleToMatch, ResizeWithPadOrCrop
from parameterized import parameterized
from PIL import Image

from monai_cyclegan.data.phantom import write_phantom_dataset
from monai_cyclegan.transforms import (
    augmentations,
    image_file_preprocessing,
    image_file_training_transforms,
    model_spacing,
    slice_training_transforms,
    volume_preprocessing,
)
from tests.shared_data import shared_data, stacked_volume, syndiff_slices, write_nifti

SIZE = 64  # with the default 256 mm field of view: 4 mm voxels, about the phantom's spacing at scale 0.25


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


class TestPipelinesOnPhantom(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.subject = write_phantom_dataset(cls.tmp.name, num_subjects=1, scale=0.25, seed=3)[0]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_acquisition_grids_are_not_ras(self):
        # the premise of the next tests: the phantom's T1/T2 grids need real reorientation and resampling
        self.assertNotEqual(nib.aff2axcodes(nib.load(self.subject["t1"]).affine), ("R", "A", "S"))
        self.assertNotEqual(nib.aff2axcodes(nib.load(self.subject["t2"]).affine), ("R", "A", "S"))

    def test_volume_preprocessing_gives_ras_common_spacing_and_range(self):
        pre = volume_preprocessing(image_size=SIZE)
        for key in ("t1", "t2"):
            image = pre({"image": self.subject[key]})["image"]
            affine = image.affine.numpy()
            self.assertEqual(nib.aff2axcodes(affine), ("R", "A", "S"), key)
            np.testing.assert_allclose(np.linalg.norm(affine[:3, :3], axis=0), model_spacing(SIZE), rtol=1e-4)
            self.assertGreaterEqual(float(image.min()), -1.0)
            self.assertLessEqual(float(image.max()), 1.0)
            border = torch.cat([image[0, [0, -1]].flatten(), image[0, :, [0, -1]].flatten()])
            self.assertLess(float(border.mean()), -0.95)  # air (a Rician noise floor) sits at about -1
            self.assertGreater(float((image > 0.99).float().mean()), 0)  # the bright end reaches +1

    def test_harmonised_volumes_match_the_ground_truth_anatomy(self):
        """T1 (sagittal grid) and T2 (axial grid) land on the anatomy of the paired RAS ground truth."""
        pre = volume_preprocessing(image_size=SIZE)
        load = LoadImage(image_only=True, ensure_channel_first=True)
        for key, paired in (("t1", "paired_t1"), ("t2", "paired_t2")):
            moved = pre({"image": self.subject[key]})["image"]
            truth = load(self.subject[paired])
            on_truth_grid = ResampleToMatch()(moved, img_dst=truth)
            good = _correlation(on_truth_grid, truth)
            self.assertGreater(good, 0.93, key)  # measured: 0.95 for both contrasts
            # the same volume mirrored along any axis (a wrong reorientation) scores clearly lower (measured <= 0.91)
            for axis in (1, 2, 3):
                mirrored = ResampleToMatch()(moved.flip(axis), img_dst=truth)
                self.assertGreater(good - _correlation(mirrored, truth), 0.03, f"{key}, axis {axis}")

    def test_training_slices(self):
        transform = slice_training_transforms(image_size=SIZE, slices_per_volume=6, flip_prob=0.5)
        transform.set_random_state(0)
        slices = transform({"image": self.subject["t1"]})
        self.assertEqual(len(slices), 6)
        full = volume_preprocessing(image_size=SIZE)({"image": self.subject["t1"]})["image"]
        largest_area = int((full > -0.8).sum(dim=(0, 1, 2)).max())
        for item in slices:
            image = item["image"]
            self.assertEqual(tuple(image.shape), (1, SIZE, SIZE))
            self.assertGreaterEqual(float(image.min()), -1.0)
            self.assertLessEqual(float(image.max()), 1.0)
            # every slice cuts through the head, never through the skull cap or the empty field of view
            self.assertGreaterEqual(int((image > -0.8).sum()), 0.25 * largest_area)

    def test_the_cache_holds_the_slab_in_half_precision(self):
        """CacheDataset keeps each volume's slab in float16 at its own in-plane size; items come out float32."""
        dataset = CacheDataset(
            [{"image": self.subject["t1"]}], slice_training_transforms(image_size=SIZE), progress=False
        )
        cached = dataset._cache[0]["image"]  # MONAI offers no public view of the cache
        full = volume_preprocessing(image_size=SIZE)({"image": self.subject["t1"]})["image"]
        self.assertEqual(cached.dtype, torch.float16)
        self.assertEqual(tuple(cached.shape[:3]), tuple(full.shape[:3]))  # not padded to SIZE x SIZE
        self.assertLess(cached.shape[3], full.shape[3])  # the slab, not the whole volume
        (item,) = dataset[0]
        self.assertEqual((item["image"].dtype, tuple(item["image"].shape)), (torch.float32, (1, SIZE, SIZE)))

    def test_t1_and_t2_share_one_grid(self):
        pre = volume_preprocessing(image_size=SIZE)
        t1, t2 = (pre({"image": self.subject[key]})["image"] for key in ("t1", "t2"))
        np.testing.assert_allclose(t1.affine[:3, :3].numpy(), t2.affine[:3, :3].numpy(), atol=1e-5)
        self.assertEqual(nib.aff2axcodes(t1.affine.numpy()), nib.aff2axcodes(t2.affine.numpy()))
        # both heads overlap in world space: their masks agree once resampled onto one grid
        t2_on_t1 = ResampleToMatch()(t2, img_dst=t1)
        head1, head2 = t1 > -0.8, t2_on_t1 > -0.8
        dice = 2 * float((head1 & head2).sum()) / float(head1.sum() + head2.sum())
        self.assertGreater(dice, 0.9)

    def test_mask_selects_the_slices(self):
        """A brain mask restricts the drawn slices to the mask's slab, not the head's."""
        image = nib.load(self.subject["t1"])
        mask = np.zeros(image.shape, dtype=np.uint8)
        mask[:, mask.shape[1] // 2 : mask.shape[1] // 2 + 3, :] = 1  # a 3-voxel axial slab (axis 1 is S in LSP)
        mask_path = str(write_nifti(mask, image.affine, Path(self.tmp.name) / "mask.nii.gz"))
        data = {"image": self.subject["t1"], "mask": mask_path}
        full = volume_preprocessing(image_size=SIZE, mask_keys=("mask",))(data)
        # the training slices are cached in half precision
        fitted = ResizeWithPadOrCrop((SIZE, SIZE, -1), value=-1)(full["image"]).half().float()
        in_mask = set(torch.nonzero(full["mask"].sum(dim=(0, 1, 2))).flatten().tolist())

        def drawn_levels(mask_key):
            transform = slice_training_transforms(image_size=SIZE, slices_per_volume=30, flip_prob=0, mask_key=mask_key)
            slices = transform.set_random_state(0)(data if mask_key else {"image": data["image"]})
            self.assertFalse(any("mask" in item for item in slices))  # the mask is dropped once used
            return {
                next(z for z in range(fitted.shape[-1]) if torch.equal(fitted[..., z], item["image"].as_tensor()))
                for item in slices
            }

        self.assertTrue(drawn_levels("mask") <= in_mask)
        self.assertLessEqual(len(in_mask), 4)
        self.assertGreater(len(drawn_levels(None) - in_mask), 5)  # without the mask, slices come from the whole head

    def test_flip_is_left_right(self):
        item = {"image": self.subject["t2"]}
        unflipped = slice_training_transforms(image_size=SIZE, flip_prob=0.0).set_random_state(1)(item)[0]["image"]
        flipped = slice_training_transforms(image_size=SIZE, flip_prob=1.0).set_random_state(1)(item)[0]["image"]
        self.assertTrue(torch.equal(flipped.as_tensor(), unflipped.as_tensor().flip(1)))  # axis 1 = x = left-right


class TestHarmonisationOnRealSlices(unittest.TestCase):
    """Real axial slices stored like IXI's sagittal T1 and axial T2 come back as the same axial slices."""

    @parameterized.expand([("T1", "sagittal"), ("T2", "axial")])
    def test_axial_slices_come_back(self, contrast, acquisition):
        slices = syndiff_slices(contrast)[:6]  # (k, rows anterior->posterior, columns right->left)
        array, affine = stacked_volume(slices, acquisition, spacing=(1.0, 1.0, 3.0))
        with tempfile.TemporaryDirectory() as tmp:
            path = write_nifti(array, affine, Path(tmp) / "v.nii.gz")
            out = volume_preprocessing(image_size=256)({"image": str(path)})["image"]  # 1 mm: resampled along S
        self.assertEqual(nib.aff2axcodes(out.affine.numpy()), ("R", "A", "S"))
        self.assertEqual(tuple(out.shape), (1, 152, 256, 16))
        for k in range(6):
            # RAS slice [x, y]: x grows towards the right (columns reversed), y towards anterior (rows reversed)
            expected = torch.as_tensor(slices[k][::-1, ::-1].T.copy())
            got = out[0, :, :, 3 * k]  # slices 3 mm apart land on every third 1 mm plane exactly
            self.assertGreater(_correlation(got, expected), 0.999, k)
            self.assertLess(_correlation(got, expected.flip(0)), 0.98, k)  # a left-right mix-up would show
            self.assertLess(_correlation(got, expected.flip(1)), 0.98, k)


class TestImageFilePipelines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        root = Path(cls.tmp.name)
        rng = np.random.default_rng(0)
        cls.grey = rng.integers(0, 256, (217, 181), dtype=np.uint8)  # rows x columns, like the public slices
        cls.grey[:40] = 0  # some air
        cls.files = {"grey": root / "grey #1.png", "rgb": root / "rgb.jpg", "big": root / "big.png"}
        cls.corrupt = root / "corrupt.png"
        Image.fromarray(cls.grey).save(cls.files["grey"])
        Image.fromarray(np.stack([cls.grey] * 3, axis=-1)).save(cls.files["rgb"], quality=100)
        Image.fromarray(rng.integers(0, 256, (600, 400), dtype=np.uint8)).save(cls.files["big"])
        cls.corrupt.write_bytes(cls.files["grey"].read_bytes()[:200])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_grey_png_is_padded_untouched(self):
        image = image_file_preprocessing(image_size=256)({"image": str(self.files["grey"])})["image"]
        self.assertEqual(tuple(image.shape), (1, 256, 256))
        # axis 0 runs along the image width: the PNG's columns
        inner = image[0, 37:218, 19:236].as_tensor()
        torch.testing.assert_close(inner, torch.as_tensor(self.grey.T / 255.0 * 2 - 1, dtype=torch.float32))

    def test_palette_and_cmyk_files_give_their_intensities(self):
        """Palette indices and CMYK ink amounts are decoded before scaling: the same image as the grey PNG."""
        grey = image_file_preprocessing(image_size=256)({"image": str(self.files["grey"])})["image"]
        with tempfile.TemporaryDirectory() as tmp:
            # an adaptive palette need not map index i to grey level i (here black is not index 0)
            palette = Image.fromarray(self.grey).convert("RGB").quantize(colors=256)
            self.assertNotEqual(np.asarray(palette).tolist(), self.grey.tolist())
            palette.save(f"{tmp}/palette.png")
            Image.fromarray(self.grey).convert("CMYK").save(f"{tmp}/cmyk.jpg", quality=100)
            for name in ("palette.png", "cmyk.jpg"):
                image = image_file_preprocessing(image_size=256)({"image": f"{tmp}/{name}"})["image"]
                self.assertLess(float((image - grey).abs().max()), 0.02, name)

    def test_rgb_jpeg_collapses_to_one_channel(self):
        grey = image_file_preprocessing(image_size=256)({"image": str(self.files["grey"])})["image"]
        rgb = image_file_preprocessing(image_size=256)({"image": str(self.files["rgb"])})["image"]
        self.assertEqual(rgb.shape[0], 1)
        self.assertLess(float((rgb - grey).abs().mean()), 0.05)  # JPEG is lossy even at quality 100

    def test_large_image_shrinks_to_fit(self):
        image = image_file_preprocessing(image_size=128)({"image": str(self.files["big"])})["image"]
        self.assertEqual(tuple(image.shape), (1, 128, 128))
        self.assertEqual(int((image == -1).all(dim=2).sum()), 128 - 85)  # 400 x 600 -> 85 x 128, padded columns

    def test_corrupt_png_names_the_file(self):
        with self.assertRaises(RuntimeError) as caught:  # MONAI's Compose wraps the failure of a transform
            image_file_preprocessing()({"image": str(self.corrupt)})
        self.assertRegex(str(caught.exception.__cause__), r"corrupt\.png: cannot read it as an image: OSError")

    def test_training_augmentations(self):
        base = image_file_preprocessing(image_size=256)({"image": str(self.files["grey"])})["image"]
        flip = image_file_training_transforms(image_size=256, flip_prob=1.0, contrast_prob=0.0)
        flipped = flip({"image": str(self.files["grey"])})["image"]
        self.assertTrue(torch.equal(flipped.as_tensor(), base.as_tensor().flip(1)))
        contrast = image_file_training_transforms(image_size=256, flip_prob=0.0, contrast_prob=1.0).set_random_state(0)
        changed = contrast({"image": str(self.files["grey"])})["image"]
        self.assertGreater(float((changed - base).abs().max()), 0.01)
        # the gamma curve keeps air at -1 and the brightest value in place
        self.assertTrue(bool((changed[base == -1] == -1).all()))
        self.assertAlmostEqual(float(changed.max()), float(base.max()), places=4)

    def test_training_crops_are_windows_of_the_fitted_image(self):
        patch = image_file_training_transforms(image_size=256, flip_prob=0.0, crop_size=64)(
            {"image": str(self.files["grey"])}
        )
        self.assertEqual(tuple(patch["image"].shape), (1, 64, 64))
        base = torch.arange(32 * 32.0).reshape(1, 32, 32)  # every pixel value is its own position
        crop = Compose(augmentations(["image"], flip_prob=0.0, crop_size=8)).set_random_state(3)
        corners = set()
        for _ in range(6):
            window = crop({"image": base.clone()})["image"]
            x, y = divmod(int(window[0, 0, 0]), 32)
            self.assertTrue(torch.equal(torch.as_tensor(window), base[:, x : x + 8, y : y + 8]))
            corners.add((x, y))
        self.assertGreater(len(corners), 1)


class TestPublicSlices(unittest.TestCase):
    def test_shared_slice_loads_at_its_size(self):
        path = next((shared_data("capstone_t1t2") / "Tr1" / "TrainT1").glob("*.png"))
        image = image_file_preprocessing(image_size=256)({"image": str(path)})["image"]
        self.assertEqual(tuple(image.shape), (1, 256, 256))
        self.assertEqual(int((image > -1).any(dim=1).sum()), 217)  # the 217 rows fit without shrinking


class TestModelSpacing(unittest.TestCase):
    def test_spacing(self):
        self.assertEqual(model_spacing(256), (1.0, 1.0, 1.0))
        self.assertEqual(model_spacing(64, fov_mm=240.0), (3.75, 3.75, 3.75))
        with self.assertRaises(ValueError):
            model_spacing(0)

    @parameterized.expand(
        [
            ({"image_size": "abc"}, "image_size must be a positive integer, got 'abc'"),
            ({"image_size": 64.0}, "image_size must be a positive integer, got 64.0"),
            ({"image_size": 64, "fov_mm": "big"}, "fov_mm must be a positive number of millimetres, got 'big'"),
            ({"image_size": 64, "fov_mm": float("nan")}, "fov_mm must be a positive number"),
        ]
    )
    def test_mistyped_settings_are_named(self, settings, message):
        """A mistyped bundle override (``--image_size abc``) names the setting instead of failing on ``str <= int``."""
        with self.assertRaisesRegex(ValueError, message):
            model_spacing(**settings)
        if "fov_mm" not in settings:
            with self.assertRaisesRegex(ValueError, message):
                image_file_preprocessing(**settings)


if __name__ == "__main__":
    unittest.main()
