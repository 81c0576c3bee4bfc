"""``--output-format sarif``: SARIF 2.1.0, valid against the OASIS schema, describing every
rule and locating every result relative to %SRCROOT%."""
from __future__ import annotations

import functools
import inspect
import json
from pathlib import Path

import pytest

import portlint
from portlint.findings import Severity
from portlint.rules import Rule

RULE_PAGE = "https://github.com/portlint/portlint/blob/main/docs/rules/{}.md"


class SiteRule(Rule):
    """The admin UI of the site must stay closed.

    A rule from a plugin: it has no page in portlint's documentation."""

    code = "EXA001"
    name = "site-admin-ui"
    severity = Severity.ERROR
    summary = "the site's admin UI is opened"
    default_enabled = False

    def check(self, ctx):
        return ()


@functools.cache
def load_validator(path: Path):
    import jsonschema

    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@pytest.fixture
def schema(shared):
    path = shared / "schemas" / "sarif-schema-2.1.0.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the SARIF 2.1.0 schema the output is validated against")
    return load_validator(path)


@pytest.fixture
def plugin_rule(monkeypatch):
    """SiteRule registered as if by a plugin."""
    import portlint.plugins

    load = portlint.plugins.load_registry

    def load_with_the_rule(*args, **kwargs):
        registry = load(*args, **kwargs)
        registry.rules[SiteRule.code] = SiteRule
        registry.origin[SiteRule] = "site-plugin"
        return registry

    monkeypatch.setattr(portlint.plugins, "load_registry", load_with_the_rule)


def sarif(cli, *args):
    result = cli(*args, "--output-format", "sarif")
    return result.code, result.json()


def test_the_driver_describes_every_registered_rule(cli, project, registry):
    _, log = sarif(cli, "clean.rules")
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("portlint", portlint.__version__)
    assert driver["informationUri"] == "https://github.com/portlint/portlint"
    assert [r["id"] for r in driver["rules"]] == sorted(registry.rules)
    from portlint.rules.services import CleartextService

    assert driver["rules"][sorted(registry.rules).index("PL201")] == {
        "id": "PL201", "name": "cleartext-service",
        "shortDescription": {"text": "a legacy cleartext service is opened"},
        "fullDescription": {"text": inspect.cleandoc(CleartextService.__doc__)},
        "helpUri": RULE_PAGE.format("PL201"),
        "defaultConfiguration": {"level": "warning"},
    }
    levels = {r["id"]: r["defaultConfiguration"] for r in driver["rules"]}
    assert levels["PL000"] == {"level": "error"}
    assert levels["PL104"] == {"level": "note", "enabled": False}  # opt-in


def test_a_plugin_rule_has_its_docstring_and_no_portlint_page(cli, project, plugin_rule):
    _, log = sarif(cli, "clean.rules")
    (site,) = [r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "EXA001"]
    assert site == {
        "id": "EXA001", "name": "site-admin-ui",
        "shortDescription": {"text": "the site's admin UI is opened"},
        "fullDescription": {"text": "The admin UI of the site must stay closed.\n\n"
                                    "A rule from a plugin: it has no page in portlint's documentation."},
        "defaultConfiguration": {"level": "error", "enabled": False},
    }


def test_results_have_level_location_region_and_fingerprint(cli, project):
    code, log = sarif(cli, "etc/rules.v4", "clean.rules", *project.select)
    assert code == 1
    (run,) = log["runs"]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    fingerprints = [f["fingerprint"] for f in cli("etc/rules.v4", *project.select, "--output-format", "json").json()]
    expected = [("PL201", "warning", 3, 34), ("PL203", "error", 4, 36), ("PL104", "note", 5, 34)]
    assert run["results"] == [
        {"ruleId": code, "ruleIndex": rule_ids.index(code), "level": level,
         "message": {"text": project.messages[code]},
         "locations": [{"physicalLocation": {
             "artifactLocation": {"uri": "etc/rules.v4", "uriBaseId": "%SRCROOT%"},
             "region": {"startLine": line, "startColumn": 32, "endLine": line, "endColumn": end}}}],
         "partialFingerprints": {"portlintFingerprint/v1": fingerprint}}
        for (code, level, line, end), fingerprint in zip(expected, fingerprints)
    ]
    assert run["invocations"] == [{"executionSuccessful": True}]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": project.root.as_uri() + "/"}}
    assert run["columnKind"] == "unicodeCodePoints"


DUPLICATE = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n" \
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"


