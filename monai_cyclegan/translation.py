"""Translating a folder: each input translated or refused on its own, a report of every one, finished ones skipped.

MONAI's ``Dataset`` raises when a file does not load and its ``SupervisedEvaluator`` stops at the first error, so one
bad scan in a folder of hundreds ends the run. Here:

* :class:`TranslationDataset` turns a failure to load or prepare an input into a record of it, and, with
  ``skip_existing``, an input whose output is already there and complete (:func:`output_is_complete`) into a skip,
  without loading it;
* :func:`collate_translation` batches the inputs that loaded and keeps every record;
* :class:`TranslationEvaluator` (a ``SupervisedEvaluator``) translates and saves each loaded input, and records an
  error of the network, the inversion or the saving against that input instead of stopping;
* :class:`TranslationReport`, a handler, writes ``translation_report.csv`` (input, output, status, seconds, error)
  after every input, prints a summary at the end, and :meth:`TranslationReport.raise_if_failed` makes the run fail
  (a non-zero exit) when any input failed.

Outputs are written under a temporary name and renamed when complete (``AtomicSaveImaged``), so a failed input
leaves nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from ignite.engine import Engine, Events
from monai.data import Dataset, list_data_collate
from monai.engines import SupervisedEvaluator
from monai.utils import MetaKeys
from PIL import Image

from monai_cyclegan.checks import as_bool
from monai_cyclegan.data.inputs import file_kind
from monai_cyclegan.errors import root_cause
from monai_cyclegan.files import write_csv

__all__ = [
    "FAILED",
    "PENDING",
    "RECORD_KEY",
    "REPORT_NAME",
    "SKIPPED",
    "STATUSES",
    "TRANSLATED",
    "TranslationDataset",
    "TranslationEvaluator",
    "TranslationFailedError",
    "TranslationRecord",
    "TranslationReport",
    "collate_translation",
    "describe_error",
    "output_is_complete",
]

RECORD_KEY = "translation"
REPORT_NAME = "translation_report.csv"
PENDING, TRANSLATED, SKIPPED, FAILED = "pending", "translated", "skipped", "failed"
# The statuses of a finished input: translated now, skipped (its complete output was already there), or failed.
STATUSES = (TRANSLATED, SKIPPED, FAILED)
# How much an existing output's affine may differ from its input's and still count as the same grid (mm).
_AFFINE_ATOL = 1e-4


@dataclass
class TranslationRecord:
    """What became of one input: a row of ``translation_report.csv``.

    Attributes:
        input: the input file.
        output: the output file (empty when none was written).
        status: one of :data:`STATUSES` (``"pending"`` until it is decided).
        seconds: wall time spent on it: loading, preparing, translating, saving (or checking an existing output).
        error: why it failed, naming the file; empty otherwise.
    """

    input: str
    output: str = ""
    status: str = PENDING
    seconds: float = 0.0
    error: str = ""

    def fail(self, error: BaseException) -> None:
        """Mark the input failed with ``error`` (see :func:`describe_error`); the output, if any, is not its."""
        self.status, self.output, self.error = FAILED, "", describe_error(error, self.input)


def describe_error(error: BaseException, source: str) -> str:
    """A one-line message for ``error`` that names ``source``.

    MONAI's wrappers are removed (:func:`~monai_cyclegan.errors.root_cause`); the package's own errors about a file
    already start with its name, others get it and their type in front.
    """
    cause = root_cause(error)
    message = " ".join(str(cause).split())
    if isinstance(cause, ValueError | OSError) and message.startswith(source):
        return message
    return f"{source}: {type(cause).__name__}: {message}"


def output_is_complete(source: str | Path, output: str | Path) -> tuple[bool, str]:
    """Whether ``output`` is a complete translation of ``source``, as far as the files tell.

    A NIfTI output must load with every voxel (a truncated ``.nii.gz`` fails there), be finite and lie on the input's
    grid: the input's 3 spatial dimensions and its affine within 1e-4 mm. A PNG/JPEG output must decode whole at the
    input's size.

    Returns:
        ``(complete, reason)``: the reason says what is wrong when it is not complete.
    """
    try:
        if file_kind(source) == "volume":
            expected, result = nib.load(str(source)), nib.load(str(output))
            if result.shape != tuple(expected.shape[:3]):
                return False, f"its shape {result.shape} is not the input's {expected.shape[:3]}"
            if not np.allclose(result.affine, expected.affine, atol=_AFFINE_ATOL):
                return False, "its affine is not the input's"
            if not np.isfinite(np.asanyarray(result.dataobj)).all():
                return False, "it holds NaN or infinite voxels"
            return True, ""
        with Image.open(source) as expected, Image.open(output) as result:
            result.load()
            if result.size != expected.size:
                return False, f"its size {result.size} is not the input's {expected.size}"
        return True, ""
    except Exception as e:  # noqa: BLE001 - any failure to read it means it is not complete
        return False, f"it does not load ({type(e).__name__}: {' '.join(str(e).split())})"


class TranslationDataset(Dataset):
    """``monai.data.Dataset`` of translation inputs whose items carry a :class:`TranslationRecord` and never raise.

    An item is the prepared input with its record (status ``"pending"``) under :data:`RECORD_KEY`; an input that
    fails to load or prepare becomes an item with only its failed record; with ``skip_existing``, an input whose
    output is already complete becomes an item with only a skipped record, and is not loaded.

    Args:
        data: ``[{"image": path}, ...]`` (:func:`~monai_cyclegan.data.list_inference_inputs`).
        transform: the preprocessing.
        output_path: maps an input file to its output file (``AtomicSaveImaged.output_path``); needed for
            ``skip_existing``.
        skip_existing: skip inputs whose output exists and is complete (:func:`output_is_complete`); an incomplete
            one is translated again and replaced.
        key: the key of the input file in ``data``.

    Raises:
        ValueError: when ``skip_existing`` is set without ``output_path``.
    """

    def __init__(
        self,
        data: Sequence[dict[str, Any]],
        transform: Callable | None = None,
        output_path: Callable[[str], Path] | None = None,
        skip_existing: bool | str = False,
        key: str = "image",
    ) -> None:
        if as_bool("skip_existing", skip_existing) and output_path is None:
            raise ValueError("skip_existing needs output_path to find the outputs of earlier runs.")
        super().__init__(data, transform)
        self.output_path = output_path
        self.skip_existing = as_bool("skip_existing", skip_existing)
        self.key = key

    def _transform(self, index: int) -> dict[str, Any]:
        start = time.perf_counter()
        source = str(self.data[index][self.key])
        record = TranslationRecord(source)
        if self.output_path is not None:
            output = Path(self.output_path(source))
            record.output = str(output)
            if self.skip_existing and output.is_file() and output_is_complete(source, output)[0]:
                record.status = SKIPPED
                record.seconds = time.perf_counter() - start
                return {RECORD_KEY: record}
        try:
            item = dict(super()._transform(index))
        except Exception as e:  # noqa: BLE001 - every failure of one input is recorded against it
            record.fail(e)
            item = {}
        record.seconds = time.perf_counter() - start
        item[RECORD_KEY] = record
        return item


def collate_translation(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``collate_fn`` of a :class:`TranslationDataset`: MONAI's collation of the pending inputs, plus every record.

    Returns:
        The collated pending items (none: no other key), and under :data:`RECORD_KEY` the list of all records of the
        batch, in order.
    """
    records = [item[RECORD_KEY] for item in batch]
    pending = [
        {k: v for k, v in item.items() if k != RECORD_KEY} for item in batch if item[RECORD_KEY].status == PENDING
    ]
    collated = list_data_collate(pending) if pending else {}
    collated[RECORD_KEY] = records
    return collated


