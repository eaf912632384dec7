"""Loss curves of a training run, read back from its TensorBoard logs, as PNG figures for results pages."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from monai_cyclegan.engines.cyclegan_trainer import CycleGANKeys as K
from monai_cyclegan.visualization import save_curves_png

__all__ = ["LOSS_FIGURES", "read_scalars", "save_loss_curves"]

# One figure per group of losses of comparable size (the trainer's CycleGANKeys).
LOSS_FIGURES = {
    "losses_generator": (K.G_ADV_A2B, K.G_ADV_B2A, K.CYCLE_A, K.CYCLE_B),
    "losses_discriminator": (K.D_A, K.D_B),
}


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[float, float]]]:
    """Every scalar series of the TensorBoard logs in ``log_dir``, as ``(step, value)`` points.

    Raises:
        ValueError: when ``log_dir`` holds no scalar.
    """
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}
    if not scalars:
        raise ValueError(f"{log_dir}: no TensorBoard scalars there (is it the training's tensorboard/ folder?).")
    return scalars


def save_loss_curves(log_dir: str | Path, output_dir: str | Path, smooth: int = 35) -> list[Path]:
    """Write ``losses_generator.png`` and ``losses_discriminator.png`` into ``output_dir``; returns their paths.

    Each curve is a moving average over ``smooth`` iterations (GAN losses jump from one iteration to the next).
    """
    scalars = read_scalars(log_dir)
    written = []
    for name, tags in LOSS_FIGURES.items():
        curves = {tag: scalars[tag] for tag in tags if tag in scalars}
        if curves:
            title = f"{name.replace('_', ' ')} per iteration (moving average of {smooth})"
            written.append(save_curves_png(curves, Path(output_dir) / f"{name}.png", title=title, smooth=smooth))
    return written
