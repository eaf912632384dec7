from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import torch
from monai.inferers import SliceInferer

from monai_cyclegan.bundle import (
    autocast_kwargs,
    load_generator,
    place_network,
    translation_inferer,
)
from monai_cyclegan.inferers import AutocastInferer
from monai_cyclegan.networks import UNetGenerator
from tests.unsafe_checkpoint import write_code_running_checkpoint


class TestLoadGenerator(unittest.TestCase):
    def test_weights_that_would_run_code_are_refused(self):
        network = UNetGenerator(image_size=32, ngf=4)
        with tempfile.TemporaryDirectory() as tmp:
            marker = Path(tmp) / "code-ran"
            write_code_running_checkpoint(Path(tmp) / "model.pt", marker, network.state_dict())
            with self.assertRaisesRegex(RuntimeError, r"model\.pt: refused, it holds a pickled object"):
                load_generator(network, tmp, "t1_to_t2", "cpu")
            self.assertFalse(marker.exists())

    def test_a_truncated_weights_file_names_the_file(self):
        network = UNetGenerator(image_size=32, ngf=4)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model_t2_to_t1.pt"
            torch.save(network.state_dict(), path)
            path.write_bytes(path.read_bytes()[:1000])
            with self.assertRaisesRegex(RuntimeError, r"model_t2_to_t1\.pt: cannot be read, it is truncated"):
                load_generator(network, tmp, "t2_to_t1", "cpu")


class TestAutocastKwargs(unittest.TestCase):
    def test_names_and_the_device_default(self):
        self.assertEqual(autocast_kwargs(""), {})
        self.assertEqual(autocast_kwargs("bfloat16"), {"dtype": torch.bfloat16})
        self.assertEqual(autocast_kwargs("float16"), {"dtype": torch.float16})

    def test_other_names_are_refused(self):
        with self.assertRaisesRegex(ValueError, r"amp_dtype must be one of \['', 'bfloat16', 'float16'\], got 'bf16'"):
            autocast_kwargs("bf16")


class TestPlaceNetwork(unittest.TestCase):
    def test_channels_last_weights_same_output(self):
        torch.manual_seed(0)
        g = UNetGenerator(image_size=16, ngf=4).eval()
        x = torch.rand(2, 1, 16, 16)
        expected = g(x)
        placed = place_network(g, "cpu", channels_last=True)
        self.assertIs(placed, g)
        self.assertTrue(g.model.model[0].weight.is_contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(placed(x), expected, rtol=1e-4, atol=1e-5)

    def test_compiled_in_place_keeps_the_plain_state_dict(self):
        torch.manual_seed(0)
        g = UNetGenerator(image_size=16, ngf=4).eval()
        keys = list(g.state_dict())
        x = torch.rand(2, 1, 16, 16)
        expected = g(x)
        placed = place_network(g, "cpu", compile=True, compile_backend="aot_eager")
        self.assertEqual(list(placed.state_dict()), keys)  # no "_orig_mod." prefix: checkpoints load into a bare one
        torch.testing.assert_close(placed(x), expected)
        self.assertIsNotNone(placed._compiled_call_impl)  # the forward really goes through torch.compile

    def test_phase_convolutions_keep_the_output_and_the_state_dict(self):
        torch.manual_seed(0)
        g = UNetGenerator(image_size=16, ngf=4).eval()
        state = {k: v.clone() for k, v in g.state_dict().items()}
        x = torch.rand(2, 1, 16, 16)
        expected = g(x)
        placed = place_network(g, "cpu", phase_convolutions="true")
        self.assertIs(placed, g)
        self.assertFalse(any(type(m) is torch.nn.ConvTranspose2d for m in g.modules()))
        torch.testing.assert_close(placed.state_dict(), state, rtol=0.0, atol=0.0)
        torch.testing.assert_close(placed(x), expected, rtol=1e-4, atol=1e-5)


class TestAutocastInferer(unittest.TestCase):
    def test_the_network_runs_in_bf16_and_the_output_is_float32_close_to_fp32(self):
        torch.manual_seed(0)
        network = UNetGenerator(image_size=32, ngf=4).eval()
        seen = []
        network.register_forward_hook(lambda module, args, output: seen.append(output.dtype))
        volume = torch.rand(1, 1, 32, 32, 6) * 2 - 1
        with torch.no_grad():
            exact = translation_inferer("volume", 32, 4)(volume, network)
            fast = translation_inferer("volume", 32, 4, amp=True)(volume, network)
        self.assertEqual(seen, [torch.float32, torch.float32, torch.bfloat16, torch.bfloat16])  # 6 slices, 4 a batch
        self.assertEqual(fast.dtype, torch.float32)
        self.assertEqual(fast.shape, exact.shape)
        self.assertLess(float((fast - exact).abs().max()), 0.05)

    def test_wraps_the_inferer_of_the_input_kind(self):
        inferer = translation_inferer("volume", 32, 4, amp=True)
        self.assertIsInstance(inferer, AutocastInferer)
        self.assertIsInstance(inferer.inferer, SliceInferer)


if __name__ == "__main__":
    unittest.main()
