"""The ``portlint exposure`` view as text, JSON, Markdown or one self-contained HTML page."""
from __future__ import annotations

import html
import json
from itertools import groupby
from typing import Any, Callable, TextIO

from .exposure_view import Place, Row
from .terminal import visible

TITLE = "What the project exposes"
COLUMNS = ("port", "services", "tags", "sources", "where", "firewall")


def render(fmt: str, rows: list[Row], root: str, stream: TextIO) -> None:
    RENDERERS[fmt](rows, root, stream)


def summary(rows: list[Row]) -> str:
    if not rows:
        return "Nothing exposed."
    groups = ", ".join(f"{len(list(group))} {risk}" for risk, group in groupby(rows, key=lambda r: r.risk))
    blocked = sum(row.blocked for row in rows)
    return (f"{len(rows)} exposed port{'s' * (len(rows) != 1)} ({groups})"
            + (f"; {blocked} blocked by the project's firewall" if blocked else "") + ".")


def _by_risk(rows: list[Row]):
    return groupby(rows, key=lambda row: row.risk)


def _where(place: Place) -> str:
    behind = f"; to {place.service_port}" if place.service_port else ""
    return f"{place.path}:{place.line}  {place.how}{behind}"


def _cells(row: Row) -> dict[str, list[str]]:
    """Every column of a row as a list of entries."""
    return {
        "port": [f"{row.port_text}/{row.protocol}"],
        "services": row.services or [row.status],
        "tags": row.tags,
        "sources": row.sources,
        "where": [_where(place) for place in row.places],
        "firewall": list(dict.fromkeys(block.text() for place in row.places for block in place.blocks)),
    }


# -- text -----------------------------------------------------------------------------------

def render_text(rows: list[Row], root: str, stream: TextIO) -> None:
    width = max((len(f"{row.port_text}/{row.protocol}") for row in rows), default=0)
    for risk, group in _by_risk(rows):
        stream.write(f"{risk}\n")
        for row in group:
            cells = _cells(row)
            tags = f"  [{', '.join(row.tags)}]" if row.tags else ""
            stream.write(visible(f"  {cells['port'][0]:<{width}}  {', '.join(cells['services'])}{tags}") + "\n")
            for place in row.places:
                stream.write(visible(f"    {_where(place)}") + "\n")
                stream.writelines(visible(f"      {block.text()}") + "\n" for block in place.blocks)
    stream.write(summary(rows) + "\n")


# -- JSON -----------------------------------------------------------------------------------

def row_record(row: Row) -> dict[str, Any]:
    return {
        "port": row.port_text, "ports": [[r.start, r.end] for r in row.ports], "protocol": row.protocol,
        "risk": row.risk, "tags": row.tags, "services": row.services, "status": row.status,
        "sources": row.sources, "blocked": row.blocked,
        "places": [{
            "path": p.path, "line": p.line, "column": p.column, "how": p.how, "source": p.source,
            "service_port": p.service_port,
            "blocks": [{"kind": b.kind, "path": b.path, "line": b.line, "detail": b.detail} for b in p.blocks],
        } for p in row.places],
    }


def render_json(rows: list[Row], root: str, stream: TextIO) -> None:
    json.dump({"root": root, "rows": [row_record(row) for row in rows]}, stream, indent=1)
    stream.write("\n")


# -- Markdown -------------------------------------------------------------------------------

def _markdown_cell(entries: list[str]) -> str:
    escaped = (html.escape(e, quote=False).replace("|", "\\|").replace("\n", " ") for e in entries)
    return "<br>".join(escaped)


def render_markdown(rows: list[Row], root: str, stream: TextIO) -> None:
    stream.write(f"# {TITLE}\n\nProject root `{root}`: {summary(rows)}\n")
    for risk, group in _by_risk(rows):
        stream.write(f"\n## {risk}\n\n| {' | '.join(COLUMNS)} |\n|{' --- |' * len(COLUMNS)}\n")
        for row in group:
            cells = _cells(row)
            stream.write("| " + " | ".join(_markdown_cell(cells[c]) for c in COLUMNS) + " |\n")


# -- HTML -----------------------------------------------------------------------------------

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1b1f24; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
p.summary { color: #57606a; margin-top: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
tr.group th { font-size: 1.05em; padding-top: 1em; border-bottom: 2px solid #57606a; }
tr.group.admin th, tr.group.trojan th { color: #a40e26; }
tr.group.amplification th, tr.group.cleartext th { color: #9a6700; }
td.port { font-family: ui-monospace, monospace; white-space: nowrap; }
td ul { margin: 0; padding-left: 1.1em; }
span.tag { display: inline-block; border-radius: 0.8em; padding: 0 0.5em; margin: 0 0.2em 0.2em 0;
           background: #eaeef2; font-size: 0.9em; }
span.tag.admin, span.tag.trojan { background: #ffebe9; color: #a40e26; }
span.tag.amplification, span.tag.cleartext { background: #fff8c5; color: #7d4e00; }
tr.blocked td { color: #8c959f; }
""".strip()


def _html_list(entries: list[str]) -> str:
    if len(entries) <= 1:
        return "".join(html.escape(e) for e in entries)
    return "<ul>" + "".join(f"<li>{html.escape(e)}</li>" for e in entries) + "</ul>"


def _html_tags(tags: list[str]) -> str:
    return "".join(f'<span class="tag {html.escape(t)}">{html.escape(t)}</span>' for t in tags)


def render_html(rows: list[Row], root: str, stream: TextIO) -> None:
    write = stream.write
    write(f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{TITLE}</title>\n'
          f"<style>\n{_STYLE}\n</style>\n</head>\n<body>\n<h1>{TITLE}</h1>\n"
          f'<p class="summary">Project root <code>{html.escape(root)}</code>: {html.escape(summary(rows))}</p>\n')
    write('<table id="exposure">\n<thead><tr>' + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr></thead>\n")
    for risk, group in _by_risk(rows):
        write(f'<tbody class="{risk}">\n<tr class="group {risk}"><th colspan="{len(COLUMNS)}">{risk}</th></tr>\n')
        for row in group:
            cells = _cells(row)
            blocked = ' class="blocked"' if row.blocked else ""
            write(f"<tr{blocked}>"
                  f'<td class="port">{html.escape(cells["port"][0])}</td>'
                  f'<td class="services">{_html_list(cells["services"])}</td>'
                  f'<td class="tags">{_html_tags(row.tags)}</td>'
                  + "".join(f'<td class="{c}">{_html_list(cells[c])}</td>' for c in COLUMNS[3:])
                  + "</tr>\n")
        write("</tbody>\n")
    write("</table>\n</body>\n</html>\n")


RENDERERS: dict[str, Callable[[list[Row], str, TextIO], None]] = {
    "text": render_text, "json": render_json, "markdown": render_markdown, "html": render_html,
}
