"""The 70x70 PatchGAN discriminator, built from MONAI's ``PatchDiscriminator``."""

from __future__ import annotations

from monai.networks.nets import PatchDiscriminator
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = ["patch_discriminator"]


def patch_discriminator(
    in_channels: int = 1, ndf: int = 64, n_layers: int = 3, spectral_norm: bool = False
) -> PatchDiscriminator:
    """PatchGAN discriminator of CycleGAN: with the defaults, a 70x70 receptive field and 30x30 logits at 256x256.

    MONAI's defaults (batch norm) are replaced by the CycleGAN choices: instance norm, LeakyReLU(0.2), raw logits.
    MONAI initialises the convolutions from N(0, 0.02) itself. The network returns a list of feature maps with the
    logits last; :class:`monai_cyclegan.losses.AdversarialLoss` reads the last element.

    Args:
        in_channels: image channels.
        ndf: channels of the first layer.
        n_layers: number of strided/normalised layers after the first (3 for the 70x70 PatchGAN).
        spectral_norm: divide each convolution's weight by its largest singular value (Miyato et al., 2018; one power
            iteration per training step, PyTorch's ``spectral_norm`` parametrization), which bounds how fast the
            discriminator's output can change with its input. Its checkpoints then hold the parametrization's tensors.
    """
    network = PatchDiscriminator(
        spatial_dims=2,
        num_layers_d=n_layers,
        channels=ndf,
        in_channels=in_channels,
        out_channels=1,
        kernel_size=4,
        activation=("LEAKYRELU", {"negative_slope": 0.2}),
        norm="INSTANCE",
        bias=False,
        padding=1,
    )
    if spectral_norm:
        for module in list(network.modules()):
            if isinstance(module, nn.Conv2d):
                _spectral_norm(module)
    return network
