"""MR signal model of the phantom: tissue relaxation times, IXI's two sequences and their signal equations.

Relaxation times and proton densities are literature values at 1.5 T (IXI was acquired mostly on 1.5 T Philips
scanners):

* white / grey matter: Stanisz et al., "T1, T2 relaxation and magnetization transfer in tissue at 3T",
  Magn Reson Med 54:507-512 (2005), 1.5 T table: WM 884 / 72 ms, GM 1124 / 95 ms;
* subcutaneous fat and skeletal muscle: de Bazelaire et al., "MR imaging relaxation times of abdominal and pelvic
  tissues measured in vivo at 3.0 T", Radiology 230:652-659 (2004), 1.5 T values: fat 343 / 58 ms,
  muscle 1008 / 44 ms;
* CSF: T1 about 4 s (e.g. Rooney et al., Magn Reson Med 57:308-318 (2007)), T2 about 2 s;
* cortical bone: very low visible proton density and T2* well below 1 ms (e.g. Reichert et al.,
  Magn Reson Imaging 23:611-618 (2005));
* multiple-sclerosis lesions: T1, T2 and water content all raised above those of white matter (Larsson et al.,
  "Assessment of demyelination, edema, and gliosis by in vivo determination of T1 and T2 in the brain of patients
  with acute attack of multiple sclerosis", Magn Reson Med 11:337-348 (1989)). The values used here are assumed,
  chosen so that the lesion-to-white-matter contrast of both default sequences (T1w 0.58, T2w 2.08) is about that of the
  real MS patient in ``../shared/data/ljubljana_ms/patient19`` (0.61 and 2.09);
* scalp skin: no single in-vivo 1.5 T reference is used; muscle-like values are assumed.

See ``docs/phantom.md`` for the sequences, the measured contrasts and the limits of the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "IXI_T1_SEQUENCE",
    "IXI_T2_SEQUENCE",
    "SEQUENCE_RANGES",
    "TISSUE_PROPERTIES",
    "InversionPreparedGRE",
    "SpinEcho",
    "TissueProperties",
    "inversion_prepared_gre_signal",
    "random_sequences",
    "spin_echo_signal",
    "tissue_signals",
]


@dataclass(frozen=True)
class TissueProperties:
    """MR properties of one tissue at 1.5 T.

    Attributes:
        proton_density: visible proton density relative to CSF.
        t1_ms: longitudinal relaxation time.
        t2_ms: transverse relaxation time (also used as T2* for the short-TE gradient echo).
        tse_t2_ms: apparent T2 on a turbo spin echo when it differs from ``t2_ms`` (fat: J-coupling is broken up
            by the closely spaced refocusing pulses, so fat stays bright on TSE).
    """

    proton_density: float
    t1_ms: float
    t2_ms: float
    tse_t2_ms: float | None = None


TISSUE_PROPERTIES: dict[str, TissueProperties] = {
    "air": TissueProperties(0.0, 1.0, 1.0),
    "skin": TissueProperties(0.70, 950.0, 45.0),  # assumed, muscle-like
    "fat": TissueProperties(0.90, 343.0, 58.0, tse_t2_ms=150.0),  # de Bazelaire 2004; apparent TSE T2 assumed
    "skull": TissueProperties(0.05, 250.0, 0.5),  # cortical bone: T2* ~ 0.4-0.5 ms (Reichert 2005)
    "csf": TissueProperties(1.00, 4000.0, 2000.0),
    "gm": TissueProperties(0.80, 1124.0, 95.0),  # Stanisz 2005, 1.5 T
    "wm": TissueProperties(0.69, 884.0, 72.0),  # Stanisz 2005, 1.5 T
    "muscle": TissueProperties(0.72, 1008.0, 44.0),  # de Bazelaire 2004, 1.5 T
    "lesion": TissueProperties(0.78, 1300.0, 130.0),  # assumed, see the module docstring
    # Marrow of the diploe: assumed half fatty marrow, i.e. fat at half density.
    "marrow": TissueProperties(0.45, 343.0, 58.0, tse_t2_ms=150.0),
}


@dataclass(frozen=True)
class InversionPreparedGRE:
    """3D inversion-prepared spoiled gradient echo (MP-RAGE, Philips T1-TFE); times in ms, flip in degrees.

    Every shot is an inversion, a wait ``ti_ms``, a train of ``readout_pulses`` small-flip excitations ``tr_ms``
    apart, and a free recovery of ``recovery_ms`` before the next inversion. The centre of k-space is read by the
    first excitation of the train (low-high profile order).
    """

    tr_ms: float
    te_ms: float
    flip_deg: float
    ti_ms: float
    readout_pulses: int
    recovery_ms: float


@dataclass(frozen=True)
class SpinEcho:
    """(Turbo) spin echo; times in ms."""

    tr_ms: float
    te_ms: float


# IXI's published T1 readout (TR 9.81 ms, TE 4.6 ms, flip 8 deg, echo-train length 208). The inversion time and the
# recovery after the train are not published; they were chosen so that GM/WM is about 0.8 and CSF/WM about 0.17.
IXI_T1_SEQUENCE = InversionPreparedGRE(
    tr_ms=9.81, te_ms=4.6, flip_deg=8.0, ti_ms=950.0, readout_pulses=208, recovery_ms=750.0
)
IXI_T2_SEQUENCE = SpinEcho(tr_ms=5725.0, te_ms=100.0)  # IXI T2: turbo spin echo, TR 5725 ms, TE 100 ms

SEQUENCE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "t1": {
        "tr_ms": (8.5, 11.0),
        "te_ms": (3.5, 5.5),
        "flip_deg": (6.0, 10.0),
        "ti_ms": (920.0, 1000.0),
        "recovery_ms": (500.0, 800.0),
    },
    "t2": {"tr_ms": (4000.0, 7000.0), "te_ms": (80.0, 120.0)},
}
"""Uniform ranges of the sequence parameters drawn per subject when the sequences vary; within them, every draw
keeps WM > GM > CSF (T1w) and CSF > GM > WM (T2w), and lesions darker than WM in T1w and brighter in T2w."""


def inversion_prepared_gre_signal(
    proton_density: np.ndarray | float,
    t1_ms: np.ndarray | float,
    t2s_ms: np.ndarray | float,
    sequence: InversionPreparedGRE = IXI_T1_SEQUENCE,
) -> np.ndarray:
    """Magnitude signal of an inversion-prepared spoiled gradient echo in its periodic steady state.

    The longitudinal magnetisation ``A`` before each inversion repeats from shot to shot. The readout train drives
    the magnetisation towards the spoiled-GRE steady state ``M* = (1 - E1) / (1 - cos(a) E1)`` by a factor
    ``q = cos(a) E1`` per excitation (``E1 = exp(-TR/T1)``), so that, with ``Ei = exp(-TI/T1)`` and
    ``Er = exp(-recovery/T1)``::

        A = (1 - Er + Er (M* (1 - q^N) + q^N (1 - Ei))) / (1 + Er Ei q^N)
        S = PD sin(a) |1 - (1 + A) Ei| exp(-TE/T2*)

    Without readout saturation (``N = 0``) and with a long recovery this is the inversion recovery
    ``1 - 2 exp(-TI/T1)``.

    Args:
        proton_density: relative proton density.
        t1_ms: longitudinal relaxation time.
        t2s_ms: effective transverse relaxation time T2*.
        sequence: the sequence parameters.

    Returns:
        The signal, broadcast over the inputs.
    """
    t1 = np.asarray(t1_ms, dtype=np.float64)
    flip = math.radians(sequence.flip_deg)
    e1 = np.exp(-sequence.tr_ms / t1)
    q = math.cos(flip) * e1
    readout_steady_state = (1.0 - e1) / (1.0 - q)
    q_train = q**sequence.readout_pulses
    e_inversion = np.exp(-sequence.ti_ms / t1)
    e_recovery = np.exp(-sequence.recovery_ms / t1)
    after_train = readout_steady_state * (1.0 - q_train) + q_train * (1.0 - e_inversion)
    before_inversion = (1.0 - e_recovery + e_recovery * after_train) / (1.0 + e_recovery * e_inversion * q_train)
    centre = np.abs(1.0 - (1.0 + before_inversion) * e_inversion)
    return proton_density * math.sin(flip) * centre * np.exp(-sequence.te_ms / np.asarray(t2s_ms))


def spin_echo_signal(
    proton_density: np.ndarray | float,
    t1_ms: np.ndarray | float,
    t2_ms: np.ndarray | float,
    sequence: SpinEcho = IXI_T2_SEQUENCE,
) -> np.ndarray:
    """Spin echo signal ``S = PD (1 - exp(-TR/T1)) exp(-TE/T2)``.

    Args:
        proton_density: relative proton density.
        t1_ms: longitudinal relaxation time.
        t2_ms: transverse relaxation time (for a turbo spin echo, the apparent T2 on that sequence).
        sequence: the sequence parameters.

    Returns:
        The signal, broadcast over the inputs.
    """
    t1 = np.asarray(t1_ms, dtype=np.float64)
    return proton_density * (1.0 - np.exp(-sequence.tr_ms / t1)) * np.exp(-sequence.te_ms / np.asarray(t2_ms))


def tissue_signals(sequence: InversionPreparedGRE | SpinEcho) -> dict[str, float]:
    """Noiseless signal of every tissue of :data:`TISSUE_PROPERTIES` on one sequence, before receiver gain.

    Args:
        sequence: an inversion-prepared gradient echo (T1w) or a turbo spin echo (T2w).

    Returns:
        Signal per tissue name.

    Raises:
        TypeError: for another kind of sequence.
    """
    names = list(TISSUE_PROPERTIES)
    tissues = list(TISSUE_PROPERTIES.values())
    pd = np.array([t.proton_density for t in tissues])
    t1 = np.array([t.t1_ms for t in tissues])
    if isinstance(sequence, InversionPreparedGRE):
        signals = inversion_prepared_gre_signal(pd, t1, np.array([t.t2_ms for t in tissues]), sequence)
    elif isinstance(sequence, SpinEcho):
        signals = spin_echo_signal(pd, t1, np.array([t.tse_t2_ms or t.t2_ms for t in tissues]), sequence)
    else:
        raise TypeError(f"sequence must be an InversionPreparedGRE or a SpinEcho, got {type(sequence).__name__}")
    return {name: float(signal) for name, signal in zip(names, signals, strict=True)}


def random_sequences(rng: np.random.Generator) -> dict[str, InversionPreparedGRE | SpinEcho]:
    """One subject's T1w and T2w sequences, each parameter drawn uniformly from :data:`SEQUENCE_RANGES`.

    Parameters without a range (the echo-train length) keep IXI's value.
    """
    drawn = {}
    for contrast, protocol in (("t1", IXI_T1_SEQUENCE), ("t2", IXI_T2_SEQUENCE)):
        values = {f.name: getattr(protocol, f.name) for f in fields(protocol)}
        values.update({name: float(rng.uniform(*bounds)) for name, bounds in SEQUENCE_RANGES[contrast].items()})
        drawn[contrast] = type(protocol)(**values)
    return drawn
