"""``portlint exposure``: one row per exposed port and protocol across the project, riskiest
group first, as text, JSON, Markdown and a self-contained HTML page (rendered in Chromium)."""
from __future__ import annotations

import shutil
import subprocess
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest

from test_docker_firewall import DOCKER_USER, RULES_V4, STACK, project

NAT = textwrap.dedent("""\
    *nat
    :PREROUTING ACCEPT [0:0]
    -A PREROUTING -p tcp -m tcp --dport 2323 -j DNAT --to-destination 10.0.0.9:23
    COMMIT
""")
#: A lab host: an early catch-all drop makes its later accepts dead, and a wide range is open.
LAB = textwrap.dedent("""\
    *filter
    :INPUT ACCEPT [0:0]
    -A INPUT -p tcp -m tcp --dport 6000:6010 -j DROP
    -A INPUT -p tcp -m tcp --dport 6001 -j ACCEPT
    -A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 1024:65535 -j ACCEPT
    COMMIT
""")


@pytest.fixture
def shop(tmp_path, monkeypatch):
    root = project(tmp_path, {"compose.yaml": STACK, "firewall/rules.v4": RULES_V4, "firewall/nat.v4": NAT})
    monkeypatch.chdir(root)
    return root


def exposure(cli, *args):
    result = cli("exposure", *args, "--output-format", "json")
    assert result.code == 0, result.err
    return result.json()


def test_one_row_per_port_and_protocol_riskiest_first(cli, shop):
    view = exposure(cli, ".")
    assert view["root"] == "."
    rows = [(r["risk"], r["port"], r["protocol"]) for r in view["rows"]]
    assert rows == [
        ("admin", "5432", "tcp"), ("admin", "6379", "tcp"),
        ("cleartext", "2323", "tcp"),  # the DNAT reaches telnet
        ("other", "22", "tcp"), ("other", "80", "tcp"), ("other", "443", "tcp"), ("other", "443", "udp"),
        ("other", "3000", "tcp"), ("other", "8000", "tcp"),
    ]
    by_port = {(r["port"], r["protocol"]): r for r in view["rows"]}
    db = by_port["5432", "tcp"]
    assert (db["services"], db["tags"], db["sources"], db["blocked"]) == (["postgresql"], ["admin"], ["all interfaces"], False)
    (place,) = db["places"]
    assert (place["path"], place["line"], place["how"]) == ("./compose.yaml", 16, "published on all interfaces by service db")
    assert place["blocks"] == [{"kind": "bypassed", "path": "./firewall/rules.v4", "line": 3,
                                "detail": "./firewall/rules.v4:3, policy drop of INPUT"}]
    https = by_port["443", "tcp"]
    assert [(p["path"], p["line"]) for p in https["places"]] == [("./compose.yaml", 7), ("./firewall/rules.v4", 10)]
    assert https["sources"] == ["all interfaces", "any source"]
    telnet = by_port["2323", "tcp"]["places"][0]
    assert telnet["service_port"] == "23/tcp (telnet, Telnet)" and "cleartext" in by_port["2323", "tcp"]["tags"]
    assert by_port["8000", "tcp"]["places"][0]["blocks"] == []  # loopback: not forwarded, not bypassing


def test_only_the_checked_files_give_rows_the_rest_of_the_project_says_what_blocks_them(cli, shop):
    rules = RULES_V4.replace("-A INPUT -i lo", DOCKER_USER.replace("-i eth0 ", "") + "-A INPUT -i lo")
    (shop / "firewall" / "rules.v4").write_text(rules)
    view = exposure(cli, "compose.yaml")
    assert {r["places"][0]["path"] for r in view["rows"]} == {"compose.yaml"}
    blocked = {r["port"]: r["places"][0]["blocks"] for r in view["rows"] if r["blocked"]}
    assert blocked == {
        "5432": [{"kind": "dropped", "path": "firewall/rules.v4", "line": 8,
                  "detail": "firewall/rules.v4:8, 5432, 6379/tcp from any source dropped on DOCKER-USER"}],
        "6379": [{"kind": "dropped", "path": "firewall/rules.v4", "line": 8,
                  "detail": "firewall/rules.v4:8, 5432, 6379/tcp from any source dropped on DOCKER-USER"}]}
    grafana = next(r for r in view["rows"] if r["port"] == "3000")
    assert [b["kind"] for b in grafana["places"][0]["blocks"]] == ["filtered"] and not grafana["blocked"]


