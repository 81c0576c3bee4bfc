"""The reference tools' answers on real-world files (../shared/corpus) through the real CLI."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("fmt", ["iptables", "nftables"])
def test_conformance_is_complete(shared, fmt):
    run = subprocess.run(
        [sys.executable, str(shared / "tools" / "conformance.py"), "--format", fmt,
         "--portlint", f"{sys.executable} -m portlint", "--show", "20"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "(100.0%)" in run.stdout
