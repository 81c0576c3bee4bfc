"""Third-party plugins through real entry points: they work from the CLI, and a broken one is
reported as PL000 naming it while the run goes on."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent
RULES = textwrap.dedent("""\
    *filter
    :INPUT DROP [0:0]
    -A INPUT -p tcp -m tcp --dport 8443 -j ACCEPT
    -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT
    COMMIT
""")


@pytest.fixture
def rules_file(tmp_path):
    path = tmp_path / "rules.v4"
    path.write_text(RULES)
    return path


def test_plugin_rule_and_reporter_work_from_the_cli(cli_process, plugin_site, rules_file):
    plugin_site.install("portlint-example", HERE / "portlint_example.py", "example")
    env = plugin_site.env
    listed = cli_process("rules", env=env)
    assert "EXA001  admin-ui-exposed" in listed.out
    result = cli_process("check", rules_file, "--output-format", "count", env=env)
    assert result.out.splitlines() == ["EXA001 1", "PL201 1"]
    assert result.code == 1
    text = cli_process("check", rules_file, "--select", "EXA001", env=env)
    assert "rules.v4:3:32: EXA001 [error] 8443/tcp (admin UI) accepted from any source on INPUT" in text.out


def test_plugin_that_fails_to_import_is_reported_and_the_run_goes_on(cli_process, plugin_site, rules_file):
    plugin_site.install("broken-import", "raise RuntimeError('missing dependency')\n")
    result = cli_process("check", rules_file, env=plugin_site.env)
    assert "PL000 [error] plugin 'broken-import': failed to load" in result.out
    assert "missing dependency" in result.out
    assert "PL201" in result.out  # the built-in rules still ran
    assert result.code == 2
    assert "Traceback" not in result.out + result.err


def test_rule_that_raises_is_an_internal_error_naming_the_plugin(cli_process, plugin_site, rules_file, tmp_path):
    plugin_site.install("raising-rule", """\
        from portlint.findings import Severity
        from portlint.hookspecs import hookimpl
        from portlint.rules import Rule

        class Boom(Rule):
            code = "BOOM001"
            name = "boom"
            severity = Severity.WARNING
            summary = "always raises"

            def check(self, ctx):
                raise ZeroDivisionError("boom")

        @hookimpl
        def portlint_register_rules():
            return [Boom]
    """)
    other = tmp_path / "other.rules"
    other.write_text(RULES)
    result = cli_process("check", rules_file, other, "--output-format", "json", env=plugin_site.env)
    findings = result.json()
    internal = [f for f in findings if f["code"] == "PL000"]
    assert {f["path"] for f in internal} == {str(rules_file), str(other)}
    assert all("rule BOOM001 (boom, plugin raising-rule) crashed: ZeroDivisionError: boom" in f["message"]
               for f in internal)
    assert sum(f["code"] == "PL201" for f in findings) == 2  # both files were still linted
    assert result.code == 2
    debug = cli_process("check", rules_file, "--debug", env=plugin_site.env)
    assert "Traceback" in debug.err and "ZeroDivisionError" in debug.err


def test_plugin_with_a_misspelt_hook_is_rejected(cli_process, plugin_site, rules_file):
    plugin_site.install("misspelt", """\
        from portlint.hookspecs import hookimpl

        @hookimpl
        def portlint_register_rule():
            return []
    """)
    result = cli_process("check", rules_file, env=plugin_site.env)
    assert "plugin 'misspelt': failed to load" in result.out
    assert "portlint_register_rule" in result.out
    assert result.code == 2


def test_plugin_rule_code_collision_is_reported(cli_process, plugin_site, rules_file):
    plugin_site.install("collision", """\
        from portlint.findings import Severity
        from portlint.hookspecs import hookimpl
        from portlint.rules import Rule

        class Clash(Rule):
            code = "PL101"
            name = "my-reserved"
            severity = Severity.WARNING
            summary = "clashes"

            def check(self, ctx):
                return ()

        @hookimpl
        def portlint_register_rules():
            return [Clash]
    """)
    result = cli_process("check", rules_file, env=plugin_site.env)
    assert "plugin 'collision': rule code PL101 is already registered by portlint.rules.catalog_facts" in result.out
    assert result.code == 2


def test_builtins_register_through_the_public_hooks(registry):
    assert set(registry.parsers) >= {"iptables"}
    assert {"text", "json"} <= set(registry.reporters)
    assert registry.origin[registry.rules["PL101"]] == "portlint.rules.catalog_facts"
    assert registry.failures == []


def test_a_plugin_extends_the_catalog_and_the_risk_lists(cli_process, plugin_site, tmp_path):
    plugin_site.install("site-risks", """\
        from portlint.catalog import ASSIGNED, CatalogEntry, Risk
        from portlint.hookspecs import hookimpl

        @hookimpl
        def portlint_catalog_entries():
            return [CatalogEntry(7777, 7777, "tcp", "site", ASSIGNED, "billing-admin", "our billing console"),
                    Risk(7777, 7777, "tcp", "admin", "billing-admin", "", "internal runbook 12")]
    """)
    rules = tmp_path / "rules.v4"
    rules.write_text("*filter\n-A INPUT -p tcp --dport 7777 -j ACCEPT\nCOMMIT\n")
    result = cli_process("check", "--isolated", rules, "--output-format", "json", env=plugin_site.env)
    assert [(f["code"], f["message"].split(" accepted")[0]) for f in result.json()] == [
        ("PL203", "7777/tcp (billing-admin)")]  # admin plane by the plugin; no PL102: assigned


def test_a_reporter_that_raises_is_an_internal_error_and_the_findings_still_print(cli_process, plugin_site, rules_file):
    plugin_site.install("broken-reporter", """\
        from portlint.hookspecs import hookimpl
        from portlint.reporters import Reporter

        class Broken(Reporter):
            name = "broken"

            def report(self, report):
                self.stream.write("half a line")
                raise RuntimeError("disk full")

        @hookimpl
        def portlint_register_reporters():
            return [Broken]
    """)
    result = cli_process("check", "--isolated", rules_file, "--output-format", "broken", env=plugin_site.env)
    assert result.code == 2
    assert "PL000 [error] reporter 'broken' (plugin broken-reporter) crashed: RuntimeError: disk full" in result.out
    assert "PL201" in result.out and "Traceback" not in result.out + result.err


@pytest.mark.parametrize("patterns", [("*.fw", "firewall"), ["FW-*.rules"], ()])
def test_a_parser_claims_the_names_its_patterns_match_in_any_case(registry, patterns):
    """Name patterns are fnmatch globs on the lower-cased base name, for the built-in parsers and
    for a plugin's (whose ``patterns`` may be a list, or empty)."""
    import fnmatch

    from portlint.parsers import Parser

    class PluginParser(Parser):
        name = "plugin"

    PluginParser.patterns = patterns
    names = ["a.fw", "A.FW", "firewall", "firewall.bak", "fw-1.rules", "rules.v4", "RULES.V6", "compose.yaml",
             "docker-compose.prod.yml", "compose.yaml.orig", "x.nft", "nftables.conf", "iptables-save-2024", ""]
    for parser in [*registry.parsers.values(), PluginParser()]:
        for name in names:
            expected = any(fnmatch.fnmatchcase(name.lower(), p) for p in parser.patterns)
            assert parser.matches_name(name) == expected, (parser.name, name)
