from __future__ import annotations

import contextlib
import csv
import io
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.data import DataLoader, MetaTensor
from monai.inferers import SimpleInferer
from PIL import Image

from monai_cyclegan.files import save_volume
from monai_cyclegan.translation import (
    RECORD_KEY,
    REPORT_NAME,
    TranslationDataset,
    TranslationEvaluator,
    TranslationFailedError,
    TranslationRecord,
    TranslationReport,
    collate_translation,
    describe_error,
    output_is_complete,
)

AFFINE = np.diag([-2.0, 1.5, 3.0, 1.0])


def _load(item: dict) -> dict:
    """A stand-in preprocessing: the file's first byte as a 1x2x2 image, or the error the file names."""
    path = Path(item["image"])
    text = path.read_text()
    if text.startswith("bad"):
        raise ValueError(f"{path}: {text}")
    return {"image": MetaTensor(torch.full((1, 2, 2), float(len(text))), meta={"filename_or_obj": str(path)})}


def _output(source: str) -> Path:
    return Path(source).with_suffix(".out")


class TestRecordsAndErrors(unittest.TestCase):
    def test_describe_error_names_the_file_once(self):
        own = ValueError("/in/a.nii.gz: the volume holds NaN or infinite voxels.")
        wrapped = RuntimeError("applying transform <object at 0x1>")
        wrapped.__cause__ = own
        self.assertEqual(describe_error(wrapped, "/in/a.nii.gz"), str(own))
        other = RuntimeError("out of memory\n  while allocating")
        self.assertEqual(
            describe_error(other, "/in/a.nii.gz"), "/in/a.nii.gz: RuntimeError: out of memory while allocating"
        )

    def test_failing_clears_the_output(self):
        record = TranslationRecord("/in/a.png", output="/out/a_synT2.png")
        record.fail(OSError("No space left on device"))
        self.assertEqual((record.status, record.output), ("failed", ""))
        self.assertEqual(record.error, "/in/a.png: OSError: No space left on device")


