"""What the hostile-input tests share: a file with a known finding, to show that the rest of a
run is still linted, and the command line run with a deadline."""
from __future__ import annotations

import pytest

TELNET = "*filter\n-A INPUT -p tcp --dport 23 -j ACCEPT\nCOMMIT\n"  # PL201 at 2:25


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.rules"
    path.write_text(TELNET)
    return path


@pytest.fixture
def run(cli_process):
    """``python -m portlint ARGS`` that must end within ``timeout`` seconds (a blocking read
    fails the test instead of hanging it) and print no traceback."""

    def run_cli(*args, timeout: float = 30, **kwargs):
        result = cli_process(*args, timeout=timeout, **kwargs)
        assert "Traceback" not in result.out + result.err
        return result

    return run_cli
