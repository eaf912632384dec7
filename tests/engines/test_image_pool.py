from __future__ import annotations

import io
import unittest

import torch
from monai.data import MetaTensor

from monai_cyclegan.engines import ImagePool


def _batch(value: float, n: int = 1) -> torch.Tensor:
    return torch.full((n, 1, 4, 4), value)


class TestImagePool(unittest.TestCase):
    def test_fills_then_mixes_history(self):
        pool = ImagePool(pool_size=3, seed=0)
        for v in range(3):
            self.assertTrue(torch.equal(pool.query(_batch(v)), _batch(v)))  # filling: returns the new image
        self.assertEqual(len(pool), 3)
        returned = [float(pool.query(_batch(100 + i))[0, 0, 0, 0]) for i in range(40)]
        self.assertEqual(len(pool), 3)
        old = [v for v in returned if v < 100]
        self.assertTrue(0 < len(old) < 40)  # some history, some fresh images (p = 0.5 each)

    def test_batch_shape_kept(self):
        pool = ImagePool(pool_size=2)
        self.assertEqual(pool.query(_batch(1.0, n=5)).shape, (5, 1, 4, 4))

    def test_zero_size_is_passthrough(self):
        pool = ImagePool(pool_size=0)
        x = _batch(3.0, n=2)
        self.assertIs(pool.query(x), x)
        self.assertEqual(len(pool), 0)

    def test_same_seed_same_sequence(self):
        def run(seed):
            pool = ImagePool(pool_size=2, seed=seed)
            return torch.cat([pool.query(_batch(v)) for v in range(20)])

        self.assertTrue(torch.equal(run(1), run(1)))
        self.assertFalse(torch.equal(run(1), run(2)))

    def test_state_dict_roundtrip_weights_only(self):
        pool = ImagePool(pool_size=3, seed=5)
        for v in range(5):
            pool.query(MetaTensor(_batch(v)))  # metadata must not end up in the checkpoint
        buffer = io.BytesIO()
        torch.save(pool.state_dict(), buffer)
        buffer.seek(0)
        restored = ImagePool(pool_size=3, seed=0)
        restored.load_state_dict(torch.load(buffer, weights_only=True))
        self.assertTrue(all(type(image) is torch.Tensor for image in restored.images))
        for v in range(10):  # same history and random state: identical answers from here on
            self.assertTrue(torch.equal(pool.query(_batch(10 + v)), restored.query(_batch(10 + v))))

    def test_empty_and_multichannel_pools_roundtrip(self):
        empty = ImagePool(pool_size=2)
        empty.load_state_dict(ImagePool(pool_size=2).state_dict())
        self.assertEqual(empty.images, [])
        pool = ImagePool(pool_size=2)
        pool.query(torch.arange(24.0).reshape(2, 3, 2, 2))  # two images of three channels
        restored = ImagePool(pool_size=2)
        restored.load_state_dict(pool.state_dict())
        self.assertEqual([tuple(image.shape) for image in restored.images], [(1, 3, 2, 2)] * 2)
        self.assertTrue(all(torch.equal(x, y) for x, y in zip(pool.images, restored.images, strict=True)))

    def test_defaults_are_cyclegans(self):
        self.assertEqual(ImagePool().pool_size, 50)  # the design card's pool of 50
        seeded = ImagePool(pool_size=50, seed=0)
        default = ImagePool(pool_size=50)
        for v in range(60):  # past the filling, where the pool draws: the default seed is 0
            self.assertTrue(torch.equal(default.query(_batch(v)), seeded.query(_batch(v))))

    def test_negative_size(self):
        with self.assertRaisesRegex(ValueError, "pool_size must be >= 0, got -1"):
            ImagePool(pool_size=-1)

    def test_size_mismatch_on_load(self):
        with self.assertRaisesRegex(ValueError, "size"):
            ImagePool(pool_size=4).load_state_dict(ImagePool(pool_size=2).state_dict())


if __name__ == "__main__":
    unittest.main()
