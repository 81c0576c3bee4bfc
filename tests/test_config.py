"""Configuration files: discovery, every key, and errors that stop the run with exit 2."""
from __future__ import annotations

import textwrap

import pytest

RULES = textwrap.dedent("""\
    *filter
    :INPUT DROP [0:0]
    -A INPUT -p tcp -m multiport --dports 23,8443 -j ACCEPT
    -A INPUT -p udp --dport 40000:42000 -j ACCEPT
    COMMIT
""")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "rules.v4").write_text(RULES)

    def write(name: str, text: str):
        (tmp_path / name).write_text(textwrap.dedent(text))
        return tmp_path
    return write


def codes(result):
    return sorted({f["code"] for f in result.json()})


def test_pyproject_table_is_found_walking_up(cli, project):
    root = project("pyproject.toml", """\
        [project]
        name = "infra"
        [tool.portlint]
        select = ["PL201"]
    """)
    assert codes(cli(root / "etc" / "rules.v4", "--output-format", "json")) == ["PL201"]


def test_pyproject_without_the_table_is_not_a_configuration(cli, project):
    root = project("pyproject.toml", "[project]\nname = 'infra'\n")
    assert "PL302" in codes(cli(root / "etc", "--output-format", "json"))


def test_portlint_yaml_with_severity_fail_on_and_rule_options(cli, project):
    root = project(".portlint.yaml", """\
        severity:
          cleartext-service: info
        fail-on: warning
        rules:
          broad-port-range:
            min-ports: 4096
    """)
    result = cli(root / "etc", "--output-format", "json")
    by_code = {f["code"]: f for f in result.json()}
    assert by_code["PL201"]["severity"] == "info"
    assert "PL302" not in by_code  # 2001 ports are narrow with min-ports 4096
    assert "PL102" in by_code  # ... so the per-port rules judge them
    assert result.code == 1


def test_toml_file_beats_yaml_in_the_same_folder_and_cli_wins(cli, project):
    project(".portlint.yaml", "select: [PL102]\n")
    root = project(".portlint.toml", 'select = ["PL201"]\nfail-on = "error"\n')
    assert codes(cli(root / "etc", "--output-format", "json")) == ["PL201"]
    assert cli(root / "etc").code == 0  # fail-on error from the file
    assert cli(root / "etc", "--fail-on", "warning").code == 1
    assert codes(cli(root / "etc", "--output-format", "json", "--select", "PL302")) == ["PL302"]
    assert codes(cli(root / "etc", "--output-format", "json", "--extend-select", "PL302")) == ["PL201", "PL302"]


def test_allow_and_site_catalog(cli, project):
    project("site-ports.yaml", """\
        services:
          - {port: 8443/tcp, name: admin-ui, description: our admin UI}
    """)
    root = project(".portlint.toml", """\
        catalog = "site-ports.yaml"
        [[allow]]
        port = "23/tcp"
        reason = "the switch console, on an isolated VLAN"
    """)
    result = cli(root / "etc", "--output-format", "json", "--select", "PL102,PL201")
    messages = [f["message"] for f in result.json()]
    assert not any("23" in m.split("/")[0] for m in messages)  # telnet is allowed
    assert not any("8443" in m for m in messages)  # 8443 is known to the site catalog


def test_ephemeral_range_from_the_configuration(cli, project):
    root = project(".portlint.toml", 'ephemeral-range = "linux"\nselect = ["PL301"]\n[rules.broad-port-range]\nmin-ports = 65536\n')
    assert codes(cli(root / "etc", "--output-format", "json")) == ["PL301"]


def test_isolated_and_explicit_config(cli, project, tmp_path):
    root = project(".portlint.toml", 'select = ["PL201"]\n')
    assert "PL302" in codes(cli(root / "etc", "--isolated", "--output-format", "json"))
    other = tmp_path / "other.toml"
    other.write_text('select = ["PL302"]\n')
    assert codes(cli(root / "etc", "--config", other, "--output-format", "json")) == ["PL302"]


@pytest.mark.parametrize("text,message", [
    ('selct = ["PL201"]\n', "unknown key 'selct' in .portlint.toml"),
    ('fail-on = "fatal"\n', "fail-on: unknown severity 'fatal'"),
    ('[severity]\nPL999 = "error"\n', "severity.PL999: unknown rule 'PL999'"),
    ('[rules.broad-port-range]\nmin-port = 10\n', "rules.broad-port-range.min-port: unknown option of broad-port-range"),
    ('[rules.broad-port-range]\nmin-ports = "10"\n', "expected int"),
    ('[[allow]]\nport = "23/tcp"\n', "allow[0]: an allowance needs a reason"),
    ('[[allow]]\nport = "70000"\nreason = "x"\n', "not a range within 0-65535"),
    ('select = ["PL9"]\n', "unknown rule selector 'PL9'"),
    ('select = [\n', "cannot read"),
    ('catalog = "missing.yaml"\n', "does not exist"),
])
def test_bad_configuration_stops_the_run(cli, project, text, message):
    root = project(".portlint.toml", text)
    result = cli(root / "etc")
    assert result.code == 2
    assert message in result.err
    assert str(root / ".portlint.toml") in result.err or "unknown rule selector" in result.err


def test_yaml_size_limit(cli, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: x\n    ports: ['23:23']\n" + "# padding\n" * 120_000)
    result = cli(compose, "--isolated", "--output-format", "json")
    assert [f["code"] for f in result.json()] == ["PL201", "PL401"]  # 1.2 MB is below 10 MB
    (tmp_path / ".portlint.toml").write_text("yaml-size-limit = 1\n")
    (finding,) = cli(compose, "--output-format", "json").json()
    assert (finding["code"], finding["line"]) == ("PL001", 1)
    assert "above the YAML size limit of 1 MB (yaml-size-limit): not read" in finding["message"]
    (tmp_path / ".portlint.toml").write_text("yaml-size-limit = 0\n")
    bad = cli(compose)
    assert bad.code == 2 and "yaml-size-limit: expected a whole number of megabytes" in bad.err
