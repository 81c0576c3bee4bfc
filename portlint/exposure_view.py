"""``portlint exposure``: what a project exposes, one row per exposed port and protocol.

Each row gathers every place that opens or publishes the port in the checked files (a firewall
accept or DNAT, a compose publish), what the catalog says about it (services, risk tags,
status), who can reach it, and what else in the project stops it: a forward-path rule that
drops a published port (``dropped``) or some of its packets (``filtered``), an earlier rule or
another base chain that drops what a firewall rule accepts, or the input path a published port
goes around (``bypassed``). Rows are grouped by their riskiest tag, riskiest group first.

Ranges narrower than the broad-range threshold are listed port by port; a broader one is one
row, tagged with the risks of every port it holds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .catalog import ASSIGNED, PortInfo
from .coverage import Matches
from .docker_paths import FILTER_TYPES, ChainFate, ProjectFirewall, chain_walker, on_loopback
from .exposure import FILTER_HOOKS, ChainKey, Exposure, chain_key
from .model import Action, FirewallRule, PortBinding, PortRange, format_ranges, record
from .rules import ProjectContext, RuleContext
from .rules.publishing import published_bindings
from .verdicts import FAMILY_VERSIONS, sees

#: Risk groups, riskiest first; a row joins the first group one of its tags names.
RISK_GROUPS = ("admin", "amplification", "cleartext", "trojan", "reserved", "unassigned", "other")
BROAD = "broad-range"


@record
class Block:
    """Something in the project that stops (or would stop) the traffic of one place."""

    kind: str  # dropped, filtered, bypassed
    path: str
    line: int
    detail: str  # "rules.v4:12, 5432/tcp from any source dropped on DOCKER-USER"

    @classmethod
    def of(cls, kind: str, fate: ChainFate) -> Block:
        return cls(kind, fate.path, fate.line, fate.explain())

    def text(self) -> str:
        if self.kind == "bypassed":
            return f"bypassed: {self.detail} (Docker's NAT goes around the input path)"
        return f"{self.kind}: {self.detail}"


@record
class Place:
    """One declaration that opens or publishes a row's port."""

    path: str
    line: int
    column: int
    how: str  # "published on all interfaces by service db"
    source: str  # "any source", "10.0.0.0/8", "all interfaces", "127.0.0.1"
    service_port: str | None  # where the traffic ends up, when not the exposed port
    blocks: tuple[Block, ...]

    @property
    def blocked(self) -> bool:
        return any(b.kind == "dropped" for b in self.blocks)


@dataclass
class Row:
    protocol: str
    ports: tuple[PortRange, ...]  # one port, or a broad range; empty for an ephemeral host port
    services: list[str] = field(default_factory=list)
    status: str = ""
    tags: list[str] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)

    @property
    def port_text(self) -> str:
        return format_ranges(self.ports) if self.ports else "ephemeral"

    @property
    def risk(self) -> str:
        return next((group for group in RISK_GROUPS if group in self.tags), "other")

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(place.source for place in self.places))

    @property
    def blocked(self) -> bool:
        """Whether something in the project stops the traffic of every place."""
        return all(place.blocked for place in self.places)

    @property
    def sort_key(self) -> tuple:
        return (RISK_GROUPS.index(self.risk), not self.ports, self.ports, self.protocol)


def exposure_rows(project: ProjectContext) -> list[Row]:
    """The rows of the checked documents' exposures, riskiest group first."""
    view = _View(project)
    seen: set[tuple] = set()
    for ctx in project.checked:
        discarded = _discarded_bindings(ctx)
        for exposure in ctx.exposures:
            key = (exposure.declaration, exposure.location)
            if key in seen or exposure.declaration in discarded:
                continue
            seen.add(key)
            view.add(ctx, exposure)
    return sorted(view.rows.values(), key=lambda row: row.sort_key)


def _discarded_bindings(ctx: RuleContext) -> set[PortBinding]:
    """The ``ports:`` of services on the host network, which Compose discards."""
    published = set(published_bindings(ctx))
    return {d for d in ctx.document.declarations if isinstance(d, PortBinding) and d not in published}


