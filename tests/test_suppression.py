"""Inline suppressions, per-file ignores and baselines, through the real CLI."""
from __future__ import annotations

import json
import textwrap

import pytest

TELNET_FTP = textwrap.dedent("""\
    *filter
    :INPUT DROP [0:0]
    -A INPUT -p tcp --dport 23 -j ACCEPT
    -A INPUT -p tcp --dport 21 -j ACCEPT
    COMMIT
""")


def codes_lines(result):
    return [(f["code"], f["line"]) for f in result.json()]


@pytest.fixture
def rules_file(tmp_path):
    def make(text, name="rules.v4"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
    return make


def test_a_comment_line_suppresses_the_next_statement_only(cli, rules_file):
    path = rules_file(TELNET_FTP.replace("-A INPUT -p tcp --dport 23", "# portlint: ignore[PL201] -- console\n\n-A INPUT -p tcp --dport 23"))
    assert codes_lines(cli(path, "--output-format", "json", "--isolated")) == [("PL201", 6)]


def test_ignore_file_and_codes_by_name(cli, rules_file):
    path = rules_file("# portlint: ignore-file[cleartext-service]\n" + TELNET_FTP)
    assert cli(path, "--isolated").code == 0


def test_a_suppression_without_codes_suppresses_everything_on_its_line(cli, rules_file):
    path = rules_file(TELNET_FTP.replace("--dport 23 -j ACCEPT", "--dport 23 -j ACCEPT  # portlint: ignore"))
    assert codes_lines(cli(path, "--output-format", "json", "--isolated")) == [("PL201", 4)]


def test_yaml_comments_suppress_one_item(cli, rules_file):
    path = rules_file(textwrap.dedent("""\
        services:
          legacy:
            image: busybox
            ports:
              # portlint: ignore[PL201] -- lab only
              - "2323:23"
              - "2121:21"  # portlint: ignore[PL201]
              - "2222:23"
        """), "compose.yaml")
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL201,PL004")
    assert codes_lines(result) == [("PL201", 8)]


def test_unused_codes_of_rules_not_selected_are_not_judged(cli, rules_file):
    path = rules_file("# portlint: ignore-file[PL101]\n" + TELNET_FTP)
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL004")
    assert codes_lines(result) == []


def test_per_file_ignores_and_exclude_from_the_configuration(cli, tmp_path, rules_file):
    rules_file(TELNET_FTP, "legacy/rules.v4")
    rules_file(TELNET_FTP, "edge/rules.v4")
    rules_file(TELNET_FTP, "vendor/rules.v4")
    (tmp_path / ".portlint.toml").write_text(textwrap.dedent("""\
        exclude = ["vendor/*"]
        [per-file-ignores]
        "legacy/*" = ["PL201"]
    """))
    result = cli(tmp_path, "--output-format", "json")
    assert sorted({f["path"].split("/")[-2] for f in result.json()}) == ["edge"]


def test_baseline_reports_only_new_findings(cli, tmp_path, rules_file):
    path = rules_file(TELNET_FTP)
    baseline = tmp_path / "baseline.json"
    written = cli(path, "--isolated", "--write-baseline", baseline)
    assert written.code == 0 and "wrote 2 findings" in written.err
    assert json.loads(baseline.read_text())["portlint-baseline"] == 1
    assert cli(path, "--isolated", "--baseline", baseline).code == 0
    # Lines moving does not matter; a new finding does.
    path.write_text(TELNET_FTP.replace(":INPUT DROP [0:0]\n", ":INPUT DROP [0:0]\n# moved\n").replace(
        "COMMIT", "-A INPUT -p tcp --dport 110 -j ACCEPT\nCOMMIT"))
    result = cli(path, "--isolated", "--baseline", baseline, "--output-format", "json")
    assert result.code == 1 and codes_lines(result) == [("PL201", 6)]


DUPLICATE_AND_SHADOWED = textwrap.dedent("""\
    *filter
    :INPUT DROP [0:0]
    -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
    -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
    -A INPUT -p tcp -j DROP
    -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
    COMMIT
    """)


def test_a_baseline_survives_the_lines_a_message_names_moving(cli, tmp_path, rules_file):
    """PL403 and PL404 name the earlier rule by its line; the fingerprint leaves that line out,
    as it leaves out the finding's own."""
    path = rules_file(DUPLICATE_AND_SHADOWED)
    first = cli(path, "--isolated", "--select", "PL403,PL404", "--output-format", "json").json()
    assert [(f["code"], f["line"], f["related"]) for f in first] == [
        ("PL403", 4, [{"path": str(path), "line": 3}]), ("PL404", 6, [{"path": str(path), "line": 5}])]
    baseline = tmp_path / "baseline.json"
    assert cli(path, "--isolated", "--select", "PL403,PL404", "--write-baseline", baseline).code == 0
    path.write_text(DUPLICATE_AND_SHADOWED.replace("*filter\n", "# moved\n# twice\n*filter\n"))
    moved = cli(path, "--isolated", "--select", "PL403,PL404", "--output-format", "json").json()
    assert [f["message"] for f in moved] != [f["message"] for f in first]  # "as line 5", not 3
    assert [f["fingerprint"] for f in moved] == [f["fingerprint"] for f in first]
    assert cli(path, "--isolated", "--select", "PL403,PL404", "--baseline", baseline).code == 0
    # a duplicate of another rule is another finding
    path.write_text(DUPLICATE_AND_SHADOWED.replace("COMMIT", "-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT\nCOMMIT"))
    result = cli(path, "--isolated", "--select", "PL403,PL404", "--baseline", baseline, "--output-format", "json")
    assert result.code == 1 and codes_lines(result) == [("PL403", 7)]


def test_a_broken_baseline_is_a_usage_error(cli, tmp_path, rules_file):
    bad = tmp_path / "baseline.json"
    bad.write_text("[]")
    result = cli(rules_file(TELNET_FTP), "--baseline", bad)
    assert result.code == 2 and "not a portlint baseline" in result.err


def test_nftables_hash_comments_and_comment_statements(cli, rules_file):
    path = rules_file(textwrap.dedent("""\
        table inet filter {
          chain input {
            type filter hook input priority 0; policy drop;
            # portlint: ignore[PL201] -- the switch console
            tcp dport 23 accept
            tcp dport 21 accept comment "portlint: ignore[cleartext-service]"
            tcp dport 110 accept
          }
        }
        """), "nftables.conf")
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL201,PL004")
    assert codes_lines(result) == [("PL201", 7)]


def test_shell_script_comments(cli, rules_file):
    path = rules_file(textwrap.dedent("""\
        #!/bin/sh
        # portlint: ignore[PL201] -- lab only
        iptables -A INPUT -p tcp --dport 23 -j ACCEPT
        iptables -A INPUT -p tcp --dport 21 -j ACCEPT  # portlint: ignore[PL201]
        for p in 110 143; do
          iptables -A INPUT -p tcp --dport "$p" -j ACCEPT
        done
        """), "firewall.sh")
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL201,PL004")
    assert codes_lines(result) == [("PL201", 6), ("PL201", 6)]


def test_a_directive_above_a_multi_line_nftables_rule_covers_its_every_element(cli, rules_file):
    rule = "tcp dport {\n      23,\n      21,\n      110\n    } accept"
    path = rules_file(textwrap.dedent(f"""\
        table inet filter {{
          chain input {{
            type filter hook input priority 0; policy drop;
            # portlint: ignore[PL201] -- the lab's old switches
            {rule}
            udp dport {{
              69
            }} accept
          }}
        }}
        """), "nftables.conf")
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL201,PL004")
    assert codes_lines(result) == [("PL201", 11)]  # tftp: the directive covers only its own rule
    trailing = path.read_text().replace("# portlint: ignore[PL201] -- the lab's old switches\n", "").replace(
        "tcp dport {", "tcp dport {  # portlint: ignore[cleartext-service]")
    path.write_text(trailing)
    result = cli(path, "--output-format", "json", "--isolated", "--select", "PL201,PL004")
    assert codes_lines(result) == [("PL201", 10)]
