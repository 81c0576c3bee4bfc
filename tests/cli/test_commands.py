"""``portlint ports``, ``rules``, ``explain`` and ``port``."""
from __future__ import annotations

import pytest

DUMP = """\
*filter
:INPUT DROP [0:0]
-A INPUT -p tcp -m multiport --ports 1,2 -j ACCEPT
-A INPUT -p udp -m udp ! --sport 53 --dport 5353 -j ACCEPT
-A INPUT -i lo -j ACCEPT
COMMIT
*nat
-A PREROUTING -p tcp --dport 80 -j DNAT --to-destination 10.0.0.1:8080
COMMIT
"""


@pytest.fixture
def dump(tmp_path):
    path = tmp_path / "rules.v4"
    path.write_text(DUMP)
    return path


def test_ports_json_inventory(cli, dump):
    result = cli("ports", dump, "--output-format", "json")
    assert result.code == 0
    either, udp, dnat = result.json()  # the rule without ports is not in the inventory
    assert either == {
        "path": str(dump), "line": 3, "column": 1, "format": "iptables", "family": "ip", "table": "filter",
        "chain": "INPUT", "proto": "tcp", "dport": [[1, 1], [2, 2]], "sport": [[1, 1], [2, 2]],
        "dport_negated": False, "sport_negated": False, "rule_line": 3, "either": True, "action": "accept",
        "target": "ACCEPT", "to_address": None, "to_ports": None,
    }
    assert (udp["dport"], udp["sport"], udp["sport_negated"], udp["dport_negated"]) == ([[5353, 5353]], [[53, 53]], True, False)
    assert (dnat["table"], dnat["action"], dnat["to_address"], dnat["to_ports"]) == ("nat", "dnat", "10.0.0.1", [[8080, 8080]])


def test_ports_table_for_people(cli, dump):
    lines = cli("ports", dump).out.splitlines()
    assert lines[0].split() == ["LOCATION", "WHERE", "PROTO", "DPORT", "SPORT", "ACTION"]
    assert lines[1].split() == [f"{dump}:3", "ip/filter/INPUT", "tcp", "1,2", "(either)", "-", "accept"]
    assert lines[2].split() == [f"{dump}:4", "ip/filter/INPUT", "udp", "5353", "!53", "accept"]


def test_ports_of_a_file_without_ports(cli, tmp_path):
    path = tmp_path / "rules.v4"
    path.write_text("*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n")
    assert cli("ports", path).out == "LOCATION  WHERE  PROTO  DPORT  SPORT  ACTION\n"
    assert cli("ports", path, "--output-format", "json").out == "[]\n"


def test_ports_reports_what_it_could_not_read(cli, tmp_path):
    path = tmp_path / "rules.v4"
    path.write_text("*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\ngarbage\nCOMMIT\n")
    result = cli("ports", path, "--output-format", "json")
    assert result.code == 1
    assert [r["line"] for r in result.json()] == [2]
    assert f"{path}:3:1: PL001" in result.err


def test_rules_listing(cli):
    text = cli("rules").out
    assert "PL201  cleartext-service" in text
    rules = cli("rules", "--output-format", "json").json()
    codes = [r["code"] for r in rules]
    assert codes == sorted(codes) and {"PL000", "PL001", "PL002", "PL101", "PL102", "PL201", "PL301"} <= set(codes)
    pl302 = next(r for r in rules if r["code"] == "PL302")
    assert pl302 == {"code": "PL302", "name": "broad-port-range", "severity": "warning",
                     "summary": pl302["summary"], "default_enabled": True, "options": {"min-ports": 1024},
                     "plugin": "portlint.rules.ranges"}


@pytest.mark.parametrize("key", ["PL201", "pl201", "cleartext-service"])
def test_explain_prints_the_rule_page(cli, key):
    result = cli("explain", key)
    assert result.code == 0
    assert result.out.startswith("# PL201 cleartext-service")
    assert "## How to fix" in result.out


def test_explain_unknown_rule(cli):
    result = cli("explain", "PL999")
    assert result.code == 2 and "unknown rule 'PL999'" in result.err


def test_port_by_number(cli):
    out = cli("port", "23").out
    assert out.startswith("23/tcp: assigned, well-known range\n")
    assert "iana  telnet - Telnet" in out
    assert "seed  Telnet" in out
    assert "risk: cleartext (telnet): use SSH (22/tcp) instead" in out
    assert "23/udp: assigned, well-known range" in out


def test_port_by_service_name_and_protocol(cli):
    records = cli("port", "telnet", "--output-format", "json").json()
    assert [(r["port"], r["protocol"]) for r in records] == [(23, "tcp"), (23, "udp")]
    (udp,) = cli("port", "49160/udp", "--output-format", "json").json()
    assert (udp["status"], udp["range_class"], udp["ephemeral"]) == ("unassigned", "dynamic", True)
    (linux,) = cli("port", "40000/tcp", "--ephemeral-range", "linux", "--output-format", "json").json()
    assert linux["ephemeral"] and linux["ephemeral_range"] == {"preset": "linux", "start": 32768, "end": 60999}


def test_port_range_and_seed_notes(cli):
    records = cli("port", "350-360", "--output-format", "json").json()
    assert [r["port"] for r in records] == [p for p in range(350, 361) for _ in ("tcp", "udp")]
    (trojan,) = cli("port", "911/tcp", "--output-format", "json").json()
    assert "Dark Shadow (trojan)" in trojan["notes"] and "trojan" in trojan["tags"]
    (reserved,) = cli("port", "1023/tcp", "--output-format", "json").json()
    assert reserved["status"] == "reserved"


@pytest.mark.parametrize("query,message", [
    ("nosuchservice", "unknown service name 'nosuchservice'"),
    ("70000", "not a port or range within 0-65535"),
    ("0-65535", "ask for at most"),
    ("22/icmp", "cannot read"),
])
def test_port_query_errors(cli, query, message):
    result = cli("port", query)
    assert result.code == 2 and message in result.err


@pytest.mark.parametrize("columns", ["60", "120"])
def test_help_is_what_argparse_itself_formats_at_the_terminal_width(monkeypatch, columns):
    """The help formatter asks the terminal its width once per process instead of once per
    option; the help it formats is argparse's own."""
    import argparse

    from portlint import cli

    monkeypatch.setenv("COLUMNS", columns)
    cli._terminal_width.cache_clear()
    try:
        parser = cli.build_parser()
        commands = parser._subparsers._group_actions[0].choices
        for command in [parser, *commands.values()]:
            ours = command.format_help()
            command.formatter_class = argparse.HelpFormatter
            assert ours == command.format_help()
    finally:
        cli._terminal_width.cache_clear()
