"""`include "..."` in nftables files, resolved as nft resolves it, within the project root.

nft looks a relative name up in its include search path (``-I`` folders); portlint searches the
including file's folder first, then the ``--include-path`` folders. A name with a wildcard
(``*``, ``?``, ``[``) includes every matching file, in name order, and may match nothing. A file
that is missing, that includes itself (directly or through others), or that lies outside the
project root is not read: its content is never parsed or shown. Nor is a folder (nft silently
includes nothing from it) or a FIFO or device.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

from ..model import record

#: nft refuses to nest includes deeper than this.
MAX_DEPTH = 16
_WILDCARDS = frozenset("*?[")


class IncludeError(Exception):
    """Why an include is not followed (reported as PL006)."""


@record
class IncludeResolver:
    """Finds included files. ``roots`` are the folders whose files may be read: the project root
    and the ``--include-path`` folders."""

    search_path: tuple[str, ...]
    roots: tuple[str, ...]

    @classmethod
    def for_file(cls, path: str, include_path: tuple[str, ...], root: str | None = None) -> IncludeResolver:
        """The includes of the file at ``path``; ``root`` is the project root (configuration
        ``project-root``), by default the folder of the nearest ``.git`` above the file."""
        folders = tuple(os.path.normpath(p) for p in include_path)
        root = root or project_root(path)
        return cls(folders, (os.path.realpath(root), *(os.path.realpath(p) for p in folders)))

    def resolve(self, name: str, including: str, stack: tuple[str, ...]) -> list[str]:
        """The files ``include "name"`` reads, from the file ``including`` whose include chain is
        ``stack`` (real paths); raises IncludeError when the include cannot be followed."""
        if len(stack) >= MAX_DEPTH:
            raise IncludeError(f"include {name!r} is nested too deeply (nft allows {MAX_DEPTH} levels)")
        wildcard = any(c in _WILDCARDS for c in name)
        candidates = [os.path.normpath(os.path.join(folder, name)) for folder in self._folders(name, including)]
        found: list[str] = []
        for candidate in candidates:
            self._check_inside(_fixed_part(candidate), name)
            matches = sorted(glob.glob(candidate)) if wildcard else [candidate]
            files = [m for m in matches if os.path.isfile(m)]
            found.extend(f for f in files if f not in found)
            if files and not wildcard:
                break
        if not found and not wildcard:
            raise IncludeError(_not_found(name, candidates))
        for file in found:
            self._check_inside(file, name)
            if os.path.realpath(file) in stack:
                raise IncludeError(f"include {name!r} includes {file} again: an include cycle")
        return found

    def _folders(self, name: str, including: str) -> list[str]:
        here = os.path.dirname(including) or "."
        if os.path.isabs(name):
            return [""]
        if name.startswith(("./", "../")):
            return [here]
        return [here, *self.search_path]

    def _check_inside(self, path: str, name: str) -> None:
        real = os.path.realpath(path)
        if not any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.roots):
            raise IncludeError(f"include {name!r} leaves the project root {self.roots[0]} (and the "
                               f"--include-path folders): {path} is not read")


def _not_found(name: str, candidates: list[str]) -> str:
    """Why ``include "name"`` reads no file: nothing is there, or a folder (nft ignores a folder
    it includes, silently), or a FIFO or device (never read)."""
    for candidate in candidates:
        if os.path.isdir(candidate):
            return (f"include {name!r} names the folder {candidate}: nft reads no file from it "
                    f"(include \"{name.rstrip('/')}/*\" reads its files)")
        if os.path.exists(candidate):
            return f"included file {name!r} is not a regular file ({candidate}): it is never read"
    return f"included file {name!r} not found (looked for {', '.join(candidates)})"


def _fixed_part(pattern: str) -> str:
    """The folder a glob pattern searches: its path up to the first part with a wildcard."""
    parts = pattern.split(os.sep)
    for index, part in enumerate(parts):
        if any(c in _WILDCARDS for c in part):
            return os.sep.join(parts[:index]) or os.sep
    return pattern


def project_root(path: str) -> str:
    """The folder holding the nearest ``.git`` above ``path``, else the file's own folder."""
    start = Path(os.path.abspath(path)).parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return str(folder)
    return str(start)
