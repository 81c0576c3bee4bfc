"""The port catalog: what is known about every port, read once from ``catalog/ports.txt``.

Where the seed and IANA differ both facts are kept with their source. IANA (the current
registry) decides a port's status, a specific port beats a range that contains it, and the seed's
notes are always shown.
"""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from ..model import PortRange, record
from ..resources import data_dir

ASSIGNED, RESERVED, UNASSIGNED = "assigned", "reserved", "unassigned"
#: The protocols the registries know; others (udplite) are looked up as any protocol.
REGISTERED_PROTOCOLS = ("tcp", "udp", "sctp", "dccp")
#: The layout of ``ports.txt`` this module reads and :mod:`.build` writes.
FORMAT_VERSION = 2


@record
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


@record
class Risk:
    start: int
    end: int
    protocol: str
    kind: str  # cleartext / trojan
    label: str  # the service or trojan name
    detail: str  # the secure replacement, for cleartext services
    reference: str


@record
class RangeClass:
    name: str
    start: int
    end: int
    description: str
    reference: str


@record
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


class EntrySource:
    """Where a catalog finds its entries: those of a single port, and the ranges containing it."""

    def singles(self, port: int) -> tuple[CatalogEntry, ...]:
        raise NotImplementedError

    def ranges_containing(self, port: int) -> tuple[CatalogEntry, ...]:
        raise NotImplementedError


class _RangeIndex:
    """The range entries containing a port, by bisection over the segments where the set of
    covering ranges is constant. ``rows`` (raw rows or entries) become entries when a lookup
    first meets them."""

    def __init__(self, rows: list) -> None:
        spans = [_bounds(row) for row in rows]
        bounds = sorted({bound for span in spans for bound in span})
        covering: list[list[int]] = [[] for _ in bounds]
        for number, (start, after) in enumerate(spans):
            for i in range(bisect_left(bounds, start), bisect_left(bounds, after)):
                covering[i].append(number)
        self._rows = rows
        self._bounds = bounds
        self._covering = covering
        self._found: list[tuple[CatalogEntry, ...] | None] = [None] * len(bounds)

    def containing(self, port: int) -> tuple[CatalogEntry, ...]:
        i = bisect_right(self._bounds, port) - 1
        if i < 0:
            return ()
        found = self._found[i]
        if found is None:
            found = self._found[i] = tuple(self._entry(number) for number in self._covering[i])
        return found

    def _entry(self, number: int) -> CatalogEntry:
        row = self._rows[number]
        if not isinstance(row, CatalogEntry):
            row = self._rows[number] = _entry(row)
        return row


class _Rows(EntrySource):
    """Entries held in memory: raw rows (the ``fields`` of ``ports.txt``) or CatalogEntry objects."""

    def __init__(self, rows: Iterable) -> None:
        self._singles: dict[int, tuple[CatalogEntry, ...]] = {}
        ranges = []
        for entry in map(_entry, rows):
            if entry.is_range:
                ranges.append(entry)
            else:
                self._singles[entry.start] = self._singles.get(entry.start, ()) + (entry,)
        self._ranges = _RangeIndex(ranges)

    def singles(self, port: int) -> tuple[CatalogEntry, ...]:
        return self._singles.get(port, ())

    def ranges_containing(self, port: int) -> tuple[CatalogEntry, ...]:
        return self._ranges.containing(port)


class _Joined(EntrySource):
    """The entries of one source, then those of another (a catalog with site entries)."""

    def __init__(self, first: EntrySource, second: EntrySource) -> None:
        self.first, self.second = first, second

    def singles(self, port: int) -> tuple[CatalogEntry, ...]:
        return self.first.singles(port) + self.second.singles(port)

    def ranges_containing(self, port: int) -> tuple[CatalogEntry, ...]:
        return self.first.ranges_containing(port) + self.second.ranges_containing(port)


class _CatalogLines(EntrySource):
    """The entry lines of ``ports.txt``, parsed as lookups need them: a port's lines are found by
    bisection over their five-digit prefixes and parsed at its first lookup; the range lines are
    parsed together at the first lookup of any port."""

    def __init__(self, port_lines: list[bytes], range_lines: list[bytes]) -> None:
        self._port_lines = port_lines
        self._range_lines = range_lines
        self._singles: dict[int, tuple[CatalogEntry, ...]] = {}
        self._ranges: _RangeIndex | None = None

    def singles(self, port: int) -> tuple[CatalogEntry, ...]:
        found = self._singles.get(port)
        if found is None:
            lines, prefix = self._port_lines, port_prefix(port).encode()
            lo = hi = bisect_left(lines, prefix)
            while hi < len(lines) and lines[hi].startswith(prefix):
                hi += 1
            rows = _json_rows(line[PREFIX_WIDTH:] for line in lines[lo:hi]) if hi > lo else ()
            found = self._singles[port] = tuple(map(_entry, rows))
        return found

    def ranges_containing(self, port: int) -> tuple[CatalogEntry, ...]:
        if self._ranges is None:
            self._ranges = _RangeIndex(_json_rows(self._range_lines))
        return self._ranges.containing(port)


