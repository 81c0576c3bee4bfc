"""Build ``catalog/ports.json``, the compact catalog portlint loads at run time.

Sources: ``catalog/seed.yaml`` (the cleaned port reference), the IANA "Service Name and Transport
Protocol Port Number Registry" CSV (not committed: pass ``--iana``; a checkout beside
``../shared`` finds it), and the curated ``ranges.yaml``, ``risks.yaml`` and ``aliases.yaml``.

    python -m portlint.catalog.build [--iana CSV] [--check]

``--check`` rebuilds in memory and exits 1 when the committed file differs.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

from ..resources import data_dir

FORMAT_VERSION = 1
PROTOCOLS = ("tcp", "udp", "sctp", "dccp")
DEFAULT_IANA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "iana-service-names-port-numbers.csv"

#: Seed notes that say more than a description: the tag each pattern gives.
NOTE_TAGS = (
    (re.compile(r"trojan", re.I), "trojan"),
    (re.compile(r"formerly used", re.I), "formerly-used"),
    (re.compile(r"unofficial", re.I), "unofficial-use"),
    (re.compile(r"no longer used", re.I), "no-longer-used"),
)


def _range(value) -> tuple[int, int]:
    text = str(value).strip()
    lo, sep, hi = text.partition("-")
    return (int(lo), int(hi if sep else lo))


def _load_yaml(path: Path):
    with path.open(encoding="utf-8") as fh:
        return YAML(typ="safe").load(fh)


def seed_entries(path: Path) -> list[list]:
    """Entries of the cleaned seed: ``[start, end, proto, "seed", status, name, description,
    notes, references, tags]``, one per protocol."""
    out = []
    for item in _load_yaml(path)["ports"]:
        start, end = _range(item["port"])
        notes = [str(n) for n in item.get("notes", ())]
        tags = sorted({tag for note in notes for pattern, tag in NOTE_TAGS if pattern.search(note)})
        refs = [f"RFC {n}" for n in item.get("rfcs", ())]
        for proto in item["protocols"]:
            out.append([start, end, proto, "seed", item["status"], item["name"],
                        item.get("description", ""), notes, refs, tags])
    return out


def _iana_status(name: str, description: str) -> str:
    text = description.strip().lower()
    if not name and text in ("reserved", "iana reserved"):
        return "reserved"
    if not name and text in ("unassigned", "de-registered", "removed"):
        return "unassigned"
    return "assigned"


def iana_entries(path: Path) -> list[list]:
    """Entries of the IANA registry: one per row with a port number; a row without a protocol
    (the reserved and unassigned ranges) applies to every protocol and gets proto ``""``."""
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["Port Number"].strip():
                continue
            start, end = _range(row["Port Number"])
            name = row["Service Name"].strip()
            description = " ".join(row["Description"].split())
            notes, tags = [], []
            if row["Unauthorized Use Reported"].strip():
                notes.append("Unauthorized use reported: " + " ".join(row["Unauthorized Use Reported"].split()))
                tags.append("unauthorized-use")
            if description.lower() == "de-registered":
                notes.append("De-registered by IANA")
            refs = re.findall(r"\[([^\]]+)\]", row["Reference"])
            out.append([start, end, row["Transport Protocol"].strip().lower(), "iana",
                        _iana_status(name, description), name, description, notes, refs, tags])
    return out


def risk_entries(path: Path) -> list[list]:
    """``[start, end, proto, kind, label, detail, reference]`` per protocol of each risk:
    cleartext services (detail: the replacement), UDP amplification vectors (detail: what
    answers), admin planes and trojans."""
    out = []
    data = _load_yaml(path)
    for item in data.get("cleartext", ()):
        start, end = _range(item["ports"])
        for proto in item["protocols"]:
            out.append([start, end, proto, "cleartext", item["service"], item["replacement"], item["reference"]])
    for item in data.get("amplification", ()):
        start, end = _range(item["ports"])
        out.append([start, end, "udp", "amplification", item["service"], item["detail"], item["reference"]])
    for item in data.get("admin", ()):
        start, end = _range(item["ports"])
        for proto in item["protocols"]:
            out.append([start, end, proto, "admin", item["service"], "", item["reference"]])
    for item in data.get("trojan", ()):
        start, end = _range(item["ports"])
        for proto in item["protocols"]:
            out.append([start, end, proto, "trojan", item["name"], "", item["reference"]])
    return sorted(out, key=lambda r: (r[0], r[1], r[2], r[3]))


def service_names(iana: list[list], aliases_path: Path) -> dict[str, dict[str, int]]:
    """``name -> {proto: port}``: the lowest port IANA registers a name on, then the aliases."""
    names: dict[str, dict[str, int]] = {}
    for start, end, proto, _src, status, name, *_ in iana:
        if not name or status != "assigned" or proto not in PROTOCOLS:
            continue
        ports = names.setdefault(name.lower(), {})
        if proto not in ports or start < ports[proto]:
            ports[proto] = start
    for name, item in _load_yaml(aliases_path)["aliases"].items():
        names[str(name).lower()] = {proto: int(item["port"]) for proto in item["protocols"]}
    return dict(sorted(names.items()))


def build(catalog: Path, iana_csv: Path) -> str:
    ranges = _load_yaml(catalog / "ranges.yaml")
    iana = iana_entries(iana_csv)
    entries = sorted(seed_entries(catalog / "seed.yaml") + iana, key=lambda e: (e[0], e[1], e[2], e[3]))
    document = {
        "format": FORMAT_VERSION,
        "sources": {
            "seed": "catalog/seed.yaml: the cleaned port reference of ../shared/seed/port-numbers-seed.txt",
            "iana": "IANA Service Name and Transport Protocol Port Number Registry (CSV snapshot)",
        },
        "classes": [[c["name"], c["start"], c["end"], c["description"], c["reference"]] for c in ranges["classes"]],
        "ephemeral": {name: [p["start"], p["end"], p["reference"]] for name, p in ranges["ephemeral"].items()},
        "fields": ["start", "end", "proto", "source", "status", "name", "description", "notes", "references", "tags"],
        "entries": entries,
        "risks": risk_entries(catalog / "risks.yaml"),
        "names": service_names(iana, catalog / "aliases.yaml"),
    }
    # One entry per line keeps diffs of the generated file reviewable.
    lines = ["{"]
    for i, (key, value) in enumerate(document.items()):
        comma = "," if i < len(document) - 1 else ""
        if isinstance(value, list) and key in ("entries", "risks"):
            rows = ",\n".join("  " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in value)
            lines.append(f"{json.dumps(key)}: [\n{rows}\n]{comma}")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portlint.catalog.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--iana", type=Path, default=DEFAULT_IANA, help="the IANA registry CSV")
    parser.add_argument("--catalog", type=Path, default=data_dir("catalog"), help="the catalog folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if ports.json is not up to date")
    args = parser.parse_args(argv)
    if not args.iana.is_file():
        parser.error(f"IANA registry CSV not found: {args.iana} (pass --iana)")
    text = build(args.catalog, args.iana)
    target = args.catalog / "ports.json"
    if args.check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            print(f"{target} is out of date: run python -m portlint.catalog.build", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
