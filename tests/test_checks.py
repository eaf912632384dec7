from __future__ import annotations

import unittest

from monai_cyclegan.checks import as_bool, check_positive_int


class TestCheckPositiveInt(unittest.TestCase):
    def test_positive_integers_pass(self):
        for value in (1, 256):
            check_positive_int("ngf", value)

    def test_anything_else_is_named(self):
        for value in (0, -3, 2.0, "64", True, None):
            with self.subTest(value=value):
                with self.assertRaisesRegex(ValueError, r"^ngf must be a positive integer, got "):
                    check_positive_int("ngf", value)


class TestAsBool(unittest.TestCase):
    def test_booleans_and_what_the_command_line_passes(self):
        for value, expected in (
            (True, True),
            (False, False),
            ("false", False),
            ("True", True),
            (" TRUE ", True),
            (0, False),
            (1, True),
        ):
            self.assertIs(as_bool("amp", value), expected)

    def test_anything_else_is_named(self):
        for value in ("no", "", 2, None, 0.5):
            with self.subTest(value=value), self.assertRaisesRegex(ValueError, r"^amp must be true or false, got "):
                as_bool("amp", value)


if __name__ == "__main__":
    unittest.main()
