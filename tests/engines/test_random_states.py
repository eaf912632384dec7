from __future__ import annotations

import io
import random
import unittest

import numpy as np
import torch
from monai.transforms import Compose, RandFlipd, Randomizable, RandSpatialCropSamplesd

from monai_cyclegan.engines import RandomStates, randomizables


def _pipeline(seed: int = 0) -> Compose:
    crop = RandSpatialCropSamplesd("image", roi_size=(2, 2), num_samples=1, random_size=False)
    return Compose([crop, RandFlipd("image", prob=0.5, spatial_axis=0)]).set_random_state(seed)


def _draws(pipeline: Compose, n: int = 4) -> list:
    """Numbers from every random stream the states cover, and the outputs of a random pipeline."""
    image = {"image": torch.arange(64.0).reshape(1, 8, 8)}
    crops = [pipeline(image)[0]["image"].flatten().tolist() for _ in range(n)]
    return [random.random(), float(np.random.rand()), float(torch.rand(1)), crops]


def _through_a_weights_only_file(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


class TestRandomizables(unittest.TestCase):
    def test_every_nested_randomizable_by_path(self):
        found = randomizables([None, _pipeline()])
        expected = ["[1]:Compose", "[1].transforms[0]:RandSpatialCropSamplesd"]
        expected += [
            "[1].transforms[0].cropper:RandSpatialCropSamples",
            "[1].transforms[0].cropper.cropper:RandSpatialCrop",
        ]
        self.assertEqual(list(found), expected + ["[1].transforms[1]:RandFlipd"])

    def test_shared_and_cyclic_references_are_walked_once(self):
        class Holder:
            pass

        flip = RandFlipd("image", prob=0.5)
        root = Holder()
        root.first, root.second, root.itself = flip, [flip], root  # a shared transform and a cycle
        self.assertEqual(list(randomizables(root)), ["first:RandFlipd"])


class TestRandomStates(unittest.TestCase):
    def test_restoring_repeats_every_stream(self):
        pipeline = _pipeline()
        _draws(pipeline, n=1)  # the cropper's inner transform gets its own generator only at its first use
        saved = _through_a_weights_only_file(RandomStates(pipeline).state_dict())
        expected = _draws(pipeline)
        RandomStates(pipeline).load_state_dict(saved)
        self.assertEqual(_draws(pipeline), expected)

    def test_a_fresh_pipeline_continues_where_the_saved_one_stopped(self):
        """What a resumed run does: a new pipeline, built and seeded afresh, takes over the saved states."""
        running = _pipeline()
        _draws(running, n=2)
        saved = _through_a_weights_only_file(RandomStates(running).state_dict())
        expected = _draws(running)
        fresh = _pipeline(seed=123)
        self.assertNotIn(
            "R", vars(randomizables(fresh)["transforms[0].cropper:RandSpatialCropSamples"])
        )  # not used yet
        RandomStates(fresh).load_state_dict(saved)
        self.assertEqual(_draws(fresh), expected)

    def test_other_ranks_continue_on_their_own_deterministic_streams(self):
        """In distributed training rank 0's states are saved; rank r > 0 derives its own streams from them."""
        pipeline = _pipeline()
        _draws(pipeline, n=1)
        saved = _through_a_weights_only_file(RandomStates(pipeline).state_dict())
        draws = {}
        for rank in (0, 1, 2, 1):
            RandomStates(pipeline, rank=rank).load_state_dict(saved)
            draws.setdefault(rank, []).append(_draws(pipeline))
        self.assertEqual(draws[1][0], draws[1][1])  # deterministic
        for stream in range(4):  # python, numpy, torch, the pipeline's crops: every stream differs between ranks
            self.assertEqual(len({repr(draws[rank][0][stream]) for rank in (0, 1, 2)}), 3, stream)

    def test_without_restoring_the_draws_differ(self):
        pipeline = _pipeline()
        RandomStates(pipeline).state_dict()
        self.assertNotEqual(_draws(pipeline), _draws(pipeline))

    def test_the_saved_states_are_integer_tensors(self):
        state = RandomStates(_pipeline()).state_dict()
        self.assertEqual(state["python"]["state"].dtype, torch.int64)
        self.assertEqual(state["numpy"]["keys"].dtype, torch.int64)
        self.assertEqual(state["data_shared"]["keys"].dtype, torch.int64)

    def test_other_ranks_seed_every_stream_from_the_restored_draw_and_the_rank(self):
        """Rank r seeds from s = (a restored torch draw + 7919 r) mod 2^32, its k-th seeded transform from s + k."""
        pipeline = _pipeline()
        _draws(pipeline, n=1)  # both croppers hold their own generators now
        saved = _through_a_weights_only_file(RandomStates(pipeline).state_dict())
        torch.set_rng_state(saved["torch"])
        seed = (int(torch.randint(2**31, (1,))) + 7919 * 3) % 2**32
        RandomStates(pipeline, rank=3).load_state_dict(saved)
        self.assertEqual(random.random(), random.Random(seed).random())
        self.assertEqual(float(np.random.rand()), float(np.random.RandomState(seed).rand()))
        self.assertEqual(float(torch.rand(1)), float(torch.rand(1, generator=torch.Generator().manual_seed(seed))))
        self.assertEqual(Randomizable.R.rand(), np.random.RandomState(seed).rand())
        seeded = [obj for obj in randomizables(pipeline).values() if "R" in vars(obj)]
        self.assertGreaterEqual(len(seeded), 2)
        for offset, obj in enumerate(seeded, start=1):
            self.assertEqual(obj.R.rand(), np.random.RandomState(seed + offset).rand(), offset)

    def test_states_of_another_pipeline_are_refused(self):
        saved = RandomStates(_pipeline()).state_dict()
        other = Compose([RandFlipd("image", prob=0.5)])
        message = (
            r"lacks: \['transforms\[0\]:RandSpatialCropSamplesd', 'transforms\[1\]:RandFlipd'\]; "
            r"it was saved by a different pipeline\.$"
        )
        with self.assertRaisesRegex(ValueError, message):
            RandomStates(other).load_state_dict(saved)


if __name__ == "__main__":
    unittest.main()
