"""Weight initialisation shared by the CycleGAN networks."""

from __future__ import annotations

from torch import nn

__all__ = ["init_weights"]


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """Initialise a network as in the CycleGAN paper: convolution weights from N(0, std), biases 0.

    Affine normalisation layers (if any) get weights from N(1, std) and zero bias. Instance norm without affine
    parameters (the default here) has nothing to initialise.

    Args:
        module: the network, initialised in place.
        std: standard deviation of the normal distribution.

    Returns:
        The same module, for chaining.
    """

    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)

    return module.apply(_init)
