"""Where portlint's data lives: inside the wheel (``portlint/data/``), or in a source checkout."""
from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
#: Data folder name in the wheel -> its place in a source checkout.
_SOURCE_DIRS = {"grammars": "grammars", "catalog": "catalog", "rules": "docs/rules"}


def data_dir(kind: str) -> Path:
    """``grammars``, ``catalog`` or ``rules`` (the rule documentation pages)."""
    installed = _PACKAGE / "data" / kind
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / _SOURCE_DIRS[kind]
