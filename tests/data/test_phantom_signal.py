"""Tests of the phantom's MR signal model (monai_cyclegan.data.phantom.signal): known answers and contrast order."""

from __future__ import annotations

import dataclasses
import itertools
import math
import unittest

import numpy as np
from parameterized import parameterized

from monai_cyclegan.data.phantom.signal import (
    IXI_T1_SEQUENCE,
    IXI_T2_SEQUENCE,
    SEQUENCE_RANGES,
    InversionPreparedGRE,
    SpinEcho,
    inversion_prepared_gre_signal,
    random_sequences,
    spin_echo_signal,
    tissue_signals,
)


def corners(protocol: InversionPreparedGRE | SpinEcho, contrast: str) -> list[InversionPreparedGRE | SpinEcho]:
    """The protocol with its ranged parameters at every combination of their bounds."""
    ranges = SEQUENCE_RANGES[contrast]
    return [
        dataclasses.replace(protocol, **dict(zip(ranges, values, strict=True)))
        for values in itertools.product(*ranges.values())
    ]


T1_SEQUENCES = [("ixi", IXI_T1_SEQUENCE)] + [(f"corner_{i}", s) for i, s in enumerate(corners(IXI_T1_SEQUENCE, "t1"))]
T2_SEQUENCES = [("ixi", IXI_T2_SEQUENCE)] + [(f"corner_{i}", s) for i, s in enumerate(corners(IXI_T2_SEQUENCE, "t2"))]


class TestSignalEquations(unittest.TestCase):
    def test_spin_echo_known_answer(self):
        sequence = SpinEcho(tr_ms=1000.0, te_ms=50.0)
        self.assertAlmostEqual(float(spin_echo_signal(0.5, 1000.0, 50.0, sequence)), 0.5 * (1 - math.exp(-1)) / math.e)

    def test_inversion_recovery_limit(self):
        # No readout saturation and full recovery: the classic inversion recovery |1 - 2 exp(-TI/T1)|.
        sequence = InversionPreparedGRE(
            tr_ms=10.0, te_ms=5.0, flip_deg=30.0, ti_ms=400.0, readout_pulses=0, recovery_ms=1e6
        )
        expected = 0.8 * 0.5 * abs(1 - 2 * math.exp(-400.0 / 800.0)) * math.exp(-5.0 / 50.0)
        self.assertAlmostEqual(float(inversion_prepared_gre_signal(0.8, 800.0, 50.0, sequence)), expected)

    def test_readout_train_drives_to_the_spoiled_steady_state(self):
        # A train long enough to forget the inversion leaves the steady state of the spoiled gradient echo.
        sequence = dataclasses.replace(IXI_T1_SEQUENCE, readout_pulses=20000, recovery_ms=0.0, ti_ms=0.0)
        flip, e1 = math.radians(sequence.flip_deg), math.exp(-sequence.tr_ms / 900.0)
        steady = (1 - e1) / (1 - math.cos(flip) * e1)
        # After an instantaneous inversion of M* the first echo sees -M*: the magnitude is the same.
        expected = math.sin(flip) * steady * math.exp(-sequence.te_ms / 60.0)
        self.assertAlmostEqual(float(inversion_prepared_gre_signal(1.0, 900.0, 60.0, sequence)), expected, places=6)

    def test_unknown_sequence_raises(self):
        with self.assertRaisesRegex(TypeError, "sequence"):
            tissue_signals("flair")


class TestTissueContrast(unittest.TestCase):
    @parameterized.expand(T1_SEQUENCES)
    def test_t1w_order(self, _, sequence):
        s = tissue_signals(sequence)
        self.assertGreater(s["wm"], s["gm"])
        self.assertLess(s["csf"], 0.75 * s["gm"])  # CSF clearly darker than grey matter
        self.assertLess(s["lesion"], 0.85 * s["wm"])  # lesions dark in T1w
        self.assertEqual(s["air"], 0.0)
        self.assertLess(s["skull"], 1e-3 * s["wm"])

    @parameterized.expand(T2_SEQUENCES)
    def test_t2w_order(self, _, sequence):
        s = tissue_signals(sequence)
        self.assertGreater(s["csf"], 1.5 * s["gm"])
        self.assertGreater(s["gm"], 1.2 * s["wm"])
        self.assertGreater(s["lesion"], 1.5 * s["wm"])  # lesions bright in T2w
        self.assertGreater(s["fat"], s["gm"])  # apparent fat T2 on a turbo spin echo
        self.assertLess(s["skull"], 1e-3 * s["wm"])

    def test_lesion_contrast_matches_the_real_patient(self):
        # The module claims lesion/WM 0.58 (T1w) and 2.08 (T2w), near the Ljubljana MS patient 19 (0.61, 2.09).
        t1, t2 = tissue_signals(IXI_T1_SEQUENCE), tissue_signals(IXI_T2_SEQUENCE)
        self.assertAlmostEqual(t1["lesion"] / t1["wm"], 0.58, delta=0.01)
        self.assertAlmostEqual(t2["lesion"] / t2["wm"], 2.08, delta=0.01)


class TestRandomSequences(unittest.TestCase):
    def test_parameters_within_ranges_and_seeded(self):
        first = random_sequences(np.random.default_rng(3))
        self.assertEqual(first, random_sequences(np.random.default_rng(3)))
        self.assertNotEqual(first, random_sequences(np.random.default_rng(4)))
        for contrast, sequence in first.items():
            for name, (low, high) in SEQUENCE_RANGES[contrast].items():
                self.assertTrue(low <= getattr(sequence, name) <= high, (contrast, name))
        self.assertEqual(first["t1"].readout_pulses, IXI_T1_SEQUENCE.readout_pulses)
        self.assertIsInstance(first["t2"], SpinEcho)


if __name__ == "__main__":
    unittest.main()
