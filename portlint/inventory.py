"""``portlint ports``: the inventory of every port declaration portlint understood."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, TextIO

from .model import Declaration, FirewallRule, PortBinding, PortMatch, PortRange
from .terminal import visible


def _ranges(match: PortMatch | None) -> list[list[int]] | None:
    return [[r.start, r.end] for r in match.ranges] if match else None


def _span(r: PortRange | None) -> list[int] | None:
    return [r.start, r.end] if r else None


def has_ports(decl: Declaration) -> bool:
    if isinstance(decl, FirewallRule):
        return bool(decl.dport or decl.sport or decl.either)
    return True


def record(decl: Declaration) -> dict[str, Any]:
    """The JSON record of one declaration (documented in docs/usage.md)."""
    loc = decl.location
    base: dict[str, Any] = {"path": loc.path, "line": loc.line, "column": loc.column, "format": decl.format}
    if isinstance(decl, PortBinding):
        base.update(service=decl.service, host_ip=decl.host_ip, published=_span(decl.published),
                    target=_span(decl.target), proto=decl.protocol, kind=decl.kind, mode=decl.mode)
        return base
    either = decl.either
    base.update(
        family=decl.family, table=decl.table, chain=decl.chain, proto=decl.protocol,
        dport=_ranges(decl.dport or either), sport=_ranges(decl.sport or either),
        dport_negated=bool((decl.dport or either) and (decl.dport or either).negated),
        sport_negated=bool((decl.sport or either) and (decl.sport or either).negated),
        rule_line=decl.rule_line or loc.line,
        either=either is not None, action=decl.action, target=decl.target,
        to_address=decl.to_address,
        to_ports=[[r.start, r.end] for r in decl.to_ports] if decl.to_ports else None,
    )
    return base


def _text_ranges(ranges) -> str:
    if not ranges:
        return "-"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def table_rows(records: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    """Rows for people: location, where (table/chain or service), protocol, ports, action."""
    yield ["LOCATION", "WHERE", "PROTO", "DPORT", "SPORT", "ACTION"]
    for r in records:
        where_at = f"{r['path']}:{r['line']}"
        if r["format"] == "compose":
            published = _text_ranges([r["published"]] if r["published"] else None)
            yield [where_at, r["service"], r["proto"], f"{published}->{_text_ranges([r['target']])}", "-", r["kind"]]
            continue
        neg = lambda flag: "!" if flag else ""  # noqa: E731
        either = r["either"]
        yield [
            where_at, f"{r['family']}/{r['table']}/{r['chain']}", r["proto"] or "any",
            neg(r["dport_negated"]) + _text_ranges(r["dport"]) + (" (either)" if either else ""),
            "-" if either else neg(r["sport_negated"]) + _text_ranges(r["sport"]),
            (r["action"] or "-") + (f" {r['target']}" if r["action"] in ("jump", "goto", "other") else ""),
        ]


def write_table(stream: TextIO, rows: Callable[[], Iterable[list[str]]]) -> None:
    """The rows ``rows()`` makes, in aligned columns. The rows are made twice, for the widths
    of the columns and then for the lines, so that the table of a big file is never held."""
    widths = None
    for row in rows():
        lengths = [len(visible(cell)) for cell in row]
        widths = lengths if widths is None else list(map(max, widths, lengths))
    for row in rows():
        stream.write("  ".join(visible(cell).ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")