class _View:
    def __init__(self, project: ProjectContext) -> None:
        self.project = project
        self.catalog = project.catalog
        self.broad = project.settings.broad_range
        self.rows: dict[tuple, Row] = {}

    def add(self, ctx: RuleContext, exposure: Exposure) -> None:
        for protocol in exposure.protocols:
            blocks = tuple(self._blocks(ctx, exposure, protocol))
            if not exposure.exposed or exposure.width >= self.broad:
                pairs = [(exposure.exposed, exposure.service)]
            else:
                pairs = [((PortRange.single(port),), service) for port, service in _port_pairs(exposure)]
            for ports, service in pairs:
                row = self._row(protocol, ports, service)
                translated = service if service != ports else None
                row.places.append(self._place(exposure, protocol, translated, blocks))

    def _row(self, protocol: str, ports: tuple[PortRange, ...], service: tuple[PortRange, ...]) -> Row:
        """The row of ``ports`` (of ``service`` for an ephemeral host port), created with its
        catalog facts on first use; the risks of the service behind it count too."""
        key = (protocol, ports) if ports else (protocol, (), service)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = Row(protocol, ports)
            described = ports or service
            if _single(described):
                info = self.catalog.info(described[0].start, protocol)
                row.status = info.status
                row.services = _names(info)
            else:
                row.services = [f"{sum(r.width for r in described)} ports"]
                row.tags = [BROAD, *self._risks_within(described, protocol)]
        for ports_behind in (ports, service):
            if _single(ports_behind):
                self._add_tags(row, self.catalog.info(ports_behind[0].start, protocol))
        return row

    @staticmethod
    def _add_tags(row: Row, info: PortInfo) -> None:
        tags = [*info.tags, *([info.status] if info.status != ASSIGNED else [])]
        row.tags = sorted(set(row.tags) | set(tags))

    def _risks_within(self, ports: tuple[PortRange, ...], protocol: str) -> list[str]:
        return sorted({risk.kind for risk in self.catalog.risks if risk.protocol == protocol
                       and any(risk.start <= r.end and r.start <= risk.end for r in ports)})

    def _place(self, exposure: Exposure, protocol: str, service: tuple[PortRange, ...] | None,
               blocks: tuple[Block, ...]) -> Place:
        loc = exposure.location
        behind = None
        if service:
            names = _names(self.catalog.info(service[0].start, protocol)) if _single(service) else []
            behind = f"{format_ranges(service)}/{protocol}" + (f" ({', '.join(names)})" if names else "")
        return Place(loc.path, loc.line, loc.column, exposure.describe(), exposure.source, behind, blocks)

    def _blocks(self, ctx: RuleContext, exposure: Exposure, protocol: str) -> Iterator[Block]:
        decl = exposure.declaration
        if isinstance(decl, PortBinding):
            if on_loopback(decl):
                return
            fate = self.project.shared(ProjectFirewall).fate(decl)
            dropped, filtered = fate.dropped, fate.filtered
            if dropped is not None:
                yield Block.of("dropped", dropped)
            elif filtered is not None:
                yield Block.of("filtered", filtered)
            else:
                yield from (Block.of("bypassed", f) for f in fate.bypassed)
        elif decl.action == Action.ACCEPT:
            yield from (Block.of("dropped", f) for f in _dropped_before(ctx, decl, exposure, protocol))


def _single(ports: tuple[PortRange, ...]) -> bool:
    return len(ports) == 1 and ports[0].width == 1


def _names(info: PortInfo) -> list[str]:
    """The catalog's service names of a port, each once (descriptions when no entry has a name)."""
    names = [e.name for e in info.services if e.name] or [e.description for e in info.services if e.description]
    return list(dict.fromkeys(names))


def _port_pairs(exposure: Exposure) -> Iterator[tuple[int, tuple[PortRange, ...]]]:
    """Each exposed port and where its traffic ends up: port for port when both sides are as
    wide (``9000-9010:9000-9010``, an untranslated ``80,443``), else every exposed port to the
    whole service side."""
    exposed, service = exposure.exposed, exposure.service
    ports = [p for r in exposed for p in range(r.start, r.end + 1)]
    if not exposure.translated:
        targets = ports
    else:
        targets = [p for r in service for p in range(r.start, r.end + 1)] if len(service) == 1 else []
    if len(targets) == len(ports):
        for port, target in zip(ports, targets):
            yield port, (PortRange.single(target),)
    else:
        for port in ports:
            yield port, service


def _base_chains(ctx: RuleContext) -> list[tuple]:
    """The document's filter base chains on the input and forward hooks, with the chains each
    reaches (computed once per document)."""
    return [(policy, ctx.chains.reachable(chain_key(policy))) for policy in ctx.document.policies
            if policy.hook in FILTER_HOOKS and policy.type in FILTER_TYPES]


def _dropped_before(ctx: RuleContext, rule: FirewallRule, exposure: Exposure, protocol: str) -> Iterator[ChainFate]:
    """The base chains that drop the packets ``rule`` accepts before it does, or after it (a
    drop in another base chain of the hook is final): an earlier rule that covers them, or
    another table's chain."""
    bases = ctx.shared(_base_chains)
    key: ChainKey = chain_key(rule)
    hooks = {policy.hook for policy, reached in bases if key in reached}
    versions = FAMILY_VERSIONS.get(rule.family, frozenset())
    packets = Matches.of(rule)._replace(protocol=(False, protocol), dport=exposure.exposed, either=None)
    walker = ctx.shared(chain_walker)
    for policy, _ in bases:
        if policy.hook in hooks and sees(policy.family, versions):
            verdict = walker.base(policy, packets)
            if verdict.closes:
                yield ChainFate(ctx.document.path, policy.chain, verdict)