def test_the_places_a_message_names_are_related_locations(cli, project):
    (project.root / "dup.rules").write_text(DUPLICATE)
    _, log = sarif(cli, "dup.rules", "--select", "PL403")
    (result,) = log["runs"][0]["results"]
    assert result["message"]["text"].startswith("same matches and verdict as line 3 ")
    assert result["relatedLocations"] == [{"id": 0, "physicalLocation": {
        "artifactLocation": {"uri": "dup.rules", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 1, "endLine": 3}}}]


def test_uris_are_percent_encoded_and_absolute_outside_the_working_directory(cli, project, tmp_path_factory):
    (project.root / "with space").mkdir()
    (project.root / "with space" / "rules.v4").write_text((project.root / "etc" / "rules.v4").read_text())
    outside = tmp_path_factory.mktemp("elsewhere") / "rules.v4"
    outside.write_text((project.root / "etc" / "rules.v4").read_text())
    _, log = sarif(cli, "with space/rules.v4", outside, "--select", "PL201")
    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"]]
    assert sorted(artifacts, key=str) == sorted([
        {"uri": "with%20space/rules.v4", "uriBaseId": "%SRCROOT%"},
        {"uri": outside.as_uri()},
    ], key=str)


def test_an_internal_error_of_no_file_is_a_notification_not_a_result(cli, project, broken_plugin):
    code, log = sarif(cli, "etc/rules.v4", "--select", "PL201")
    assert code == 2
    (run,) = log["runs"]
    assert [r["ruleId"] for r in run["results"]] == ["PL201"]  # the run went on
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert run["invocations"] == [{
        "executionSuccessful": False,
        "toolExecutionNotifications": [{"level": "error", "message": {"text": broken_plugin},
                                        "associatedRule": {"id": "PL000", "index": rule_ids.index("PL000")}}],
    }]


def test_an_internal_error_in_a_file_is_a_result_and_the_run_unsuccessful(cli, project, crashing_rule):
    crashing_rule("boom")
    code, log = sarif(cli, "etc/rules.v4", "--select", "PL201")
    assert code == 2
    (run,) = log["runs"]
    (result,) = run["results"]
    assert result["ruleId"] == "PL000" and result["level"] == "error"
    assert result["message"]["text"].endswith("crashed: ZeroDivisionError: boom")
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1, "endLine": 1}
    assert run["invocations"] == [{"executionSuccessful": False}]


def test_a_path_that_cannot_be_read_is_a_notification(cli, project):
    code, log = sarif(cli, "clean.rules", "missing.rules")
    assert code == 2
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error" and "missing.rules" in notification["message"]["text"]


def test_no_findings_is_an_empty_results_array(cli, project):
    code, log = sarif(cli, "clean.rules")
    assert code == 0
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"] == [{"executionSuccessful": True}]


SCENARIOS = {
    "findings": ("etc/rules.v4", "clean.rules", "--select", "ALL"),
    "clean": ("clean.rules",),
    "odd names and a path outside": ("with space/a,b:c%.rules", "{outside}"),
    "unreadable path": ("clean.rules", "missing.rules"),
    "related locations": ("dup.rules", "--select", "PL403"),
}


@pytest.mark.parametrize("scenario", [*SCENARIOS, "internal errors", "plugin rule"])
def test_validates_against_the_sarif_schema(cli, project, schema, scenario, request, tmp_path_factory):
    mixed = (project.root / "etc" / "rules.v4").read_text()
    (project.root / "with space").mkdir()
    (project.root / "with space" / "a,b:c%.rules").write_text(mixed)
    outside = tmp_path_factory.mktemp("elsewhere") / "rules.v4"
    outside.write_text(mixed)
    (project.root / "dup.rules").write_text(DUPLICATE)
    args = [arg.format(outside=outside) for arg in SCENARIOS.get(scenario, ("etc/rules.v4",))]
    if scenario == "internal errors":
        request.getfixturevalue("broken_plugin")
        request.getfixturevalue("crashing_rule")("boom")
    elif scenario == "plugin rule":
        request.getfixturevalue("plugin_rule")
    _, log = sarif(cli, *args)
    errors = sorted(schema.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    assert log["runs"][0]["results"] or scenario in ("clean", "unreadable path")


def test_the_schema_check_can_fail(schema):
    """The validation above is real: a result without a message is rejected."""
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "portlint"}}, "results": [{"ruleId": "PL201"}]}]}
    assert any("'message' is a required property" in e.message for e in schema.iter_errors(log))
