"""Helpers shared by the machine-readable reporters."""
from __future__ import annotations

import functools
import json
import os
from pathlib import PurePath
from typing import Iterable, TextIO


@functools.lru_cache(maxsize=4096)
def project_path(path: str, root: str) -> str:
    """``path`` as CI tools want it: relative to ``root`` (the working directory, normally the
    repository's top) with forward slashes; absolute where it lies outside ``root``."""
    if not path:
        return path
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute, root)
    except ValueError:  # another drive
        return PurePath(absolute).as_posix()
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return PurePath(absolute).as_posix()
    return PurePath(relative).as_posix()


def write_json(stream: TextIO, document: dict | list, items: Iterable) -> None:
    """Write ``document`` indented, with ``items`` (its big array: SARIF results, Code Quality
    issues) one compact item per line in place of the empty list that must be ``document``'s
    last value, at any depth. As readable as ``json.dump(indent=2)`` and several times faster on
    large reports: ``indent`` makes the json module leave its C encoder for pure Python. The
    items may be made as they are written (``portlint ports`` of a big file)."""
    head, _, tail = json.dumps(document, indent=2).rpartition("[]")
    last_line = head[head.rfind("\n") + 1:]
    indent = "\n" + " " * (len(last_line) - len(last_line.lstrip(" ")))
    write = stream.write
    write(head + "[")
    first = separator = indent + "  "
    for item in items:
        write(separator + json.dumps(item))
        separator = "," + indent + "  "
    write((indent if separator is not first else "") + "]" + tail + "\n")
