"""Finding the files to lint and telling their format: by name first, then by content."""
from __future__ import annotations

import errno
import fnmatch
import os
import stat
from pathlib import Path, PurePath
from typing import BinaryIO

from .hookspecs import hookimpl
from .model import record

#: Folders never walked into: version control, caches, virtual environments, dependencies.
SKIPPED_DIRS = frozenset({
    ".git", ".hg", ".svn", ".bzr", "_darcs", ".tox", ".nox", ".venv", "venv", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", "__pycache__", "node_modules", ".terraform", ".direnv",
})
HEAD_BYTES = 4096


@record
class Candidate:
    path: str
    explicit: bool  # named on the command line (not found by walking a folder)


def walk(paths: list[str]) -> tuple[list[Candidate], list[str]]:
    """Regular files under ``paths`` in a stable order, and why the other paths were not read.

    Walking never follows symlinked folders and never opens FIFOs or devices (they could block).
    """
    found: list[Candidate] = []
    problems: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
                found.extend(Candidate(full, False) for full in (os.path.join(root, f) for f in sorted(files))
                             if os.path.isfile(full))
        elif path.is_file():
            found.append(Candidate(raw, True))
        elif path.exists():
            problems.append(f"{raw}: not a regular file")
        else:
            problems.append(f"{raw}: no such file or directory")
    return found, problems


def path_matches(path: str, pattern: str) -> bool:
    """A glob against a path: the whole path, any trailing part of it, or its base name."""
    parts = PurePath(path).as_posix().split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts)))


def glob_matches(path: str, pattern: str) -> bool:
    """A configuration glob (made absolute when relative to the configuration's folder) against
    a path as named, or made absolute."""
    return path_matches(path, pattern) or path_matches(os.path.abspath(path), pattern)


def excluded(path: str, patterns) -> bool:
    """Whether a configuration's ``exclude`` globs match ``path``."""
    return any(glob_matches(path, p) for p in patterns)


def open_regular(path: str) -> BinaryIO:
    """``path`` opened for reading bytes, if it is a regular file once opened: a FIFO or device
    put where a listed file was, or named through a symlink, could block or never end. The
    non-blocking open returns at once even for a FIFO; reads of a regular file ignore the flag."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        raise OSError(errno.EINVAL, "not a regular file", path)
    return os.fdopen(fd, "rb")


def reason(exc: Exception) -> str:
    """Why a file could not be read, for a message: an OSError's own words, without its errno."""
    return getattr(exc, "strerror", None) or str(exc)


def read_head(path: str) -> str | None:
    """The first kilobytes as text, or None for a binary file."""
    with open_regular(path) as fh:
        head = fh.read(HEAD_BYTES)
    if b"\0" in head:
        return None
    return head.decode("utf-8", errors="replace")


@hookimpl(trylast=True)
def portlint_detect_format(path, head, parsers):
    """Built-in detection: the registered parsers' name patterns, then their content sniffers."""
    name = os.path.basename(path)
    parsers = parsers.values()
    for parser in parsers:
        if parser.matches_name(name):
            return parser.name
    for parser in parsers:
        if parser.sniff(head):
            return parser.name
    return None
