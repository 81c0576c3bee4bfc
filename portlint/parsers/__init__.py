"""Parsers turn one file format into the normalised model (:mod:`portlint.model`)."""
from __future__ import annotations

import copy
import fnmatch
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar, Mapping

from ..model import Document


@dataclass(frozen=True)
class ParseOptions:
    """What the command line tells every parser; each parser reads what concerns it."""

    #: Variables that interpolation may read besides the files' own (compose ``.env``): the
    #: process environment with ``--env-from-environment``, else nothing.
    environment: Mapping[str, str] = field(default_factory=dict)
    #: The project's root folder (configuration ``project-root``), for parsers that follow
    #: references to other files (includes must stay inside it); None: decided per parser.
    project_root: str | None = None
    #: Folders nftables ``include`` searches after the including file's folder (``--include-path``,
    #: like ``nft -I``).
    include_path: tuple[str, ...] = ()
    #: YAML files larger than this many bytes are not read (configuration ``yaml-size-limit``,
    #: in megabytes): a YAML loader holds the whole node tree in memory.
    yaml_size_limit: int = 10 * 1024 * 1024


class Parser:
    """Base class of every parser, built-in or from a plugin.

    ``patterns`` claim files by name (fnmatch on the base name, case-insensitive); ``sniff``
    claims files by their first kilobytes when no pattern did. ``options`` holds the run's
    :class:`ParseOptions` (see :meth:`with_options`).
    """

    name: ClassVar[str]
    patterns: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    options: ParseOptions = ParseOptions()

    def matches_name(self, filename: str) -> bool:
        return _name_pattern(tuple(self.patterns)).match(filename.lower()) is not None

    def sniff(self, head: str) -> bool:
        return False

    def with_options(self, options: ParseOptions) -> Parser:
        """This parser for a run with ``options`` (a copy: registered parsers stay unchanged)."""
        if options == self.options:
            return self
        configured = copy.copy(self)
        configured.options = options
        return configured

    def parse(self, text: str, path: str) -> Document:
        raise NotImplementedError


@lru_cache(maxsize=None)
def _name_pattern(patterns: tuple[str, ...]) -> re.Pattern:
    """A parser's name patterns as one regular expression: fnmatch compiles one per pattern,
    and a run that detects a format would compile them all."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)")
