"""portlint works with the oldest Lark its pyproject.toml allows.

The nftables fast path reads Lark's parse table and parser state (portlint/parsers/
nftables_fast.py), and grammars load through portlint's own reading of Lark's parse tables
(portlint/parsers/common.py): neither is a public API, so the parser tests run here once more,
in a subprocess, against the lowest Lark version the dependency accepts.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ["tests/parsers/test_nftables_fast_path.py", "tests/parsers/test_nftables.py",
         "tests/parsers/test_iptables.py", "tests/parsers/test_iptables_fast_path.py",
         "tests/parsers/test_grammar_loading.py"]


def lark_floor() -> str:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'"lark>=([0-9.]+)', pyproject)
    assert found, "pyproject.toml must give lark a lower bound"
    return found.group(1)


def test_the_parsers_agree_with_the_grammars_on_the_oldest_lark_allowed(tmp_path):
    version = lark_floor()
    target = tmp_path / "lark"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                              str(target), f"lark=={version}"], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.skip(f"lark=={version} cannot be installed here (no package index?): {install.stderr[-300:]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    probe = subprocess.run([sys.executable, "-c", "import lark; print(lark.__version__)"], env=env,
                           capture_output=True, text=True)
    assert probe.stdout.strip() == version, probe.stderr
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