def test_firewall_accepts_an_earlier_rule_drops_and_broad_ranges(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(project(tmp_path, {"rules.v4": LAB}))
    rows = {r["port"]: r for r in exposure(cli, "rules.v4")["rows"]}
    assert set(rows) == {"6001", "1024-65535"}
    assert rows["6001"]["blocked"] and rows["6001"]["places"][0]["blocks"][0]["detail"] == (
        "rules.v4:3, 6000-6010/tcp from any source dropped on INPUT")
    broad = rows["1024-65535"]
    assert broad["services"] == ["64512 ports"] and broad["risk"] == "admin"
    assert {"broad-range", "admin", "cleartext"} <= set(broad["tags"]) and not broad["blocked"]


def test_text_markdown_and_the_output_file(cli, shop):
    text = cli("exposure", "compose.yaml")
    assert text.code == 0
    assert text.out.startswith("admin\n  5432/tcp  postgresql  [admin]\n"
                               "    compose.yaml:16  published on all interfaces by service db\n"
                               "      bypassed: firewall/rules.v4:3, policy drop of INPUT (Docker's NAT goes around the input path)\n")
    assert text.out.endswith("7 exposed ports (2 admin, 5 other).\n")
    assert cli("exposure", "compose.yaml", "--output-format", "markdown", "--output-file", "view.md").out == ""
    markdown = (shop / "view.md").read_text()
    assert markdown.startswith("# What the project exposes\n\nProject root `.`: 7 exposed ports")
    assert "\n## admin\n\n| port | services | tags | sources | where | firewall |\n| --- |" in markdown
    assert "| 443/tcp | https |  | all interfaces | compose.yaml:7  published on all interfaces by service proxy |  |" in markdown


def test_markdown_and_html_escape_what_they_show(cli, tmp_path, monkeypatch):
    odd = 'x|y<b onmouseover="z">&'
    monkeypatch.chdir(project(tmp_path, {f"{odd}/rules.v4": "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n"}))
    markdown = cli("exposure", odd, "--output-format", "markdown").out
    assert "x\\|y&lt;b onmouseover=\"z\"&gt;&amp;/rules.v4:3" in markdown
    page = cli("exposure", odd, "--output-format", "html").out
    assert "<b " not in page and "x|y&lt;b onmouseover=&quot;z&quot;&gt;&amp;/rules.v4:3" in page


def test_a_file_that_does_not_parse_is_reported_and_the_view_still_printed(cli, shop):
    (shop / "bad.v4").write_text("*filter\n-A INPUT -p tcp --dport 99999 -j ACCEPT\nCOMMIT\n")
    result = cli("exposure", "compose.yaml", "bad.v4")
    assert result.code == 1 and "bad.v4:2:25: PL002" in result.err and "5432/tcp" in result.out


# -- the HTML page in a browser ---------------------------------------------------------------

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)


class _Table(HTMLParser):
    """The rendered DOM's exposure table: its rows as lists of cell texts, and every URL the
    page refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.urls: list[str] = []
        self._cell: list[str] | None = None
        self._in_table = False

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        if tag == "table" and ("id", "exposure") in attrs:
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.rows.append([])
        elif self._in_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data + " ")


def render(page: Path, out: Path) -> str:
    """The DOM of ``page`` after Chromium has loaded it, headless and offline."""
    run = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          f"--user-data-dir={out / 'profile'}", f"--screenshot={out / 'page.png'}",
                          "--window-size=1400,900", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_the_html_page_renders_its_table_in_chromium(cli, shop, tmp_path):
    page = shop / "exposure.html"
    assert cli("exposure", ".", "--output-format", "html", "--output-file", page).code == 0
    table = _Table()
    table.feed(render(page, tmp_path))
    assert table.urls == []  # self-contained: no stylesheet, script, image or link to fetch
    header, *body = table.rows
    assert header == ["port", "services", "tags", "sources", "where", "firewall"]
    groups = [row[0] for row in body if len(row) == 1]
    assert groups == ["admin", "cleartext", "other"]
    ports = [row[0] for row in body if len(row) == 6]
    assert ports == ["5432/tcp", "6379/tcp", "2323/tcp", "22/tcp", "80/tcp", "443/tcp", "443/udp", "3000/tcp", "8000/tcp"]
    db = body[1]
    assert db == ["5432/tcp", "postgresql", "admin", "all interfaces",
                  "./compose.yaml:16 published on all interfaces by service db",
                  "bypassed: ./firewall/rules.v4:3, policy drop of INPUT (Docker's NAT goes around the input path)"]
    assert (tmp_path / "page.png").stat().st_size > 10_000  # something was drawn
