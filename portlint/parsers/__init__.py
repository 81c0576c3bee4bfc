"""Parsers turn one file format into the normalised model (:mod:`portlint.model`)."""
from __future__ import annotations

import fnmatch
from typing import Any, ClassVar, Mapping

from ..model import Document


class Parser:
    """Base class of every parser, built-in or from a plugin.

    ``patterns`` claim files by name (fnmatch on the base name, case-insensitive); ``sniff``
    claims files by their first kilobytes when no pattern did.
    """

    name: ClassVar[str]
    patterns: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def matches_name(self, filename: str) -> bool:
        lower = filename.lower()
        return any(fnmatch.fnmatchcase(lower, p) for p in self.patterns)

    def sniff(self, head: str) -> bool:
        return False

    def configure(self, options: Mapping[str, Any]) -> None:
        """Take the run's parser options (``include_path`` from ``--include-path``, ...); a
        parser ignores the options it has no use for."""

    def parse(self, text: str, path: str) -> Document:
        raise NotImplementedError
