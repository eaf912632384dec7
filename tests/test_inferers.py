from __future__ import annotations

import unittest

import torch
from monai.bundle import ConfigParser
from monai.inferers import SimpleInferer, SliceInferer
from parameterized import parameterized

from monai_cyclegan.bundle import bundle_dir, translation_inferer
from monai_cyclegan.inferers import (
    BACKGROUND,
    AutocastInferer,
    FlipShiftEnsembleInferer,
    ForegroundSliceInferer,
    head_slices,
)
from monai_cyclegan.networks import ResnetGenerator, UNetGenerator


def _head(shape: tuple[int, int, int], box: tuple[slice, slice, slice], seed: int = 0) -> torch.Tensor:
    """A volume (1, 1, *shape) of air (-1) with a textured box of tissue in [-0.5, 1] at ``box``."""
    generator = torch.Generator().manual_seed(seed)
    volume = torch.full((1, 1, *shape), BACKGROUND)
    inside = volume[0, 0][box]
    volume[0, 0][box] = torch.rand(inside.shape, generator=generator) * 1.5 - 0.5
    return volume


class _Counting(torch.nn.Module):
    """A network that records the shape of every batch it sees."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return self.network(x)


class TestHeadSlices(unittest.TestCase):
    def test_slices_with_foreground_in_chunks(self):
        volume = _head((10, 12, 40), (slice(2, 5), slice(3, 9), slice(17, 35)))[0]
        slices = head_slices(volume, chunk=7)  # chunks that do not divide the slices
        self.assertEqual(slices.nonzero().flatten().tolist(), list(range(17, 35)))
        self.assertFalse(bool(head_slices(torch.full((2, 4, 4, 9), BACKGROUND)).any()))


class TestForegroundSliceInferer(unittest.TestCase):
    @parameterized.expand(
        [
            ("smaller than the window", (24, 28, 30), "unet"),  # padded to 32 x 32 as SliceInferer pads
            ("larger than the window", (40, 36, 30), "unet"),  # several windows per slice, blended as SliceInferer does
            # instance normalisation sees the whole padded slice, air included, as with SliceInferer: no crop
            ("resnet, head smaller than the slice", (32, 32, 30), "resnet"),
        ]
    )
    def test_kept_slices_match_slice_inferer_and_the_rest_is_air(self, _, shape, kind):
        torch.manual_seed(0)
        generator = UNetGenerator(image_size=32, ngf=4) if kind == "unet" else ResnetGenerator(ngf=4, n_blocks=1)
        network = _Counting(generator.eval())
        volume = _head(shape, (slice(4, 20), slice(5, 22), slice(10, 21)))
        inferer = ForegroundSliceInferer((32, 32), sw_batch_size=4, slice_margin=1)
        with torch.no_grad():
            expected = SliceInferer(
                roi_size=(32, 32), sw_batch_size=4, spatial_dim=2, padding_mode="constant", cval=BACKGROUND
            )(volume, network)
            network.shapes.clear()
            result = inferer(volume, network)
        kept = list(range(9, 22))  # slices 10..20 and one on each side
        self.assertEqual(result.shape, volume.shape)
        torch.testing.assert_close(result[..., kept], expected[..., kept], rtol=0, atol=1e-5)
        others = [z for z in range(shape[2]) if z not in kept]
        self.assertTrue(bool((result[..., others] == BACKGROUND).all()))
        self.assertTrue(all(s[0] <= 4 and s[2:] == (32, 32) for s in network.shapes), network.shapes)

    def test_batches_of_kept_slices_only(self):
        network = _Counting(torch.nn.Identity())
        volume = _head((16, 16, 50), (slice(2, 14), slice(2, 14), slice(20, 30)))
        ForegroundSliceInferer((16, 16), sw_batch_size=4, slice_margin=0)(volume, network)
        self.assertEqual([s[0] for s in network.shapes], [4, 4, 2])  # 10 slices, 4 at a time

    def test_a_volume_without_foreground_never_reaches_the_network(self):
        network = _Counting(torch.nn.Identity())
        volume = torch.full((2, 1, 8, 8, 5), BACKGROUND)
        result = ForegroundSliceInferer((8, 8))(volume, network)
        self.assertEqual(network.shapes, [])
        self.assertTrue(bool((result == BACKGROUND).all()) and result.shape == volume.shape)

    def test_each_volume_of_a_batch_on_its_own(self):
        volume = torch.cat(
            [
                _head((8, 8, 6), (slice(0, 8), slice(0, 8), slice(0, 2))),
                _head((8, 8, 6), (slice(0, 8),) * 2 + (slice(4, 6),)),
            ]
        )
        result = ForegroundSliceInferer((8, 8), slice_margin=0)(volume, torch.nn.Identity())
        torch.testing.assert_close(result, volume)

    def test_settings_are_checked(self):
        with self.assertRaisesRegex(ValueError, "roi_size must be a positive integer"):
            ForegroundSliceInferer((8, 0))
        with self.assertRaisesRegex(ValueError, "sw_batch_size must be a positive integer"):
            ForegroundSliceInferer((8, 8), sw_batch_size=0)
        with self.assertRaisesRegex(ValueError, "slice_margin must be an integer >= 0"):
            ForegroundSliceInferer((8, 8), slice_margin=-1)
        with self.assertRaisesRegex(ValueError, r"expects volumes \(B, C, X, Y, Z\)"):
            ForegroundSliceInferer((8, 8))(torch.zeros(1, 1, 8, 8), torch.nn.Identity())


def _periodic_artefact(x: torch.Tensor) -> torch.Tensor:
    """A 'generator' that is exact except for a texture of period 4 along rows fixed to the pixel grid, as transposed
    convolutions of stride 2 leave: +0.1 on rows 0-1, -0.1 on rows 2-3, and so on."""
    rows = torch.arange(x.shape[-2])
    texture = torch.where((rows // 2) % 2 == 0, 0.1, -0.1)[:, None]
    return x + texture


class TestFlipShiftEnsembleInferer(unittest.TestCase):
    def test_the_grid_texture_averages_out_and_the_anatomy_stays_in_place(self):
        image = torch.rand(2, 1, 16, 12, generator=torch.Generator().manual_seed(0))
        plain = _periodic_artefact(image)
        self.assertGreater(float((plain - image).abs().max()), 0.09)
        ensemble = FlipShiftEnsembleInferer(SimpleInferer())(image, _periodic_artefact)
        # each view is shifted and flipped back before averaging: a wrong sign would move the image itself
        torch.testing.assert_close(ensemble, image)

    def test_an_equivariant_network_is_unchanged_and_costs_one_call_per_view(self):
        torch.manual_seed(0)
        network = _Counting(torch.nn.Conv2d(1, 1, 1))
        image = torch.rand(3, 1, 8, 8)
        with torch.no_grad():
            plain = network(image)
            ensemble = FlipShiftEnsembleInferer(SimpleInferer(), shifts=[(0, 0), (1, 3), (2, 2)])(image, network)
        torch.testing.assert_close(ensemble, plain)
        self.assertEqual(len(network.shapes), 1 + 6)

    def test_one_view_is_the_inner_inferer(self):
        image = torch.rand(1, 1, 8, 8)
        single = FlipShiftEnsembleInferer(SimpleInferer(), flip=False, shifts=[(0, 0)])
        self.assertEqual(single.views, 1)
        torch.testing.assert_close(single(image, _periodic_artefact), _periodic_artefact(image))

    def test_through_a_volume_inferer(self):
        volume = _head((16, 16, 6), (slice(3, 13), slice(4, 12), slice(1, 5)))
        inferer = translation_inferer("volume", 16, 4, tta=True)
        self.assertIsInstance(inferer, FlipShiftEnsembleInferer)
        torch.testing.assert_close(inferer(volume, _periodic_artefact), volume)

    @parameterized.expand([("empty", []), ("not_pairs", [(1, 2, 3)]), ("not_integers", [(0.5, 1)])])
    def test_shifts_are_checked(self, _, shifts):
        with self.assertRaisesRegex(ValueError, "shifts must be"):
            FlipShiftEnsembleInferer(SimpleInferer(), shifts=shifts)


class TestTranslationInferer(unittest.TestCase):
    def test_foreground_only_sends_whole_slices_or_windows(self):
        unet = translation_inferer("volume", 32, 4, foreground_only=True)
        self.assertEqual((unet.roi_size, unet.mode), ((32, 32), "constant"))
        # a generator trained on crops sees whole slices window by window
        windowed = translation_inferer("volume", 64, 4, window_size=32, foreground_only=True)
        self.assertEqual((windowed.roi_size, windowed.mode), ((32, 32), "gaussian"))
        self.assertIsInstance(translation_inferer("volume", 32, 4, amp=True, foreground_only=True), AutocastInferer)
        self.assertIsInstance(translation_inferer("volume", 32, 4), SliceInferer)  # the default stays MONAI's

    def test_the_bundle_sends_a_resnet_generator_whole_slices(self):
        """inference.json with the CPU preset's generator kind: each kept slice reaches the network whole, padded to
        the model size, and comes back as SliceInferer gives it (a crop to the head changes what instance
        normalisation computes: 2.4 to 3.0 dB on a real brain)."""
        parser = ConfigParser()
        parser.read_config(bundle_dir() / "configs" / "inference.json")
        parser.update(
            {
                "input_kind": "volume",
                "image_size": 64,
                "amp": False,
                "generator_def": {"_target_": "monai_cyclegan.networks.ResnetGenerator", "_mode_": "callable"},
            }
        )
        torch.manual_seed(0)
        network = _Counting(ResnetGenerator(ngf=4, n_blocks=1).eval())
        volume = _head((64, 64, 12), (slice(24, 36), slice(20, 30), slice(3, 9)))  # 12 x 10 of 64 x 64
        with torch.no_grad():
            result = parser.get_parsed_content("inferer")(volume, network)
            expected = SliceInferer(roi_size=(64, 64), spatial_dim=2, padding_mode="constant", cval=BACKGROUND)(
                volume, network
            )
        self.assertTrue(network.shapes and all(s[2:] == (64, 64) for s in network.shapes), network.shapes)
        torch.testing.assert_close(result[..., 2:10], expected[..., 2:10], rtol=0, atol=1e-5)

    def test_flags_from_the_bundle_command_line(self):
        """`python -m monai.bundle run ... --amp false` passes the string "false", which must not switch bf16 on."""
        self.assertIsInstance(translation_inferer("volume", 32, 4, amp="false", foreground_only="False"), SliceInferer)
        self.assertIsInstance(translation_inferer("volume", 32, 4, amp="true"), AutocastInferer)
        self.assertIsInstance(translation_inferer("slice", 32, 4, tta="false"), SimpleInferer)
        self.assertIsInstance(translation_inferer("slice", 32, 4, tta="true"), FlipShiftEnsembleInferer)
        with self.assertRaisesRegex(ValueError, "amp must be true or false, got 'no'"):
            translation_inferer("volume", 32, 4, amp="no")

    def test_bf16_through_the_foreground_inferer(self):
        torch.manual_seed(0)
        network = UNetGenerator(image_size=32, ngf=4).eval()
        volume = _head((30, 30, 8), (slice(5, 25), slice(5, 25), slice(2, 6)))
        with torch.no_grad():
            exact = translation_inferer("volume", 32, 4, foreground_only=True)(volume, network)
            fast = translation_inferer("volume", 32, 4, amp=True, foreground_only=True)(volume, network)
        self.assertEqual(fast.dtype, torch.float32)
        self.assertLess(float((fast - exact).abs().max()), 0.05)


if __name__ == "__main__":
    unittest.main()
