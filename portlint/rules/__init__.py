"""Rules: small classes that read the normalised model and yield findings.

A rule never sees a parse tree or YAML node, only :class:`RuleContext` (the document, its
exposures, the catalog and the run's settings), so every rule works on every format. A
:class:`ProjectRule` reads every document of the project at once (:class:`ProjectContext`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, ClassVar, Hashable, Iterable, Iterator, NamedTuple, TypeVar

from ..catalog import Catalog
from ..exposure import ChainGraph, ChainPaths, Exposure, document_exposures
from ..findings import Finding, Severity
from ..model import MAX_PORT, Declaration, Document, FirewallRule, Location, PortRange, normalise, port_count

T = TypeVar("T")
_BLOCK = 16  # ports of a range judged together and remembered for the run (see ExposureRule._block)
_UNJUDGED = object()
_CONCERNS_NONE = ("", ())  # what an ExposureRule finds in ports that do not concern it
CODE_RE = re.compile(r"^[A-Z]+[0-9]{3,}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Settings:
    """Run-wide settings every rule may read."""

    ephemeral_range: PortRange = PortRange(49152, 65535)
    rule_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Ports open on purpose (configuration ``allow``): ``(ports, protocol or None)`` pairs.
    allowed: tuple[tuple[PortRange, str | None], ...] = ()

    def is_allowed(self, port: int, protocol: str | None) -> bool:
        return any(port in ports and proto in (None, protocol) for ports, proto in self.allowed)

    def allows_all(self, ranges, protocols) -> bool:
        """Whether ``allow`` entries (together) cover every port of ``ranges`` for every protocol."""
        if not self.allowed:
            return False
        for protocol in protocols:
            covered = normalise([ports for ports, proto in self.allowed if proto in (None, protocol)])
            if any(not any(c.start <= r.start and r.end <= c.end for c in covered) for r in normalise(ranges)):
                return False
        return True

    @property
    def broad_range(self) -> int:
        """Ranges at least this wide are judged as a whole, by PL302 alone (its ``min-ports``)."""
        return int(self.rule_options.get("broad-port-range", {}).get("min-ports", 1024))


@dataclass
class RuleContext:
    """One document as every rule sees it, with what rules compute from it once for all."""

    document: Document
    catalog: Catalog
    settings: Settings
    _shared: dict[Callable, Any] = field(default_factory=dict, repr=False)

    def shared(self, build: Callable[[RuleContext], T]) -> T:
        """``build(self)``, computed once per document for every rule that asks for it."""
        if build not in self._shared:
            self._shared[build] = build(self)
        return self._shared[build]

    @cached_property
    def chains(self) -> ChainGraph:
        """The firewall rules of each chain and the jumps between chains, computed once."""
        return ChainGraph(self.document)

    @cached_property
    def paths(self) -> ChainPaths:
        """Which chains are on the input/forward and prerouting paths."""
        return ChainPaths(self.document, self.chains)

    @cached_property
    def exposures(self) -> list[Exposure]:
        """The document's exposures, computed once and shared by every rule."""
        return document_exposures(self.document, self.paths)


@dataclass
class ProjectContext:
    """Every document of a project: the checked ones, which findings are reported on, and the
    others portlint reads under the project root, read for reference (a pre-commit run names
    only the changed compose file; the firewall beside it still counts). Each document keeps
    its :class:`RuleContext`, so its exposures and chains are computed once for every rule."""

    root: Path | None  # None: the checked documents alone (one text linted on its own)
    checked: list[RuleContext]
    others: list[RuleContext]
    catalog: Catalog
    settings: Settings
    _shared: dict[Callable, Any] = field(default_factory=dict, repr=False)

    @property
    def contexts(self) -> list[RuleContext]:
        """Every document of the project, the checked ones first."""
        return self.checked + self.others

    def shared(self, build: Callable[[ProjectContext], T]) -> T:
        """``build(self)``, computed once per project for every rule that asks for it."""
        if build not in self._shared:
            self._shared[build] = build(self)
        return self._shared[build]


