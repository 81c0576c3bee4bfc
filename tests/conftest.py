"""Shared fixtures: the real CLI (in-process and as a process), linting a text, ../shared."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared() -> Path:
    """``../shared`` (corpus, schemas, tools, IANA CSV); tests that need it skip without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent: the corpus, schemas and reference data live there")
    return SHARED


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``portlint ARGS`` in this process; ``stdin`` may be str or bytes."""
    from portlint.cli import main

    def run(*args: str, stdin: str | bytes | None = None) -> Result:
        if stdin is not None:
            data = stdin.encode() if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def cli_process():
    """Run ``python -m portlint ARGS`` as its own process (exit codes, tracebacks, stdin)."""

    def run(*args: str, stdin: str | bytes | None = None, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> Result:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run([sys.executable, "-m", "portlint", *map(str, args)], input=data,
                              capture_output=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=timeout)
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run


class PluginSite:
    """A folder of installed plugins: each a module and a dist-info whose entry point is in group
    ``portlint``, which is exactly what ``pip install`` of a plugin package leaves behind."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def install(self, name: str, module_source: str | Path, entry_name: str | None = None) -> None:
        module = name.replace("-", "_")
        if isinstance(module_source, Path):
            shutil.copy(module_source, self.path / f"{module}.py")
        else:
            (self.path / f"{module}.py").write_text(textwrap.dedent(module_source))
        dist = self.path / f"{module}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (dist / "entry_points.txt").write_text(f"[portlint]\n{entry_name or name} = {module}\n")

    @property
    def env(self) -> dict:
        """The environment of a ``cli_process`` run that sees these plugins."""
        return {"PYTHONPATH": os.pathsep.join([str(self.path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


@pytest.fixture
def plugin_site(tmp_path) -> PluginSite:
    path = tmp_path / "site"
    path.mkdir()
    return PluginSite(path)


@pytest.fixture(scope="session")
def registry():
    from portlint.plugins import load_registry

    return load_registry(entry_points=False)


@pytest.fixture
def lint(registry):
    """Lint ``text`` as ``fmt`` with the given selection; returns the findings."""
    from portlint.catalog import load
    from portlint.linter import Linter, Selection
    from portlint.rules import Settings

    def run(text: str, fmt: str, select=None, ignore=None, settings: Settings | None = None, path="input"):
        selection = Selection(registry.rules.values(), select, ignore)
        linter = Linter(registry, load(), settings or Settings(), selection)
        _, findings = linter.lint_text(text, path, fmt)
        return findings

    return run


@pytest.fixture
def parse(registry):
    """Parse ``text`` as ``fmt`` into a Document."""

    def run(text: str, fmt: str, path: str = "input"):
        return registry.parsers[fmt].parse(text, path)

    return run
