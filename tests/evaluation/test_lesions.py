from __future__ import annotations

import unittest

import torch

from monai_cyclegan.evaluation.lesions import lesion_fidelity, normal_white_matter


def _brain() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 2D "T1" and "T2" of CSF, grey and white matter, with a lesion in the white matter; masks."""
    t1 = torch.zeros(40, 40)
    t1[4:36, 4:36] = 0.2  # CSF rim
    t1[8:32, 8:32] = 0.5  # grey matter
    t1[10:30, 10:30] = 0.9  # white matter
    lesions = torch.zeros(40, 40, dtype=torch.bool)
    lesions[18:21, 18:21] = True
    t1[lesions] = 0.45  # dark in T1
    t2 = torch.where(t1 > 0, 1.1 - t1, torch.zeros(()))
    t2[lesions] = 0.8  # bright in T2
    return t1, t2, t1 > 0, lesions


class TestLesions(unittest.TestCase):
    def test_normal_white_matter_is_bright_t1_away_from_lesions(self):
        t1, _, brain, lesions = _brain()
        nawm = normal_white_matter(t1, brain, lesions, margin=2)
        self.assertTrue(bool((t1[nawm] == 0.9).all()))
        self.assertFalse(bool(nawm[16:23, 16:23].any()))  # the lesion and its 2-voxel rim
        self.assertTrue(bool(nawm[11, 11]))

    def test_contrast_of_real_and_painted_away_lesions(self):
        t1, t2, brain, lesions = _brain()
        nawm = normal_white_matter(t1, brain, lesions)
        truth = lesion_fidelity(t2, lesions, nawm, bright=True)
        self.assertAlmostEqual(truth["contrast"], 0.8 / 0.2, places=5)
        self.assertEqual(truth["conspicuous"], 1.0)
        painted_away = t2.clone()
        painted_away[lesions] = 0.2  # a translation that turned the lesion into white matter
        lost = lesion_fidelity(painted_away, lesions, nawm, bright=True)
        self.assertAlmostEqual(lost["contrast"], 1.0, places=5)
        self.assertEqual(lost["conspicuous"], 0.0)
        dark = lesion_fidelity(t1, lesions, nawm, bright=False)  # in T1 they are darker than white matter
        self.assertAlmostEqual(dark["contrast"], 0.45 / 0.9, places=5)
        self.assertEqual(dark["conspicuous"], 1.0)

    def test_empty_masks(self):
        t1, t2, brain, lesions = _brain()
        with self.assertRaisesRegex(ValueError, "brain mask is empty"):
            normal_white_matter(t1, torch.zeros_like(brain), lesions)
        with self.assertRaisesRegex(ValueError, "lesion mask is empty"):
            lesion_fidelity(t2, torch.zeros_like(lesions), brain, bright=True)


if __name__ == "__main__":
    unittest.main()