class Rule:
    """Base class of every rule, built-in or from a plugin.

    The class docstring is the rule's user documentation (``portlint explain``).
    """

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity]
    summary: ClassVar[str]
    #: Option names (kebab-case) and their defaults.
    options: ClassVar[dict[str, Any]] = {}
    #: Opt-in rules run only when selected explicitly (or with ALL).
    default_enabled: ClassVar[bool] = True

    def __init__(self, severity: Severity | None = None, options: dict[str, Any] | None = None) -> None:
        self.level = severity or type(self).severity
        self.config = {**type(self).options, **(options or {})}

    def check(self, ctx: RuleContext) -> Iterable[Finding]:
        raise NotImplementedError

    def finding(self, location: Location, message: str, declaration: Declaration | None = None,
                related: tuple[Location, ...] = ()) -> Finding:
        """A finding of this rule about ``declaration``: when evaluation produced it (a loop or a
        function of a shell script), the message ends with where its values came from.
        ``related``: the places the message names by line, which its fingerprint leaves out."""
        statement_line = None
        if isinstance(declaration, FirewallRule):
            if declaration.origin:
                message = f"{message} ({declaration.origin})"
            if declaration.rule_line is not None and declaration.rule_line < location.line:
                statement_line = declaration.rule_line
        return Finding(self.code, self.name, self.level, message, location, related, statement_line)

    @classmethod
    def validate(cls) -> str | None:
        """Why this class cannot be used as a rule, or None."""
        for attr in ("code", "name", "severity", "summary"):
            if not hasattr(cls, attr):
                return f"rule {cls.__name__} has no {attr!r}"
        if not CODE_RE.match(cls.code):
            return f"rule {cls.__name__}: code {cls.code!r} is not letters followed by digits"
        if not NAME_RE.match(cls.name):
            return f"rule {cls.__name__}: name {cls.name!r} is not kebab-case"
        if not isinstance(cls.severity, Severity):
            return f"rule {cls.__name__}: severity must be a portlint.findings.Severity"
        return None


class DiagnosticRule(Rule):
    """A rule whose findings are the diagnostics a parser reported under its code."""

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        for diagnostic in ctx.document.diagnostics:
            if diagnostic.code == self.code:
                yield self.finding(diagnostic.location, diagnostic.message)


class ProjectRule(Rule):
    """A rule that relates the documents of a project (a compose file and the host firewall).

    It runs once per run, after every document is linted, and reports on the checked documents
    only. The linter reads the rest of the project only when a checked document
    :meth:`concerns` an enabled project rule.
    """

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        return iter(())

    def concerns(self, document: Document) -> bool:
        """Whether this rule may report on ``document`` (so the project must be read)."""
        return True

    def check_project(self, ctx: ProjectContext) -> Iterable[Finding]:
        raise NotImplementedError