class TestOutputIsComplete(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        self.source = self.root / "in.nii.gz"
        save_volume(np.ones((6, 5, 4), np.int16), AFFINE, self.source)

    def tearDown(self):
        self._tmp.cleanup()

    def _output(self, shape=(6, 5, 4), affine=AFFINE, value=0.5) -> Path:
        path = self.root / "out.nii.gz"
        save_volume(np.full(shape, value, np.float32), affine, path)
        return path

    def test_a_volume_on_the_input_grid(self):
        self.assertEqual(output_is_complete(self.source, self._output()), (True, ""))

    def test_what_makes_a_volume_incomplete(self):
        shifted = AFFINE.copy()
        shifted[0, 3] = 1.0
        for output, reason in (
            (lambda: self._output(shape=(6, 5, 3)), r"shape \(6, 5, 3\) is not the input's \(6, 5, 4\)"),
            (lambda: self._output(affine=shifted), "affine is not the input's"),
            (lambda: self._output(value=np.nan), "NaN or infinite"),
        ):
            complete, why = output_is_complete(self.source, output())
            self.assertFalse(complete)
            self.assertRegex(why, reason)
        truncated = self._output()
        truncated.write_bytes(truncated.read_bytes()[:-40])
        complete, why = output_is_complete(self.source, truncated)
        self.assertFalse(complete)
        self.assertRegex(why, "it does not load")

    def test_png_outputs_by_size(self):
        Image.fromarray(np.zeros((7, 9), np.uint8)).save(self.root / "in.png")
        Image.fromarray(np.zeros((7, 9), np.uint8)).save(self.root / "good.png")
        Image.fromarray(np.zeros((8, 9), np.uint8)).save(self.root / "other.png")
        self.assertTrue(output_is_complete(self.root / "in.png", self.root / "good.png")[0])
        self.assertFalse(output_is_complete(self.root / "in.png", self.root / "other.png")[0])
        self.assertFalse(output_is_complete(self.root / "in.png", self.root / "missing.png")[0])


class TestTranslationDataset(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)
        for name, text in (("a", "xx"), ("b", "bad header"), ("c", "xxx")):
            (self.root / name).write_text(text)
        self.data = [{"image": str(self.root / n)} for n in "abc"]

    def tearDown(self):
        self._tmp.cleanup()

    def test_failures_become_records(self):
        items = list(TranslationDataset(self.data, _load, output_path=_output))
        self.assertEqual([i[RECORD_KEY].status for i in items], ["pending", "failed", "pending"])
        self.assertEqual(items[1][RECORD_KEY].error, f"{self.root / 'b'}: bad header")
        self.assertNotIn("image", items[1])
        self.assertEqual(items[0][RECORD_KEY].output, str(self.root / "a.out"))
        self.assertTrue(all(i[RECORD_KEY].seconds >= 0 for i in items))

    def test_skip_existing_needs_and_checks_the_output(self):
        with self.assertRaisesRegex(ValueError, "skip_existing needs output_path"):
            TranslationDataset(self.data, _load, skip_existing=True)
        (self.root / "a.out").write_text("done")
        checked = []

        def complete(source, output):
            checked.append(Path(output).name)
            return Path(output).read_text() == "done", ""

        with mock.patch("monai_cyclegan.translation.output_is_complete", complete):
            items = list(TranslationDataset(self.data, _load, output_path=_output, skip_existing=True))
        self.assertEqual([i[RECORD_KEY].status for i in items], ["skipped", "failed", "pending"])
        self.assertEqual(checked, ["a.out"])  # only existing outputs are checked
        self.assertEqual(set(items[0]), {RECORD_KEY})  # skipped without loading

    def test_collate_keeps_every_record_and_batches_the_rest(self):
        items = list(TranslationDataset(self.data, _load))
        batch = collate_translation(items)
        self.assertEqual([r.input for r in batch[RECORD_KEY]], [d["image"] for d in self.data])
        self.assertEqual(tuple(batch["image"].shape), (2, 1, 2, 2))  # a and c
        self.assertEqual(set(collate_translation(items[1:2])), {RECORD_KEY})


class _Network(torch.nn.Module):
    """Doubles its input; fails on inputs of value 4 (a file of four characters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x == 4).any()):
            raise RuntimeError("CUDA out of memory")
        return x * 2


class TestTranslationEvaluator(unittest.TestCase):
    def test_every_input_translated_or_recorded_and_the_run_goes_on(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            names = {"a": "xx", "b": "bad header", "c": "xxxx", "d": "xxx"}
            for name, text in names.items():
                (root / name).write_text(text)
            saved = []

            def save(data: dict) -> dict:
                saved.append((data["pred"].meta["filename_or_obj"], float(data["pred"].max())))
                return data

            dataset = TranslationDataset([{"image": str(root / n)} for n in names], _load, output_path=_output)
            report = TranslationReport(root / "out", print_summary=False)
            evaluator = TranslationEvaluator(
                device=torch.device("cpu"),
                val_data_loader=DataLoader(dataset, batch_size=1, collate_fn=collate_translation),
                network=_Network(),
                inferer=SimpleInferer(),
                postprocessing=save,
                val_handlers=[report],
            )
            evaluator.run()
            statuses = {Path(r.input).name: r.status for r in report.records}
            self.assertEqual(statuses, {"a": "translated", "b": "failed", "c": "failed", "d": "translated"})
            self.assertEqual(saved, [(str(root / "a"), 4.0), (str(root / "d"), 6.0)])
            self.assertEqual(report.records[2].error, f"{root / 'c'}: RuntimeError: CUDA out of memory")
            self.assertEqual(report.records[0].output, str(root / "a.out"))
            self.assertIsNone(evaluator.state.batch)  # nothing of the last input is kept
            with self.assertRaises(TranslationFailedError) as caught:
                report.raise_if_failed()
            lines = str(caught.exception).splitlines()
            self.assertEqual(lines[0], f"{root / 'b'}: bad header")
            self.assertEqual(lines[-1], f"2 of 4 input(s) failed; see {root / 'out' / REPORT_NAME}")


class TestTranslationReport(unittest.TestCase):
    def test_report_rows_summary_and_reset(self):
        with tempfile.TemporaryDirectory() as tmp:
            report = TranslationReport(tmp)
            engine = Engine(lambda engine, batch: {RECORD_KEY: [batch]})
            report.attach(engine)
            records = [
                TranslationRecord("/in/a.nii.gz", "/out/a_synT2.nii.gz", "translated", 2.5),
                TranslationRecord("/in/b.nii.gz", "/out/b_synT2.nii.gz", "skipped", 0.1),
                TranslationRecord("/in/c.nii.gz", "", "failed", 0.2, "/in/c.nii.gz: the volume is empty."),
            ]
            written = []
            engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: written.append(report.path.read_text()))
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                engine.run(records)
            self.assertEqual(len(written), 3)  # rewritten after every input
            with report.path.open() as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(list(rows[0]), ["input", "output", "status", "seconds", "error"])
            self.assertEqual([r["status"] for r in rows], ["translated", "skipped", "failed"])
            self.assertEqual(rows[0]["seconds"], "2.500")
            self.assertEqual(rows[2]["error"], "/in/c.nii.gz: the volume is empty.")
            summary = printed.getvalue()
            self.assertRegex(summary, r"1 translated, 1 skipped \(already complete\), 1 failed, of 3 input\(s\)")
            self.assertIn("  failed: /in/c.nii.gz: the volume is empty.", summary)
            engine.run(records[:2])
            self.assertEqual(len(report.records), 2)  # a new run starts a new report
            report.raise_if_failed()  # nothing failed


if __name__ == "__main__":
    unittest.main()