class TranslationEvaluator(SupervisedEvaluator):
    """``SupervisedEvaluator`` that translates each input of a :class:`TranslationDataset` or records why not.

    Inputs that already failed or were skipped in the dataset do not reach the network. For the others, the usual
    iteration runs (the inferer, then the postprocessing that inverts and saves); an exception in it marks the batch's
    inputs failed instead of stopping the run. Each iteration's output is replaced by ``{RECORD_KEY: records}``, and
    the batch is dropped, so that the volumes of one input are freed before the next one loads. Arguments are those of
    ``SupervisedEvaluator``; its data loader needs ``collate_fn=collate_translation``.
    """

    def _iteration(self, engine: SupervisedEvaluator, batchdata: dict[str, Any]) -> dict[str, Any]:
        records: list[TranslationRecord] = batchdata[RECORD_KEY]
        pending = [r for r in records if r.status == PENDING]
        if pending:
            start = time.perf_counter()
            try:
                # without the records, which MONAI's decollation of the batch after the network cannot split
                engine.state.batch = {k: v for k, v in batchdata.items() if k != RECORD_KEY}
                super()._iteration(engine, engine.state.batch)
                outputs = engine.state.output if isinstance(engine.state.output, list) else [engine.state.output]
                for record, output in zip(pending, outputs, strict=True):
                    meta = getattr(output.get("pred"), "meta", {})
                    record.status, record.output = TRANSLATED, str(meta.get(MetaKeys.SAVED_TO, record.output))
            except Exception as e:  # noqa: BLE001 - every failure of one input is recorded against it
                for record in pending:
                    record.fail(e)
            for record in pending:
                record.seconds += time.perf_counter() - start
        engine.state.output = {RECORD_KEY: records}
        engine.state.batch = None
        return engine.state.output


