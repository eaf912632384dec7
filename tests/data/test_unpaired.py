from __future__ import annotations

import unittest

from monai.data import DataLoader, Dataset
from monai.transforms import RandLambdad

from monai_cyclegan.data import UnpairedDataset


def _domain(prefix: str, n: int, samples: int = 1) -> Dataset:
    """Items ``{"image": "<prefix><i>"}`` (or lists of ``samples`` such items, tagged with the sample index)."""
    data = [{"image": f"{prefix}{i}"} for i in range(n)]
    return Dataset(data, transform=None if samples == 1 else _multi(samples))


def _multi(samples: int):
    def split(d):
        return [{"image": f"{d['image']}/{s}"} for s in range(samples)]

    return split


class TestUnpairedDataset(unittest.TestCase):
    def test_length_is_larger_domain_and_a_is_covered(self):
        ds = UnpairedDataset(_domain("a", 3), _domain("b", 5))
        self.assertEqual(len(ds), 5)
        a_items = [ds[i][0]["A"] for i in range(len(ds))]
        self.assertEqual(set(a_items), {"a0", "a1", "a2"})

    def test_b_is_drawn_independently(self):
        ds = UnpairedDataset(_domain("a", 50), _domain("b", 50)).set_random_state(0)
        pairs = [ds[i][0] for i in range(50)]
        same_index = sum(p["A"][1:] == p["B"][1:] for p in pairs)
        self.assertLess(same_index, 10)  # not paired by index
        self.assertGreater(len({p["B"] for p in pairs}), 20)

    def test_seeded_draws_repeat(self):
        def draws(seed):
            ds = UnpairedDataset(_domain("a", 4), _domain("b", 9)).set_random_state(seed)
            return [ds[i][0]["B"] for i in range(4)]

        self.assertEqual(draws(1), draws(1))
        self.assertNotEqual(draws(1), draws(2))

    def test_seeding_reaches_transforms_of_both_domains(self):
        counter = RandLambdad("image", lambda x: x)
        ds = UnpairedDataset(Dataset([{"image": 0}], transform=counter), _domain("b", 2))
        ds.set_random_state(3)
        self.assertIsNot(counter.R, RandLambdad.R)  # the domain transform got its own seeded state

    def test_multiple_samples_per_item_are_zipped(self):
        ds = UnpairedDataset(_domain("a", 2, samples=3), _domain("b", 2, samples=3))
        item = ds[0]
        self.assertEqual(len(item), 3)
        self.assertEqual([d["A"] for d in item], ["a0/0", "a0/1", "a0/2"])
        batch = next(iter(DataLoader(ds, batch_size=2)))
        self.assertEqual(len(batch["A"]), 6)  # list_data_collate flattens the samples

    def test_mismatched_samples(self):
        ds = UnpairedDataset(_domain("a", 2, samples=2), _domain("b", 2, samples=3))
        with self.assertRaisesRegex(ValueError, "different numbers"):
            ds[0]

    def test_length_sets_the_items_per_epoch_and_cycles_through_a(self):
        ds = UnpairedDataset(_domain("a", 2), _domain("b", 2), length=7)
        self.assertEqual(len(ds), 7)
        self.assertEqual([ds[i][0]["A"] for i in range(7)], ["a0", "a1"] * 3 + ["a0"])
        self.assertEqual(len(UnpairedDataset(_domain("a", 2), _domain("b", 3), length=0)), 3)  # 0: automatic

    def test_length_must_be_a_count(self):
        for bad in (-1, 2.5, True):
            with self.assertRaisesRegex(ValueError, "length must be"):
                UnpairedDataset(_domain("a", 2), _domain("b", 2), length=bad)

    def test_empty_domain(self):
        with self.assertRaisesRegex(ValueError, "dataset_b is empty"):
            UnpairedDataset(_domain("a", 2), Dataset([]))


if __name__ == "__main__":
    unittest.main()
