"""The port catalog: what is known about every port, loaded once from ``catalog/ports.json``.

Where the seed and IANA differ both facts are kept with their source. IANA (the current
registry) decides a port's status, a specific port beats a range that contains it, and the seed's
notes are always shown.
"""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..model import PortRange
from ..resources import data_dir

ASSIGNED, RESERVED, UNASSIGNED = "assigned", "reserved", "unassigned"
#: The protocols the registries know; others (udplite) are looked up as any protocol.
REGISTERED_PROTOCOLS = ("tcp", "udp", "sctp", "dccp")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One statement of one source about a port or range, for one protocol (None: every one)."""

    start: int
    end: int
    protocol: str | None
    source: str  # seed, iana, or the name of a site catalog / plugin
    status: str  # assigned / reserved / unassigned
    name: str = ""
    description: str = ""
    notes: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def is_range(self) -> bool:
        return self.start != self.end

    @property
    def ports(self) -> str:
        return str(PortRange(self.start, self.end))


@dataclass(frozen=True, slots=True)
class Risk:
    start: int
    end: int
    protocol: str
    kind: str  # cleartext / trojan
    label: str  # the service or trojan name
    detail: str  # the secure replacement, for cleartext services
    reference: str


@dataclass(frozen=True, slots=True)
class RangeClass:
    name: str
    start: int
    end: int
    description: str
    reference: str


@dataclass(frozen=True, slots=True)
class PortInfo:
    """Everything the catalog knows about one port and protocol."""

    port: int
    protocol: str
    status: str
    range_class: RangeClass
    entries: tuple[CatalogEntry, ...]
    risks: tuple[Risk, ...] = ()

    @property
    def services(self) -> tuple[CatalogEntry, ...]:
        return tuple(e for e in self.entries if e.status == ASSIGNED)

    @property
    def notes(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for entry in self.entries:
            for note in entry.notes:
                seen.setdefault(note, None)
        return tuple(seen)

    @property
    def tags(self) -> tuple[str, ...]:
        tags = {t for e in self.entries for t in e.tags} | {r.kind for r in self.risks}
        return tuple(sorted(tags))

    def describe(self) -> str:
        """The service names, or what the status says: for messages."""
        names = []
        for entry in self.services:
            label = entry.name or entry.description
            if label and label not in names:
                names.append(label)
        return ", ".join(names) if names else self.status


class Catalog:
    """Lookups by port, protocol, range and service name.

    Entries stay raw rows of ``ports.json`` until a lookup needs them: start-up cost is one
    pass to index them, not 14,000 objects.
    """

    def __init__(self, rows: list[list], classes: list[RangeClass],
                 ephemeral_presets: dict[str, tuple[PortRange, str]], risks: list[Risk],
                 names: dict[str, dict[str, int]]) -> None:
        self.classes = classes
        self.ephemeral_presets = ephemeral_presets
        self.risks = risks
        self.names = names
        self._rows: list = []
        self._by_port: dict[int, list[int]] = defaultdict(list)
        self._ranges: list[int] = []
        self._segments: tuple[list[int], list[tuple[int, ...]]] | None = None
        self._cache: dict[tuple[int, str | None], tuple[CatalogEntry, ...]] = {}
        self._risk_index: dict[int, tuple[Risk, ...]] | None = None  # port -> risks, built on first use
        self._info_cache: dict[tuple[int, str], PortInfo] = {}
        for row in rows:
            self._index(row)

    def _index(self, row) -> None:
        """``row`` is a raw ``ports.json`` entry or a :class:`CatalogEntry`."""
        number = len(self._rows)
        self._rows.append(row)
        start, end = _start_end(row)
        if start == end:
            self._by_port[start].append(number)
        else:
            self._ranges.append(number)

    def _entry(self, number: int) -> CatalogEntry:
        row = self._rows[number]
        if not isinstance(row, CatalogEntry):
            start, end, proto, source, status, name, description, notes, refs, tags = row
            row = self._rows[number] = CatalogEntry(start, end, proto or None, source, status, name,
                                                    description, tuple(notes), tuple(refs), tuple(tags))
        return row

    def extended(self, entries: list[CatalogEntry | Risk]) -> Catalog:
        """A catalog with site-specific entries (from configuration or plugins), which count
        like IANA's, and extra risks; this one, shared by every run of the process, is left as
        it is."""
        rows = [e for e in entries if isinstance(e, CatalogEntry)]
        risks = [e for e in entries if isinstance(e, Risk)]
        return Catalog(self._rows + rows, self.classes, self.ephemeral_presets, self.risks + risks, self.names)

    # -- lookups -----------------------------------------------------------------------------

    def entries_for(self, port: int, protocol: str | None = None) -> tuple[CatalogEntry, ...]:
        """Entries about ``port`` for ``protocol`` (every protocol when None): single-port
        entries first, then the ranges containing it."""
        proto = _lookup_protocol(protocol)
        key = (port, proto)
        found = self._cache.get(key)
        if found is None:
            def applies(e: CatalogEntry) -> bool:
                return proto is None or e.protocol is None or e.protocol == proto
            singles = [self._entry(n) for n in self._by_port.get(port, ())]
            ranges = [self._entry(n) for n in self._ranges_containing(port)]
            found = self._cache[key] = tuple(e for e in singles + ranges if applies(e))
        return found

    def _ranges_containing(self, port: int) -> tuple[int, ...]:
        """Row numbers of the range entries containing ``port``, by bisection over the
        segments where the set of covering ranges is constant (built on first use)."""
        if self._segments is None:
            bounds = sorted({b for n in self._ranges for b in (_start_end(self._rows[n])[0],
                                                                   _start_end(self._rows[n])[1] + 1)})
            covering: list[list[int]] = [[] for _ in bounds]
            for n in self._ranges:
                start, end = _start_end(self._rows[n])
                for i in range(bisect_left(bounds, start), bisect_left(bounds, end + 1)):
                    covering[i].append(n)
            self._segments = (bounds, [tuple(c) for c in covering])
        bounds, covering = self._segments
        i = bisect_right(bounds, port) - 1
        return covering[i] if i >= 0 else ()

    def status(self, port: int, protocol: str | None) -> str:
        return _decide_status(self.entries_for(port, protocol))

    def info(self, port: int, protocol: str) -> PortInfo:
        """Everything known about ``port``/``protocol``, built once per process and port."""
        key = (port, protocol)
        found = self._info_cache.get(key)
        if found is None:
            entries = self.entries_for(port, protocol)
            found = self._info_cache[key] = PortInfo(
                port=port,
                protocol=protocol,
                status=_decide_status(entries),
                range_class=self.range_class(port),
                entries=entries,
                risks=self.risks_for(port, protocol),
            )
        return found

    def risks_for(self, port: int, protocol: str | None, kind: str | None = None) -> tuple[Risk, ...]:
        if self._risk_index is None:
            index: dict[int, list[Risk]] = defaultdict(list)
            for risk in self.risks:
                for p in range(risk.start, risk.end + 1):
                    index[p].append(risk)
            self._risk_index = {p: tuple(found) for p, found in index.items()}
        return tuple(r for r in self._risk_index.get(port, ())
                     if (protocol is None or r.protocol == protocol) and (kind is None or r.kind == kind))

    def range_class(self, port: int) -> RangeClass:
        for cls in self.classes:
            if cls.start <= port <= cls.end:
                return cls
        raise ValueError(f"port {port} is outside 0-65535")

    def resolve(self, name: str, protocol: str | None = None) -> int | None:
        """The port of a service name, as /etc/services resolves it for ``protocol``."""
        ports = self.names.get(name.lower())
        if not ports:
            return None
        if protocol in ports:
            return ports[protocol]
        if protocol is None or protocol not in REGISTERED_PROTOCOLS:
            return ports.get("tcp", ports.get("udp"))
        return None

    def ephemeral_range(self, preset: str) -> PortRange:
        try:
            return self.ephemeral_presets[preset][0]
        except KeyError:
            known = ", ".join(sorted(self.ephemeral_presets))
            raise ValueError(f"unknown ephemeral-range preset {preset!r} (known: {known})") from None


def _start_end(row) -> tuple[int, int]:
    return (row.start, row.end) if isinstance(row, CatalogEntry) else (row[0], row[1])


def _lookup_protocol(protocol: str | None) -> str | None:
    return protocol if protocol in REGISTERED_PROTOCOLS else None


def _decide_status(entries: tuple[CatalogEntry, ...]) -> str:
    """IANA and site entries decide over the seed, a single port over a range."""
    authoritative = [e for e in entries if e.source != "seed"] or list(entries)
    if not authoritative:
        return UNASSIGNED
    singles = [e for e in authoritative if not e.is_range] or authoritative
    statuses = {e.status for e in singles}
    for status in (ASSIGNED, RESERVED):
        if status in statuses:
            return status
    return UNASSIGNED


def catalog_path() -> Path:
    return data_dir("catalog") / "ports.json"


@lru_cache(maxsize=None)
def load(path: str | None = None) -> Catalog:
    """The catalog, parsed once per process."""
    with open(path or catalog_path(), encoding="utf-8") as fh:
        data = json.load(fh)
    return Catalog(
        rows=data["entries"],
        classes=[RangeClass(*c) for c in data["classes"]],
        ephemeral_presets={k: (PortRange(lo, hi), ref) for k, (lo, hi, ref) in data["ephemeral"].items()},
        risks=[Risk(*r) for r in data["risks"]],
        names=data["names"],
    )
