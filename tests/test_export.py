from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from parameterized import parameterized

from monai_cyclegan.export import export_generator
from monai_cyclegan.networks import ResnetGenerator, UNetGenerator


def _networks():
    torch.manual_seed(0)
    return [("unet", UNetGenerator(image_size=32, ngf=4)), ("resnet", ResnetGenerator(ngf=4, n_blocks=1))]


class TestExportGenerator(unittest.TestCase):
    @parameterized.expand([(f, n, net) for f in ("torchscript", "onnx") for n, net in _networks()])
    def test_export_matches_pytorch_at_any_batch_size(self, export_format, _, network):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / ("model.onnx" if export_format == "onnx" else "model.ts")
            difference = export_generator(network, out, export_format, image_size=32)
            self.assertLess(difference, 1e-4)
            x = torch.rand(5, 1, 32, 32) * 2 - 1  # a batch size the export never saw
            with torch.no_grad():
                expected = network.eval()(x).numpy()
            if export_format == "torchscript":
                result = torch.jit.load(str(out))(x).detach().numpy()
            else:
                session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
                result = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
            np.testing.assert_allclose(result, expected, atol=1e-4)
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()), [out.name])  # no temporary file left

    def test_an_export_that_differs_is_not_kept(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "model.ts"
            with self.assertRaisesRegex(ValueError, r"model\.ts: the torchscript model differs .* not written"):
                export_generator(UNetGenerator(image_size=32, ngf=4), out, "torchscript", 32, atol=-1.0)
            self.assertEqual(list(Path(tmp).iterdir()), [])

    def test_unknown_format(self):
        with self.assertRaisesRegex(ValueError, "format must be one of"):
            export_generator(UNetGenerator(image_size=32, ngf=4), "x.bin", "tflite", 32)


if __name__ == "__main__":
    unittest.main()
