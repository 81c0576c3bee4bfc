"""Inputs for the reporter tests: a project in the working directory whose files raise one
finding of each severity, a clean file, and the two kinds of internal error."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

#: PL201 warning at 3:32-34, PL203 error at 4:32-36, PL104 info at 5:32-34 (when selected).
MIXED = """\
*filter
:INPUT DROP [0:0]
-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 6379 -j ACCEPT
-A INPUT -p udp -m udp --dport 22 -j ACCEPT
COMMIT
"""
CLEAN = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"


@dataclass
class Project:
    root: Path
    #: Only the rules MIXED is about (and the PL0 input checks).
    select: tuple = ("--select", "PL0,PL104,PL201,PL203")
    messages: dict = field(default_factory=lambda: {
        "PL201": "23/tcp (telnet, cleartext) accepted from any source on INPUT; use SSH (22/tcp) instead",
        "PL203": "6379/tcp (redis) accepted from any source on INPUT: allow only the hosts that "
                 "administer it, or bind it to a private address",
        "PL104": "22/udp accepted from any source on INPUT: 22/udp is pcAnywhere in the seed reference, "
                 "22/tcp is SSH Remote Login Protocol",
    })


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    """A project that is the working directory: ``etc/rules.v4`` (MIXED), ``clean.rules``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "rules.v4").write_text(MIXED)
    (tmp_path / "clean.rules").write_text(CLEAN)
    return Project(tmp_path)


@pytest.fixture
def crashing_rule(monkeypatch):
    """PL201 raises on every file with ``message``: a PL000 located in each file."""
    from portlint.rules.services import CleartextService

    def use(message: str) -> None:
        def check(self, ctx):
            raise ZeroDivisionError(message)
        monkeypatch.setattr(CleartextService, "check", check)

    return use


@pytest.fixture
def broken_plugin(monkeypatch) -> str:
    """A plugin that could not be loaded: a PL000 that belongs to no file; its message."""
    import portlint.plugins

    load = portlint.plugins.load_registry

    def load_with_a_failure(*args, **kwargs):
        registry = load(*args, **kwargs)
        registry.fail("broken-plugin", "failed to load (broken:plugin): ImportError: no module named 'broken'")
        return registry

    monkeypatch.setattr(portlint.plugins, "load_registry", load_with_a_failure)
    return "plugin 'broken-plugin': failed to load (broken:plugin): ImportError: no module named 'broken'"
