"""Unpaired T1 <-> T2 brain MRI translation with CycleGAN, as a MONAI toolkit extension."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
