"""Reporters render the findings of a run: text for people, machine formats for tools."""
from __future__ import annotations

from typing import ClassVar, TextIO

from ..linter import Report


class Reporter:
    """Base class of every reporter, built-in or from a plugin: ``--output-format NAME``.

    :meth:`report` receives the whole :class:`~portlint.linter.Report`: its sorted
    ``findings``, the ``documents`` that have findings (for source lines), the ``paths`` of
    every file linted, the ``problems`` met, and ``rules``, every registered rule class by code.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, stream: TextIO, *, color: bool = False, quiet: bool = False) -> None:
        """``color``: the output may use ANSI colours; ``quiet``: findings only, no summary."""
        self.stream = stream
        self.color = color
        self.quiet = quiet

    def report(self, report: Report) -> None:
        raise NotImplementedError
