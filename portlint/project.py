"""The project a run belongs to: its root folder, and the files under it that project rules read.

Project rules relate files to each other (a compose file and the host firewall), but a run may
name only some of them: pre-commit passes the changed files alone. The root is, in order,
``project-root`` (configuration or ``--project-root``), the folder of the nearest portlint
configuration file above the checked paths, or the git work tree's root. Every file portlint
reads under it is part of the project. With none of them there is no root, and the project is
the checked files alone: nothing marks where it ends, and ``portlint ~/Downloads/rules.v4``
must not read the whole folder.
"""
from __future__ import annotations

import os
from pathlib import Path

from .config import discover
from .discovery import Candidate, excluded, walk
from .model import record


@record
class ProjectScope:
    """How a run finds its project: the configured root, the exclude globs (relative globs
    already made relative to the configuration's folder), and whether configuration files
    mark the root (not with ``--isolated``)."""

    root: Path | None = None
    exclude: tuple[str, ...] = ()
    find_config: bool = True

    def root_of(self, paths: list[str]) -> Path | None:
        """The project root of a run over ``paths`` (files; ``-`` is the working folder); None
        when nothing marks one (the project is then the checked files alone)."""
        if self.root is not None:
            return self.root
        common = common_folder(paths)
        if self.find_config:
            config = discover([str(common)])
            if config is not None:
                return config.parent
        return git_work_tree(common)

    def candidates(self, root: Path) -> list[Candidate]:
        """The files under ``root`` that are not excluded, with paths as a run names them:
        relative to the working folder when the root is inside it."""
        found, _ = walk([shown_path(root)])
        return [Candidate(os.path.normpath(c.path), False) for c in found if not excluded(c.path, self.exclude)]


def shown_path(path: Path) -> str:
    """A path as a run names it: relative to the working folder when inside it, else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative == os.pardir or relative.startswith(os.pardir + os.sep) else relative


def common_folder(paths: list[str]) -> Path:
    folders = [os.path.dirname(os.path.abspath(p)) if p != "-" else os.getcwd() for p in paths]
    return Path(os.path.commonpath(folders)) if folders else Path.cwd()


def git_work_tree(folder: Path) -> Path | None:
    """The top of the git work tree holding ``folder``: the nearest folder with a ``.git``
    (a folder, or a file in linked work trees and submodules)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
