"""Hand-run speed and memory benchmarks of the bundle (``python benchmarks/run.py``); see ``benchmarks/README.md``."""
