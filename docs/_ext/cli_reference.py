"""Sphinx directive ``cli-reference``: the ``--help`` of ``monai-cyclegan`` and of each of its verbs.

Rendered from the parser itself at build time, so the page cannot drift from the command.
"""

from __future__ import annotations

import argparse
import inspect
import os

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from monai_cyclegan.cli import build_parser

__all__ = ["CliReference", "setup"]

HELP_COLUMNS = "100"  # argparse wraps help text to $COLUMNS


def _verb_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    # argparse has no public way to list sub-commands; its sub-parsers action holds them
    (verbs,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(verbs.choices)


class CliReference(SphinxDirective):
    """A section per verb, with the verb's ``--help`` as a literal block."""

    def run(self) -> list[nodes.Node]:
        """The top-level help, then one section per verb."""
        # rebuild this page whenever the command's source changes, as autodoc does for its modules
        self.env.note_dependency(inspect.getsourcefile(build_parser))
        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = HELP_COLUMNS
        try:
            parser = build_parser()
            result: list[nodes.Node] = [nodes.literal_block(text=parser.format_help(), language="text")]
            for verb, verb_parser in _verb_parsers(parser).items():
                section = nodes.section(ids=[f"verb-{verb}"], names=[f"monai-cyclegan {verb}"])
                section += nodes.title(text=f"monai-cyclegan {verb}")
                section += nodes.literal_block(text=verb_parser.format_help(), language="text")
                self.state.document.note_implicit_target(section)
                result.append(section)
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        return result


def setup(app: Sphinx) -> dict[str, bool]:
    """Register the directive."""
    app.add_directive("cli-reference", CliReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