class Catalog:
    """Lookups by port, protocol, range and service name."""

    def __init__(self, rows: Iterable | EntrySource, classes: list[RangeClass],
                 ephemeral_presets: dict[str, tuple[PortRange, str]], risks: list[Risk],
                 names: dict[str, dict[str, int]] | bytes) -> None:
        """``rows``: raw rows or CatalogEntry objects, or a source that finds them on demand;
        ``names``: service name -> ``{protocol: port}``, or that mapping as JSON, parsed when
        a name is first resolved."""
        self.classes = classes
        self.ephemeral_presets = ephemeral_presets
        self.risks = risks
        self._names = names
        self._source = rows if isinstance(rows, EntrySource) else _Rows(rows)
        self._cache: dict[tuple[int, str | None], tuple[CatalogEntry, ...]] = {}
        self._risk_index: dict[int, tuple[Risk, ...]] | None = None  # port -> risks, built on first use
        self._info_cache: dict[tuple[int, str], PortInfo] = {}

    @property
    def names(self) -> dict[str, dict[str, int]]:
        """Service name -> ``{protocol: port}``, parsed at the first name resolved."""
        if isinstance(self._names, bytes):
            self._names = json.loads(self._names)
        return self._names

    def extended(self, entries: list[CatalogEntry | Risk]) -> Catalog:
        """A catalog with site-specific entries (from configuration or plugins), which count
        like IANA's, and extra risks; this one, shared by every run of the process, is left as
        it is."""
        rows = _Rows(e for e in entries if isinstance(e, CatalogEntry))
        risks = [e for e in entries if isinstance(e, Risk)]
        return Catalog(_Joined(self._source, rows), self.classes, self.ephemeral_presets, self.risks + risks,
                       self._names)

    # -- lookups -----------------------------------------------------------------------------

    def entries_for(self, port: int, protocol: str | None = None) -> tuple[CatalogEntry, ...]:
        """Entries about ``port`` for ``protocol`` (every protocol when None): single-port
        entries first, then the ranges containing it."""
        proto = _lookup_protocol(protocol)
        key = (port, proto)
        found = self._cache.get(key)
        if found is None:
            entries = self._source.singles(port) + self._source.ranges_containing(port)
            found = self._cache[key] = tuple(e for e in entries
                                             if proto is None or e.protocol is None or e.protocol == proto)
        return found

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


def _bounds(row) -> tuple[int, int]:
    """The first port of a raw row or an entry, and the port after its last."""
    if isinstance(row, CatalogEntry):
        return row.start, row.end + 1
    return row[0], row[1] + 1


def _entry(row) -> CatalogEntry:
    """``row`` as a CatalogEntry: a raw row of ``ports.txt`` or an entry already."""
    if isinstance(row, CatalogEntry):
        return row
    start, end, proto, source, status, name, description, notes, refs, tags = row
    return CatalogEntry(start, end, proto or None, source, status, name, description, tuple(notes), tuple(refs),
                        tuple(tags))


def _json_rows(lines: Iterable[bytes]) -> list:
    """The JSON values of ``lines``, in one parse."""
    return json.loads(b"[" + b",".join(lines) + b"]")


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


def port_prefix(port: int) -> str:
    """What a single-port line of ``ports.txt`` starts with: the port in five digits, so that
    the lines sort by port as text and bisection finds them."""
    return f"{port:05d} "


PREFIX_WIDTH = len(port_prefix(0))


def catalog_path() -> Path:
    return data_dir("catalog") / "ports.txt"


@lru_cache(maxsize=None)
def load(path: str | None = None) -> Catalog:
    """The catalog of ``ports.txt`` (see :mod:`portlint.catalog.build`), read once per process:
    its header and risks now, its entries and service names when lookups need them."""
    path = path or str(catalog_path())
    with open(path, "rb") as fh:
        lines = fh.read().split(b"\n")
    at = 0
    while lines[at].startswith(b"#"):
        at += 1
    header = json.loads(lines[at])
    if header.get("format") != FORMAT_VERSION:
        raise ValueError(f"{path}: catalog format {header.get('format')}, expected {FORMAT_VERSION}")
    sections: dict[str, list[bytes]] = {}
    at += 1
    for name, count in header["lines"].items():
        sections[name], at = lines[at:at + count], at + count
    if lines[at:] != [b""]:
        raise ValueError(f"{path}: the catalog is damaged (its sections do not add up to its header's counts); "
                         "rebuild it with python -m portlint.catalog.build")
    return Catalog(
        rows=_CatalogLines(sections["ports"], sections["ranges"]),
        classes=[RangeClass(*c) for c in header["classes"]],
        ephemeral_presets={k: (PortRange(lo, hi), ref) for k, (lo, hi, ref) in header["ephemeral"].items()},
        risks=[Risk(*r) for r in _json_rows(sections["risks"])],
        names=sections["names"][0],
    )
