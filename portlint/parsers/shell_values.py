"""What the shell evaluator knows about a value: its text, or why it depends on the run.

Values remember where they came from (a loop variable, a function argument) so that a rule built
from them can say so, and fields (the arguments of a command after expansion) remember the word
they were written as, so that every declaration is located in the script.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Union

from ..model import record


@record
class Span:
    """Where a word is written: 1-based line and columns, end exclusive."""

    line: int
    column: int
    end_column: int


@record
class Origin:
    """How a value reached a command: a loop variable (``$p = 443``), or an argument of the
    function called (``$2 = 23`` of ``allow``)."""

    binding: str
    function: str | None = None


@record
class Value:
    """A string known without running the script."""

    text: str
    origins: tuple[Origin, ...] = ()
    #: The word a function argument was written as, at the call: a field that is exactly this
    #: value is located there rather than at ``$1`` in the function's body.
    span: Span | None = None


@record
class Unknown:
    """A string known only when the script runs; ``reason`` completes "it depends on ..."."""

    reason: str


@record
class Array:
    items: tuple[Value | Unknown, ...]


Scalar = Union[Value, Unknown]
Variable = Union[Value, Unknown, Array]


@record
class Field:
    """One argument of a command after expansion and field splitting."""

    text: str
    span: Span
    source: str  # the word as written, for messages ("$PORT")
    origins: tuple[Origin, ...] = ()
    unknown: str | None = None  # why the text is not known (the text is then ``source``)


@record
class Segment:
    """A piece of a here-document's expanded text and where it is written in the script: text
    copied from the body (``literal``), or an expansion (the whole ``$VAR`` is its place)."""

    start: int  # offset in the expanded text
    span: Span
    literal: bool
    unknown: str | None = None
    origins: tuple[Origin, ...] = ()


@dataclass
class HereDocument:
    """The text a command reads on its standard input, mapped back to the script."""

    text: str
    segments: list[Segment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._starts = [s.start for s in self.segments]
        self._lines = [0] + [i + 1 for i, c in enumerate(self.text) if c == "\n"]

    def offset(self, line: int, column: int) -> int:
        """The offset in ``text`` of a 1-based line and column of ``text``."""
        return self._lines[min(line, len(self._lines)) - 1] + column - 1

    def segment_at(self, offset: int) -> Segment:
        return self.segments[max(bisect.bisect_right(self._starts, offset) - 1, 0)]

    def span(self, line: int, column: int, end_column: int) -> Span:
        """Where the characters ``column:end_column`` of ``line`` of ``text`` are in the script."""
        start = self.offset(line, column)
        stop = start + max(end_column - column, 1) - 1  # the last character
        first, last = self.segment_at(start), self.segment_at(stop)
        begin = first.span.column + (start - first.start if first.literal else 0)
        end = last.span.column + (stop - last.start) + 1 if last.literal else last.span.end_column
        if last.span.line != first.span.line:
            end = begin + 1
        return Span(first.span.line, begin, max(end, begin + 1))

    def between(self, start: int, end: int) -> list[Segment]:
        """The segments that the text ``start:end`` overlaps."""
        first = max(bisect.bisect_right(self._starts, start) - 1, 0)
        last = bisect.bisect_left(self._starts, end)
        return self.segments[first:max(last, first + 1)]


def describe(origins: tuple[Origin, ...] | list[Origin]) -> str | None:
    """``"from the arguments $1 = udp and $2 = 53 of allow, the loop variable $p = 53"``.

    No line numbers: findings are matched across runs by their message (baselines), and the
    finding's own location is already in the loop's body or at the call."""
    groups: dict[str | None, list[str]] = {}
    for origin in origins:
        bindings = groups.setdefault(origin.function, [])
        if origin.binding not in bindings:
            bindings.append(origin.binding)
    if not groups:
        return None
    parts = []
    for function, bindings in groups.items():
        plural = "s" if len(bindings) > 1 else ""
        names = bindings[0] if len(bindings) == 1 else ", ".join(bindings[:-1]) + " and " + bindings[-1]
        parts.append(f"the loop variable{plural} {names}" if function is None else f"the argument{plural} {names} of {function}")
    return "from " + ", ".join(parts)