class ExposureRule(Rule):
    """A rule that judges the ports of each narrow exposure one by one.

    Subclasses implement :meth:`concerns` for one port and :meth:`message`; the rule yields one
    finding per exposure naming every port concerned. Ranges at least ``broad_range`` wide are
    PL302's alone; a compose port published on an ephemeral host port has no exposed port to
    judge, but its service port is judged.
    """

    #: Judge the exposed port (as traffic arrives) or the service port (where it ends up).
    judges: ClassVar[str] = "exposed"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        judged = self.__dict__.setdefault("_judged", {})  # for the run: rulesets repeat their ports
        for exposure in ctx.shared(_narrow_exposures)[self.judges]:
            if not self.applies(exposure):
                continue
            ranges = exposure.exposed if self.judges == "exposed" else exposure.service
            # A single port is judged again each time from the per-port answers: remembering
            # each (port, protocols) as well cost 150 bytes a port, 60 MiB for a set of them all.
            single = len(ranges) == 1 and ranges[0].start == ranges[0].end
            key = None if single else (ranges, exposure.protocols)
            found = judged.get(key) if key else None
            if found is None:
                ports, reasons = self._judge(ranges, exposure.protocols, ctx)
                found = (ports_text(ports), tuple(reasons)) if ports else _CONCERNS_NONE
                if key:
                    judged[key] = found
            ports_written, reasons = found
            if ports_written:
                yield self.finding(exposure.location, self.message(ports_written, list(reasons), exposure),
                                   exposure.declaration)

    def _judge(self, ranges: tuple[PortRange, ...], protocols: tuple[str, ...],
               ctx: RuleContext) -> tuple[list[int], list[Hashable]]:
        """The ports of ``ranges`` that concern this rule and their distinct reasons; what
        concerns the rule is worked out once per run for each single port, and for each block of
        ports a range touches: rulesets repeat ports and ranges rule after rule."""
        ports: list[int] = []
        reasons: dict[Hashable, None] = {}
        blocks = self.__dict__.setdefault("_blocks", {})
        singles_of = self.__dict__.setdefault("_singles", {})  # protocol -> port -> reason or None
        for proto in protocols:
            singles = singles_of.get(proto)
            if singles is None:
                singles = singles_of[proto] = {}
            for r in ranges:
                if r.start == r.end:  # one port is judged alone: a small file has a few
                    reason = singles.get(r.start, _UNJUDGED)
                    if reason is _UNJUDGED:
                        reason = singles[r.start] = self._reason(r.start, proto, ctx)
                    if reason is not None:
                        ports.append(r.start)
                        reasons.setdefault(reason, None)
                    continue
                for block in range(r.start // _BLOCK, r.end // _BLOCK + 1):
                    found = blocks.get((block, proto))
                    if found is None:
                        found = blocks[block, proto] = self._block(block, proto, ctx)
                    if not found.ports:
                        continue
                    if r.start <= found.ports[0] and found.ports[-1] <= r.end:  # the whole block
                        ports.extend(found.ports)
                        reasons.update(dict.fromkeys(found.reasons))
                        continue
                    for port, reason in zip(found.ports, found.reason_of):
                        if r.start <= port <= r.end:
                            ports.append(port)
                            reasons.setdefault(reason, None)
        return ports, list(reasons)

    def _block(self, block: int, protocol: str, ctx: RuleContext) -> _Concerned:
        """The ports of one block of ``_BLOCK`` ports that concern this rule."""
        ports, reasons = [], []
        for port in range(block * _BLOCK, min((block + 1) * _BLOCK, MAX_PORT + 1)):
            reason = self._reason(port, protocol, ctx)
            if reason is not None:
                ports.append(port)
                reasons.append(reason)
        return _Concerned(tuple(ports), tuple(reasons), tuple(dict.fromkeys(reasons)))

    def _reason(self, port: int, protocol: str, ctx: RuleContext) -> Hashable | None:
        """Why ``port`` concerns this rule, None when it does not or is allowed."""
        if ctx.settings.allowed and ctx.settings.is_allowed(port, protocol):
            return None
        return self.concerns(port, protocol, ctx)

    def applies(self, exposure: Exposure) -> bool:
        """Whether this rule judges ``exposure`` at all (e.g. only those from any source)."""
        return True

    def concerns(self, port: int, protocol: str, ctx: RuleContext) -> Hashable | None:
        """A reason (any hashable; "" is fine) when ``port``/``protocol`` concerns this rule,
        else None. The distinct reasons of an exposure reach :meth:`message` in order. The
        answer may depend on the port, the protocol and the run (catalog, settings), not on the
        document: it is computed once per run."""
        raise NotImplementedError

    def message(self, ports: str, reasons: list, exposure: Exposure) -> str:
        """The one message for every port of ``exposure`` that concerns this rule."""
        raise NotImplementedError


class _Concerned(NamedTuple):
    """The ports of a block that concern a rule, each one's reason, and the distinct reasons in
    order (a range that holds the whole block takes them at once). Tuples: the cycle collector
    stops tracking them, and a run remembers thousands."""

    ports: tuple[int, ...]
    reason_of: tuple[Hashable, ...]
    reasons: tuple[Hashable, ...]


def _narrow_exposures(ctx: RuleContext) -> dict[str, list[Exposure]]:
    """For each kind of port an exposure rule judges (exposed, service), the exposures that have
    such ports, fewer than ``broad_range`` (wider ranges are PL302's): worked out once per
    document for every exposure rule."""
    broad = ctx.settings.broad_range
    return {"exposed": [e for e in ctx.exposures if e.exposed and port_count(e.exposed) < broad],
            "service": [e for e in ctx.exposures if e.service and port_count(e.service) < broad]}


def with_protocol(ports: str, exposure: Exposure, protocol: str | None = None) -> str:
    """``"23/tcp"`` for one port or range, ``"tcp 20-21, 25"`` for several."""
    proto = protocol or exposure.protocol_text
    return f"{proto} {ports}" if "," in ports else f"{ports}/{proto}"


def ports_text(ports: list[int]) -> str:
    """``[22, 23, 24, 80]`` -> ``"22-24, 80"``."""
    runs: list[list[int]] = []  # [first, last]: a range of a thousand ports makes one run
    for p in sorted(set(ports)):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in runs)
