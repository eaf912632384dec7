"""Sphinx configuration of the monai_cyclegan documentation (``sphinx-build -W docs docs/_build/html``)."""

from __future__ import annotations

import sys
from pathlib import Path

import monai_cyclegan

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "monai_cyclegan"
author = "monai_cyclegan developers"
copyright = "2026, monai_cyclegan developers"
release = monai_cyclegan.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "cli_reference",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "results/*.json"]

# Markdown: "#"-anchors to headings (the pages link to each other's sections) and ::: fences for directives.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# API reference: Google docstrings, members in source order, type hints in the description rather than the signature.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"monai_cyclegan {release}"
