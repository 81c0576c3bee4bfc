"""``pip install .`` into a fresh virtual environment gives a working portlint: the grammars,
the catalog and the rule pages ship inside the wheel."""
from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = dist.glob("portlint-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "portlint/data/grammars/iptables.lark" in names
    assert "portlint/data/catalog/ports.txt" in names
    assert "portlint/data/rules/PL201.md" in names
    assert not any(n.startswith(("grammars/", "catalog/", "tests/")) for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "[pytest11]\nportlint = portlint.pytest_plugin\n" in zipfile.ZipFile(wheel).read(entry_points).decode()

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    fresh = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the venv's packages
    bindir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    install = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                             capture_output=True, text=True, env=fresh, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr

    example = ROOT / "docs" / "examples" / "rules.v4"
    run = subprocess.run([str(bindir / "portlint"), str(example)], capture_output=True, text=True,
                         cwd=tmp_path, env=fresh, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "PL201 [warning] 23/tcp (telnet, cleartext)" in run.stdout
    location = subprocess.run([str(bindir / "python"), "-c", "import portlint; print(portlint.__file__)"],
                              capture_output=True, text=True, cwd=tmp_path, env=fresh)
    assert str(env_dir) in location.stdout
    explain = subprocess.run([str(bindir / "portlint"), "explain", "PL201"], capture_output=True, text=True, cwd=tmp_path, env=fresh)
    assert explain.returncode == 0 and "## How to fix" in explain.stdout
