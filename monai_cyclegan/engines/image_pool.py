"""History of generated images fed to the discriminators (Shrivastava et al. 2017, used by CycleGAN).

MONAI has no image pool. This one is seeded and checkpointable, so a resumed run sees the same history.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ImagePool"]


class ImagePool:
    """Buffer of up to ``pool_size`` generated images.

    ``query`` returns, for each image of a batch, either that image or (with probability 0.5, once the pool is full) a
    previously generated one, which the new image then replaces. The discriminator thus sees a history of the
    generator's outputs rather than only the latest ones, which damps oscillation.

    Args:
        pool_size: number of images kept; 0 disables the pool (``query`` returns its input).
        seed: seed of the pool's own random generator.
    """

    def __init__(self, pool_size: int = 50, seed: int = 0) -> None:
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0, got {pool_size}.")
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Return a batch of the same shape drawn from the new ``images`` and the history.

        Args:
            images: a detached batch ``(N, C, H, W)`` of generated images.
        """
        if self.pool_size == 0:
            return images
        out = []
        images = images.as_subclass(torch.Tensor)  # store plain tensors: checkpoints must load with weights_only=True
        for image in images:
            image = image.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(image.detach().clone().cpu())
                out.append(image)
            elif torch.rand(1, generator=self.generator).item() < 0.5:
                index = int(torch.randint(len(self.images), (1,), generator=self.generator).item())
                out.append(self.images[index].to(image.device, image.dtype))
                self.images[index] = image.detach().clone().cpu()
            else:
                out.append(image)
        return torch.cat(out, dim=0)

    def state_dict(self) -> dict[str, Any]:
        """Tensors and numbers only, so that checkpoints load with ``torch.load(weights_only=True)``."""
        stacked = torch.cat(self.images, dim=0) if self.images else torch.empty(0)
        return {"pool_size": self.pool_size, "images": stacked, "rng_state": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the history and the random state saved by :meth:`state_dict`."""
        if state["pool_size"] != self.pool_size:
            raise ValueError(f"Checkpointed pool holds size {state['pool_size']}, this pool has {self.pool_size}.")
        self.images = [image.unsqueeze(0).clone() for image in state["images"]]
        self.generator.set_state(state["rng_state"])
