"""The benchmark scripts still import: they run by hand only, so a package name moved elsewhere breaks them unseen."""

from __future__ import annotations

import importlib
import pkgutil
import unittest

import benchmarks


class TestBenchmarkScripts(unittest.TestCase):
    def test_every_script_imports(self):
        names = [module.name for module in pkgutil.iter_modules(benchmarks.__path__)]
        self.assertIn("paired_ceiling", names)
        for name in names:
            with self.subTest(script=name):
                module = importlib.import_module(f"benchmarks.{name}")
                self.assertEqual(module.__name__, f"benchmarks.{name}")


if __name__ == "__main__":
    unittest.main()
