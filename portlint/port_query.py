"""``portlint port QUERY``: what the catalog knows about a port, a range or a service name."""
from __future__ import annotations

import re
from typing import Any

from .catalog import Catalog, PortInfo
from .model import MAX_PORT, PortRange

QUERY_RE = re.compile(r"^(?P<what>[^/]+?)(?:/(?P<proto>tcp|udp|sctp|dccp))?$", re.I)
MAX_QUERY_PORTS = 4096


class QueryError(ValueError):
    pass


def resolve_query(query: str, catalog: Catalog) -> tuple[PortRange, tuple[str, ...]]:
    """``23``, ``telnet``, ``49160/udp``, ``350-360`` -> the ports and the protocols asked for."""
    m = QUERY_RE.match(query.strip())
    if not m:
        raise QueryError(f"cannot read {query!r}: expected PORT, LO-HI or a service name, optionally /tcp or /udp")
    what, proto = m.group("what"), (m.group("proto") or "").lower()
    protocols = (proto,) if proto else ("tcp", "udp")
    lo, sep, hi = what.partition("-")
    if lo.isdigit() and (not sep or hi.isdigit()):
        r = PortRange(int(lo), int(hi) if sep else int(lo))
        if r.end > MAX_PORT or r.is_empty:
            raise QueryError(f"{query!r} is not a port or range within 0-65535")
        if r.width > MAX_QUERY_PORTS:
            raise QueryError(f"{query!r} spans {r.width} ports; ask for at most {MAX_QUERY_PORTS}")
        return r, protocols
    port = catalog.resolve(what, proto or None)
    if port is None:
        raise QueryError(f"unknown service name {what!r}" + (f" for {proto}" if proto else ""))
    if not proto:
        protocols = tuple(p for p in ("tcp", "udp") if catalog.resolve(what, p) == port) or protocols
    return PortRange(port, port), protocols


def port_record(info: PortInfo, catalog: Catalog, ephemeral: PortRange, preset: str) -> dict[str, Any]:
    return {
        "port": info.port,
        "protocol": info.protocol,
        "status": info.status,
        "range_class": info.range_class.name,
        "ephemeral": info.port in ephemeral,
        "ephemeral_range": {"preset": preset, "start": ephemeral.start, "end": ephemeral.end},
        "entries": [
            {"source": e.source, "ports": e.ports, "status": e.status, "name": e.name,
             "description": e.description, "notes": list(e.notes), "references": list(e.references)}
            for e in info.entries
        ],
        "notes": list(info.notes),
        "tags": list(info.tags),
        "risks": [{"kind": r.kind, "name": r.label, "detail": r.detail, "reference": r.reference} for r in info.risks],
    }


def format_record(rec: dict[str, Any]) -> str:
    lines = [f"{rec['port']}/{rec['protocol']}: {rec['status']}, {rec['range_class']} range"
             + (f", inside the ephemeral range ({rec['ephemeral_range']['preset']})" if rec["ephemeral"] else "")]
    for e in rec["entries"]:
        label = " - ".join(x for x in (e["name"], e["description"]) if x) or e["status"]
        scope = f" [{e['ports']}]" if "-" in e["ports"] else ""
        refs = f" ({', '.join(e['references'])})" if e["references"] else ""
        lines.append(f"  {e['source']:<5} {label}{scope}{refs}")
    for note in rec["notes"]:
        lines.append(f"  note: {note}")
    if rec["tags"]:
        lines.append(f"  tags: {', '.join(rec['tags'])}")
    for risk in rec["risks"]:
        detail = {"cleartext": f": use {risk['detail']} instead", "amplification": f": {risk['detail']}"}.get(risk["kind"], "")
        lines.append(f"  risk: {risk['kind']} ({risk['name']}){detail} [{risk['reference']}]")
    return "\n".join(lines)
