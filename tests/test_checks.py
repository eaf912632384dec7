from __future__ import annotations

import unittest

from monai_cyclegan.checks import check_positive_int


class TestCheckPositiveInt(unittest.TestCase):
    def test_positive_integers_pass(self):
        for value in (1, 256):
            check_positive_int("ngf", value)

    def test_anything_else_is_named(self):
        for value in (0, -3, 2.0, "64", True, None):
            with self.subTest(value=value):
                with self.assertRaisesRegex(ValueError, r"^ngf must be a positive integer, got "):
                    check_positive_int("ngf", value)


if __name__ == "__main__":
    unittest.main()
