"""Generators and discriminators for CycleGAN."""

from __future__ import annotations

from monai_cyclegan.networks.bidirectional import BidirectionalTranslator
from monai_cyclegan.networks.discriminator import patch_discriminator
from monai_cyclegan.networks.init import init_weights
from monai_cyclegan.networks.phase_convolution import PhaseConvTranspose2d, phase_convolutions_
from monai_cyclegan.networks.resnet_generator import UPSAMPLING, ResnetGenerator
from monai_cyclegan.networks.unet_generator import UNetGenerator, unet_depth

__all__ = [
    "UPSAMPLING",
    "BidirectionalTranslator",
    "PhaseConvTranspose2d",
    "ResnetGenerator",
    "UNetGenerator",
    "init_weights",
    "patch_discriminator",
    "phase_convolutions_",
    "unet_depth",
]