class TranslationFailedError(RuntimeError):
    """Some inputs of a translation run failed; the message lists them (each names its file) and the report."""


class TranslationReport:
    """Handler that keeps the :class:`TranslationRecord` of every input, writes them as CSV and sums them up.

    ``translation_report.csv`` (columns :func:`TranslationRecord` fields: input, output, status, seconds, error) is
    rewritten atomically after every input, so an interrupted run leaves a report of what it finished. At the end of
    the run a summary is printed: how many inputs were translated, skipped and failed, the volumes per minute, and
    each failure.

    Args:
        output_dir: where the report goes (the translation's output folder).
        filename: the report's file name.
        print_summary: print the summary when the run completes.
        output_transform: maps the engine's output to the list of records of the iteration.
    """

    def __init__(
        self,
        output_dir: str | Path,
        filename: str = REPORT_NAME,
        print_summary: bool = True,
        output_transform: Callable[[Any], list[TranslationRecord]] = lambda output: output[RECORD_KEY],
    ) -> None:
        self.path = Path(output_dir) / filename
        self.print_summary = print_summary
        self.output_transform = output_transform
        self.records: list[TranslationRecord] = []
        self.started = time.perf_counter()
        self.seconds = 0.0

    def attach(self, engine: Engine) -> None:
        """Collect records after every iteration and sum them up when the run completes."""
        engine.add_event_handler(Events.STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self)
        engine.add_event_handler(Events.COMPLETED, self.completed)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the records of an earlier run."""
        self.records = []
        self.started = time.perf_counter()
        self.seconds = 0.0

    def __call__(self, engine: Engine) -> None:
        """Add the iteration's records and rewrite the report."""
        self.records.extend(self.output_transform(engine.state.output))
        self.seconds = time.perf_counter() - self.started
        self.write()

    def completed(self, engine: Engine) -> None:
        """Write the report and print the summary."""
        self.seconds = time.perf_counter() - self.started
        self.write()
        if self.print_summary:
            print(self.summary(), flush=True)

    def count(self, status: str) -> int:
        """How many inputs ended with ``status``."""
        return sum(r.status == status for r in self.records)

    @property
    def failures(self) -> list[TranslationRecord]:
        """The records of the inputs that failed."""
        return [r for r in self.records if r.status == FAILED]

    def write(self) -> Path:
        """Write the records to the report, atomically; returns its path."""
        rows = [{**asdict(record), "seconds": f"{record.seconds:.3f}"} for record in self.records]
        return write_csv(self.path, rows, [f.name for f in fields(TranslationRecord)])

    def summary(self) -> str:
        """The counts, the rate and each failure, as printed at the end of the run."""
        done = self.count(TRANSLATED)
        rate = f", {60 * done / self.seconds:.1f} per minute" if done and self.seconds > 0 else ""
        lines = [
            f"translation: {done} translated, {self.count(SKIPPED)} skipped (already complete), "
            f"{self.count(FAILED)} failed, of {len(self.records)} input(s) in {self.seconds:.1f} s{rate}; "
            f"report: {self.path}"
        ]
        lines += [f"  failed: {r.error}" for r in self.failures]
        return "\n".join(lines)

    def raise_if_failed(self, limit: int = 10) -> None:
        """Raise :class:`TranslationFailedError` when any input failed, listing up to ``limit`` of them.

        The message starts with the first failure, ``"<file>: <problem>"``, and ends with the count and the report.
        """
        failures = self.failures
        if not failures:
            return
        lines = [r.error for r in failures[:limit]]
        if len(failures) > limit:
            lines.append(f"... and {len(failures) - limit} more")
        lines.append(f"{len(failures)} of {len(self.records)} input(s) failed; see {self.path}")
        raise TranslationFailedError("\n".join(lines))
