"""The compose parser: the bindings it reads, where it places them, and what it reports."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from portlint.model import PortBinding, PortRange
from portlint.parsers import ParseOptions
from portlint.parsers.compose import TOP_LEVEL_KEYS, ComposeParser
from portlint.parsers.compose_ports import LONG_SYNTAX_KEYS

R = PortRange


def compose(ports: str, service: str = "app") -> str:
    """A compose file whose one service has these ``ports:`` lines (indented by the caller)."""
    return f"services:\n  {service}:\n    image: nginx\n    ports:\n{textwrap.indent(textwrap.dedent(ports), '      ')}"


def bindings(document) -> list[tuple]:
    return [(b.service, b.host_ip, b.published, b.target, b.protocol, b.kind)
            for b in document.declarations if isinstance(b, PortBinding)]


def codes(document) -> list[str]:
    """``line:column CODE`` of each diagnostic, in file order."""
    ordered = sorted(document.diagnostics, key=lambda d: (d.location.path, d.location.line, d.location.column))
    return [f"{d.location.line}:{d.location.column} {d.code}" for d in ordered]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


# -- short syntax ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry,expected", [
    ('"80"', (None, None, R(80, 80), "tcp")),
    ('"8080:80"', (None, R(8080, 8080), R(80, 80), "tcp")),
    ('"127.0.0.1:8080:80"', ("127.0.0.1", R(8080, 8080), R(80, 80), "tcp")),
    ('"[::1]:8080:80"', ("::1", R(8080, 8080), R(80, 80), "tcp")),
    ('"::1:8080:80"', ("::1", R(8080, 8080), R(80, 80), "tcp")),
    ('"fe80::1:8080:80"', ("fe80::1", R(8080, 8080), R(80, 80), "tcp")),
    ('"9000-9010:9000-9010"', (None, R(9000, 9010), R(9000, 9010), "tcp")),
    ('"9000-9010:80"', (None, R(9000, 9010), R(80, 80), "tcp")),
    ('"3000-3005"', (None, None, R(3000, 3005), "tcp")),
    ('"127.0.0.1::80"', ("127.0.0.1", None, R(80, 80), "tcp")),
    ('"80/udp"', (None, None, R(80, 80), "udp")),
    ('"8080:80/sctp"', (None, R(8080, 8080), R(80, 80), "sctp")),
    ('"53:53/UDP"', (None, R(53, 53), R(53, 53), "udp")),
    ("8080", (None, None, R(8080, 8080), "tcp")),
    ("56:56", (None, R(56, 56), R(56, 56), "tcp")),  # YAML 1.2: a string, not 3376 in base 60
])
def test_short_syntax(parse, entry, expected):
    document = parse(compose(f"- {entry}\n"), "compose")
    assert codes(document) == []
    assert bindings(document) == [("app", *expected, "ports")]


def test_long_syntax_reads_every_field(parse):
    document = parse(compose("""\
        - name: web
          target: 80
          host_ip: 127.0.0.1
          published: "8083-9000"
          protocol: udp
          app_protocol: http
          mode: host
          x-note: extensions are allowed
        - target: "443"
          published: 8443
        """), "compose")
    assert codes(document) == []
    first, second = document.declarations
    assert (first.host_ip, first.published, first.target, first.protocol, first.mode) == \
        ("127.0.0.1", R(8083, 9000), R(80, 80), "udp", "host")
    assert (second.published, second.target, second.protocol, second.mode) == (R(8443, 8443), R(443, 443), "tcp", None)


def test_expose_entries_are_container_only(parse):
    document = parse("services:\n  app:\n    expose:\n      - 3000\n      - \"4000-4001/udp\"\n", "compose")
    assert bindings(document) == [("app", None, None, R(3000, 3000), "tcp", "expose"),
                                  ("app", None, None, R(4000, 4001), "udp", "expose")]


def test_each_binding_is_located_at_its_item(parse):
    document = parse(compose("""\
        - "8080:80"
        - target: 443
          published: 8443
        - 9000
        """), "compose")
    spots = [(b.location.line, b.location.column, b.location.end_column) for b in document.declarations]
    assert spots == [(5, 9, 18), (6, 9, 15), (8, 9, 13)]


def test_anchors_and_merge_keys_keep_the_anchor_location(parse):
    document = parse(textwrap.dedent("""\
        x-web: &web
          ports:
            - "8080:80"
        services:
          one:
            <<: *web
          two:
            <<: *web
            ports:
              - "9090:90"
        """), "compose")
    assert [(b.service, b.location.line, b.target) for b in document.declarations] == \
        [("one", 3, R(80, 80)), ("two", 10, R(90, 90))]


# -- invalid input --------------------------------------------------------------------------

@pytest.mark.parametrize("entry,where,code,message", [
    ('"80:80:80:80"', "5:10", "PL001", "invalid host IP '80:80'"),
    ('"70000:80"', "5:10", "PL002", "invalid port 70000: ports are 0-65535"),
    ('"8080:70000"', "5:15", "PL002", "invalid port 70000"),
    ('"90-80:90-80"', "5:10", "PL002", "the first port is greater than the last"),
    ('"9000-9002:80-81"', "5:10", "PL002", "differ in length"),
    ('"1.2.3.4:80"', "5:20", "PL001", "unexpected end; expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"),
    ('"80:80/icmp"', "5:16", "PL001", "unknown protocol 'icmp'"),
    ('"http:80"', "5:10", "PL001", "unexpected 'h'"),
    ('"${PORT"', "5:10", "PL001", "invalid interpolation '${PORT'"),
    ("1.5", "5:9", "PL001", "port must be a string or an integer, not the number 1.5"),
    ("true", "5:9", "PL001", "not the boolean true"),
    ("{published: 80}", "5:10", "PL001", "needs a target"),
    ("{target: 80, bogus: 1}", "5:22", "PL001", "unknown key 'bogus'"),
    ("{target: 80, host_ip: '[::1]'}", "5:32", "PL001", "invalid host_ip '[::1]'"),
    ("{target: 80, mode: global}", "5:28", "PL001", "unknown mode 'global'"),
    ("{target: 80, published: 80a}", "5:33", "PL002", "invalid port '80a'"),
])
def test_a_bad_entry_is_reported_at_its_column_and_the_next_is_read(parse, entry, where, code, message):
    document = parse(compose(f"- {entry}\n- \"22:22\"\n"), "compose")
    assert codes(document) == [f"{where} {code}"]
    assert message in document.diagnostics[0].message
    assert bindings(document)[-1] == ("app", None, R(22, 22), R(22, 22), "tcp", "ports")


def test_ports_that_are_not_a_list(parse):
    document = parse("services:\n  a:\n    ports: \"80:80\"\n  b:\n    ports: [\"81:81\"]\n", "compose")
    assert codes(document) == ["3:12 PL001"]
    assert document.diagnostics[0].message == "ports must be a list, not the string '80:80'"
    assert [b.service for b in document.declarations] == ["b"]


def test_duplicate_keys_are_reported_and_the_first_is_read(parse):
    document = parse(textwrap.dedent("""\
        services:
          app:
            ports: ["80:80"]
            ports: ["81:81"]
          app:
            ports: ["82:82"]
        """), "compose")
    assert codes(document) == ["4:5 PL001", "5:3 PL001"]
    assert {d.message.split(":")[0] for d in document.diagnostics} == \
        {"duplicate key 'ports' (first defined at line 3)", "duplicate key 'app' (first defined at line 2)"}
    assert bindings(document) == [("app", None, R(80, 80), R(80, 80), "tcp", "ports")]


def test_a_tab_indented_file_is_reported_line_by_line_and_still_read(parse):
    document = parse("services:\n\tapp:\n\t\tports:\n\t\t\t- \"23:23\"\n", "compose")
    assert codes(document) == ["2:1 PL001", "3:1 PL001", "4:1 PL001"]
    assert "tab character in indentation" in document.diagnostics[0].message
    assert bindings(document) == [("app", None, R(23, 23), R(23, 23), "tcp", "ports")]
    assert (document.declarations[0].location.line, document.declarations[0].location.column) == (4, 6)


def test_invalid_yaml_is_reported_and_the_rest_of_the_file_read(parse):
    document = parse(textwrap.dedent("""\
        services:
          broken:
            image: nginx: latest
          ok:
            ports: ["8080:80"]
        """), "compose")
    assert [d.code for d in document.diagnostics] == ["PL001"]
    assert document.diagnostics[0].message.startswith("invalid YAML: ")
    assert bindings(document) == [("ok", None, R(8080, 8080), R(80, 80), "tcp", "ports")]


def test_a_file_that_is_not_a_mapping(parse):
    document = parse("- just\n- a list\n", "compose")
    assert codes(document) == ["1:1 PL001"]
    assert "a compose file is a mapping" in document.diagnostics[0].message


# -- interpolation ----------------------------------------------------------------------------

def test_defaults_escapes_and_nested_variables(parse):
    document = parse(compose("""\
        - "${HTTP:-8080}:80"
        - "${A:-${B:-9090}}:90"
        - "${UNSET-7070}:70"
        - "$${literal}:60"
        """), "compose")
    assert [d.message for d in document.diagnostics][-1:] == ["invalid port '${literal}:60': unexpected '$'; "
                                                              "expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"]
    assert [b.published for b in document.declarations] == [R(8080, 8080), R(9090, 9090), R(7070, 7070)]


def test_an_unset_variable_is_reported_where_it_stands_and_no_port_is_guessed(parse):
    document = parse(compose("""\
        - "${HOST_PORT}:80"
        - "8080:${TARGET}"
        - "${IP}:${PORT:?set the port}:443"
        """), "compose")
    assert codes(document) == ["5:10 PL005", "6:15 PL005", "7:10 PL005", "7:16 PL005"]  # and no PL001
    assert document.diagnostics[0].message.startswith("variable HOST_PORT is not set and has no default")
    assert document.diagnostics[3].message.startswith("required variable PORT is empty or not set: set the port")
    # the host port is unknown: no published port; the container port is unknown: no binding
    assert bindings(document) == [("app", None, None, R(80, 80), "tcp", "ports"),
                                  ("app", None, None, R(443, 443), "tcp", "ports")]


def test_values_come_from_dot_env_and_only_on_request_from_the_environment(tmp_path, monkeypatch):
    write(tmp_path, {"compose.yaml": 'services:\n  app:\n    ports: ["${WEB}:80", "${API}:81"]\n',
                     ".env": "# comment\nexport WEB=8080\nAPI='${WEB}'\n"})
    monkeypatch.setenv("API", "9090")
    path = str(tmp_path / "compose.yaml")
    text = (tmp_path / "compose.yaml").read_text()
    plain = ComposeParser().parse(text, path)
    assert [b.published for b in plain.declarations] == [R(8080, 8080)]
    assert [d.code for d in plain.diagnostics] == ["PL001"]  # API='${WEB}' is literal: not a port
    with_env = ComposeParser().with_options(ParseOptions(environment={"API": "9090"})).parse(text, path)
    assert [b.published for b in with_env.declarations] == [R(8080, 8080), R(9090, 9090)]


def test_the_cli_flag_lets_interpolation_read_the_environment(tmp_path, cli, monkeypatch):
    write(tmp_path, {"compose.yaml": 'services:\n  app:\n    ports: ["${WEB}:80"]\n'})
    monkeypatch.setenv("WEB", "8080")
    assert cli("ports", tmp_path / "compose.yaml", "--output-format", "json").code == 1  # PL005
    result = cli("ports", tmp_path / "compose.yaml", "--output-format", "json", "--env-from-environment")
    assert result.code == 0
    assert [r["published"] for r in result.json()] == [[8080, 8080]]


# -- projects ---------------------------------------------------------------------------------

PROJECT = {
    "compose.yaml": """\
        include:
          - sub/compose.yaml
        services:
          web:
            extends:
              file: common.yaml
              service: base
            ports:
              - "${WEB_PORT}:80"
          db:
            ports:
              - "5432:5432"
        """,
    "compose.override.yaml": """\
        services:
          web:
            ports:
              - "8443:443"
          db:
            ports: !override
              - "127.0.0.1:5432:5432"
        """,
    "common.yaml": """\
        services:
          base:
            network_mode: host
            profiles: [debug]
            ports:
              - "23:23"
        """,
    "sub/compose.yaml": """\
        services:
          cache:
            ports:
              - "${CACHE_PORT}:6379"
        """,
    "sub/.env": "CACHE_PORT=6380\n",
    ".env": "WEB_PORT=8080\n",
    "compose.prod.yaml": """\
        services:
          web:
            ports:
              - "80:80"
        """,
}


def project_bindings(document, root: Path) -> list[tuple]:
    return [(Path(b.location.path).relative_to(root).as_posix(), b.location.line, b.service, b.published, b.target)
            for b in document.declarations]


@pytest.fixture
def project(tmp_path) -> Path:
    root = tmp_path / "project"
    write(root, PROJECT)
    return root


def read(root: Path, name: str):
    path = root / name
    return ComposeParser().parse(path.read_text(), str(path))


def test_a_project_merges_override_include_and_extends(project):
    document = read(project, "compose.yaml")
    assert document.diagnostics == []
    assert project_bindings(document, project) == [
        ("common.yaml", 6, "web", R(23, 23), R(23, 23)),
        ("compose.yaml", 9, "web", R(8080, 8080), R(80, 80)),
        ("compose.override.yaml", 4, "web", R(8443, 8443), R(443, 443)),
        ("compose.override.yaml", 7, "db", R(5432, 5432), R(5432, 5432)),  # !override replaced the base's
        ("sub/compose.yaml", 4, "cache", R(6380, 6380), R(6379, 6379)),  # the include's own .env
    ]
    web = next(s for s in document.services if s.service == "web")
    assert (web.network_mode, web.profiles, web.network_mode_location.line) == ("host", ("debug",), 3)


def test_the_override_named_alone_is_linted_as_its_project(project):
    assert project_bindings(read(project, "compose.override.yaml"), project) == \
        project_bindings(read(project, "compose.yaml"), project)


def test_an_alternative_file_is_a_project_of_its_own(project):
    assert project_bindings(read(project, "compose.prod.yaml"), project) == [("compose.prod.yaml", 4, "web", R(80, 80), R(80, 80))]


def test_walking_a_project_reports_each_finding_and_port_once(project, cli, monkeypatch):
    monkeypatch.chdir(project)
    records = cli("ports", ".", "--output-format", "json").json()
    where = [(r["path"], r["line"], r["service"]) for r in records]
    assert len(where) == len(set(where))
    assert ("./compose.override.yaml", 4, "web") in where
    findings = cli("check", ".", "--output-format", "json").json()
    telnet = [f for f in findings if f["code"] == "PL201"]
    assert [(f["path"], f["line"]) for f in telnet] == [("./common.yaml", 6), ("./common.yaml", 6)]
    assert {f["message"].split(" by service ")[1].split(";")[0] for f in telnet} == {"base", "web"}


@pytest.mark.parametrize("files,where,message", [
    ({"compose.yaml": "include: [missing.yaml]\nservices: {}\n"}, "1:11", "included file"),
    ({"compose.yaml": "services:\n  a:\n    extends: {file: nope.yaml, service: b}\n"}, "3:21", "cannot be read"),
    ({"compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"}, "3:14", "extends itself"),
    ({"compose.yaml": "services:\n  a:\n    extends: {service: zzz}\n"}, "3:14", "'zzz' is not defined"),
    ({"compose.yaml": "include: [compose.yaml]\n"}, "1:11", "include cycle"),
])
def test_include_and_extends_problems(tmp_path, files, where, message):
    write(tmp_path, files)
    document = read(tmp_path, "compose.yaml")
    assert [f"{d.location.line}:{d.location.column} {d.code}" for d in document.diagnostics] == [f"{where} PL006"]
    assert message in document.diagnostics[0].message


def test_reset_drops_the_inherited_ports(tmp_path):
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    ports: ['80:80']\n",
                     "compose.override.yml": "services:\n  a:\n    ports: !reset []\n    expose: ['81']\n"})
    assert bindings(read(tmp_path, "compose.yaml")) == [("a", None, None, R(81, 81), "tcp", "expose")]


# -- detection --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml",
                                  "compose.prod.yaml", "docker-compose.dev.yml", "compose.override.yaml"])
def test_compose_file_names(name):
    assert ComposeParser().matches_name(name)


@pytest.mark.parametrize("head,claimed", [
    ("services:\n  web:\n    image: nginx\n", True),
    ("# a stack\nversion: '3.8'\nx-common: &c\n  restart: always\nservices:\n  web:\n", True),
    ("include:\n  - other.yaml\n", True),
    ("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n", False),
    ("name: ci\non: [push]\njobs:\n  test:\n    services:\n      db:\n        image: postgres\n", False),
    ("services:\n  - type: web\n    name: api\n", False),  # a list of services: another tool
    ("services:\nother: 1\n", False),
    ("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", False),
])
def test_other_yaml_is_claimed_only_when_it_is_compose(head, claimed):
    assert ComposeParser().sniff(head) is claimed


# -- against the specification and the reference tools -----------------------------------------

def test_keys_match_the_compose_specification(shared):
    schema = json.loads((shared / "schemas" / "compose-spec.json").read_text())
    port = schema["definitions"]["service"]["properties"]["ports"]["items"]["oneOf"][2]
    assert set(LONG_SYNTAX_KEYS) == set(port["properties"])
    assert TOP_LEVEL_KEYS == set(schema["properties"])


def test_valid_examples_pass_the_schema_and_invalid_ones_are_flagged(shared, parse):
    """Each example's verdict agrees with the schema where the schema can tell."""
    jsonschema = pytest.importorskip("jsonschema")
    from ruamel.yaml import YAML

    validator = jsonschema.Draft7Validator(json.loads((shared / "schemas" / "compose-spec.json").read_text()))
    examples = {
        compose('- "8080:80"\n- target: 80\n  published: "8000-8001"\n  host_ip: "::1"\n'): True,
        compose("- {target: 80, bogus: 1}\n"): False,
        compose("- true\n"): False,
        'services:\n  a:\n    ports: "80:80"\n': False,
    }
    for text, valid in examples.items():
        assert validator.is_valid(YAML(typ="safe").load(text)) is valid
        assert (parse(text, "compose").diagnostics == []) is valid, text


def test_conformance_with_the_corpus_oracle(shared):
    run = subprocess.run([sys.executable, str(shared / "tools" / "conformance.py"), "--format", "compose",
                          "--portlint", f"{sys.executable} -m portlint"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "compose: 30/30 files exact" in run.stdout


def test_a_thousand_services_parse_quickly(shared, tmp_path):
    text = subprocess.run([sys.executable, str(shared / "tools" / "gen_compose.py"), "1000"],
                          capture_output=True, text=True, check=True).stdout
    start = time.perf_counter()
    document = ComposeParser().parse(text, str(tmp_path / "big.yaml"))
    elapsed = time.perf_counter() - start
    assert document.diagnostics == []
    assert len(document.services) == 1000
    assert len(document.declarations) > 4000
    assert elapsed < 10, f"{elapsed:.1f}s for 1000 services"
