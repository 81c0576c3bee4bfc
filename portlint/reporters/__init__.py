"""Reporters render the findings of a run: text for people, machine formats for tools."""
from __future__ import annotations

from typing import ClassVar, TextIO

from ..linter import Report


class Reporter:
    """Base class of every reporter, built-in or from a plugin: ``--output-format NAME``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, stream: TextIO, *, color: bool = False, quiet: bool = False) -> None:
        """``color``: the output may use ANSI colours; ``quiet``: findings only, no summary."""
        self.stream = stream
        self.color = color
        self.quiet = quiet

    def report(self, report: Report) -> None:
        raise NotImplementedError
