"""--statistics, --quiet and --color of the text output."""
from __future__ import annotations

import pytest

RULES = "*filter\n-A INPUT -p tcp -m multiport --dports 23,21 -j ACCEPT\n-A INPUT -p tcp --dport 110 -j ACCEPT\n-A INPUT -p tcp --dport 4 -j ACCEPT\nCOMMIT\n"


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "rules.v4"
    path.write_text(RULES)
    return path


def test_statistics_counts_findings_per_rule(cli, rules):
    result = cli(rules, "--statistics", "--isolated")
    assert result.out.splitlines() == ["     2  PL201  cleartext-service", "     1  PL102  unassigned-port"]
    assert result.code == 1


def test_quiet_prints_no_summary(cli, rules):
    out = cli(rules, "--quiet", "--isolated").out
    assert "Found" not in out and "PL201" in out


@pytest.mark.parametrize("args,env,coloured", [
    (["--color", "always"], {}, True),
    (["--color", "never"], {"FORCE_COLOR": "1"}, False),
    ([], {"FORCE_COLOR": "1"}, True),
    ([], {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
    ([], {}, False),  # not a terminal
])
def test_color(cli, rules, monkeypatch, args, env, coloured):
    for key in ("FORCE_COLOR", "NO_COLOR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = cli(rules, "--isolated", *args).out
    assert ("\033[" in out) is coloured
