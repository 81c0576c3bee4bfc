"""Exposure semantics, defined once for every rule.

A firewall port is *opened* when an accept on the input or forward path matches it, or a
DNAT/REDIRECT/TPROXY translates it on the prerouting path. Non-terminal actions (LOG, counters,
RETURN, ...) open nothing; drop and reject close. A user chain is on the paths of the base chains
that jump or go to it, transitively; a table with no base chain at all (a fragment) is assumed to
be on both paths. A compose ``ports:`` entry opens its published port; ``expose:`` opens nothing.

Only destination ports are exposures (multiport ``--ports`` counts as one); a negated match opens
every other port. The *exposed* ports are the ports as traffic arrives, the *service* ports where
it ends up (the DNAT/REDIRECT target, the compose container port).
"""
from __future__ import annotations

from typing import Callable

from .model import (
    Action,
    ChainPolicy,
    Declaration,
    Document,
    FirewallRule,
    Hook,
    Location,
    PortBinding,
    PortRange,
    complement,
    format_ranges,
    normalise,
    port_count,
    record,
    variant,
)

FILTER_HOOKS = frozenset({Hook.INPUT, Hook.FORWARD})
TRANSLATION_HOOKS = frozenset({Hook.PREROUTING})
def _zero_prefix(address: str) -> bool:
    """``0.0.0.0/0``, ``0/0``, ``::/0``, ``0.0.0.0/0.0.0.0``: every address."""
    return address.endswith(("/0", "/0.0.0.0"))


def any_address(address: str | None) -> bool:
    """A source that admits (almost) anyone: none, a zero-length prefix, or a negated address
    (``! -s 10.0.0.0/8`` is everyone else)."""
    return address is None or address.startswith("!") or _zero_prefix(address)



WILDCARD_ADDRESSES = ("0.0.0.0", "::", "[::]")
LOOPBACK_INTERFACES = ("lo",)
#: Connection-tracking states under which a rule admits new connections.
NEW_STATES = frozenset({"NEW", "UNTRACKED"})


@record(variants=True)
class Exposure:
    """One opened (or published) set of destination ports of one declaration."""

    declaration: Declaration
    protocol: str | None  # tcp, udp, sctp, ...; None when any transport protocol matches
    exposed: tuple[PortRange, ...]  # normalised; empty for a compose ephemeral host port
    service: tuple[PortRange, ...]  # normalised
    location: Location
    negated: bool = False
    written: tuple[PortRange, ...] = ()  # the match as written (before a negation is applied)

    @property
    def width(self) -> int:
        return port_count(self.exposed)

    @property
    def protocols(self) -> tuple[str, ...]:
        """The concrete protocols to look ports up for."""
        return (self.protocol,) if self.protocol else ("tcp", "udp")

    @property
    def protocol_text(self) -> str:
        return self.protocol or "tcp/udp"

    @property
    def from_any_source(self) -> bool:
        """No source restriction: no source address (or 0.0.0.0/0, ::/0) and not only the
        loopback interface; for compose, published on every interface."""
        decl = self.declaration
        if isinstance(decl, PortBinding):
            return decl.host_ip in (None, "", *WILDCARD_ADDRESSES)
        return any_address(decl.saddr) and decl.iif not in LOOPBACK_INTERFACES

    @property
    def translated(self) -> bool:
        return self.service != self.exposed

    @property
    def translated_by_firewall(self) -> bool:
        """A DNAT/REDIRECT/TPROXY exposure: the exposed port is not bound on the host."""
        return isinstance(self.declaration, FirewallRule) and self.declaration.action in Action.TRANSLATIONS

    @property
    def source(self) -> str:
        """Who can reach the ports: "any source", "10.0.0.0/8", "loopback"; for compose, the
        host address ("all interfaces" when none)."""
        decl = self.declaration
        if isinstance(decl, PortBinding):
            return decl.host_ip or "all interfaces"
        if decl.iif in LOOPBACK_INTERFACES:
            return "loopback"
        source = decl.saddr or "any source"
        if _zero_prefix(source):
            return "any source"
        if source.startswith("!"):
            return f"any source but {source[1:]}"
        return source

    def describe(self) -> str:
        """How the ports are exposed, for messages: "accepted from any source on INPUT"."""
        decl = self.declaration
        if isinstance(decl, PortBinding):
            return f"published on {self.source} by service {decl.service}"
        source = self.source
        if decl.action == Action.ACCEPT:
            return f"accepted from {source} on {decl.chain}"
        if decl.to_address:
            to = decl.to_address + (f":{format_ranges(self.service)}" if self.translated else "")
        else:
            to = f"local port {format_ranges(self.service)}" if self.translated else "unchanged"
        return f"{decl.action.upper()} from {source} on {decl.chain}, {format_ranges(self.exposed)} -> {to}"


def document_exposures(document: Document, paths: ChainPaths | None = None) -> list[Exposure]:
    paths = paths or ChainPaths(document, ChainGraph(document))
    out: list[Exposure] = []
    for decl in document.declarations:
        if isinstance(decl, FirewallRule):
            exposure = _firewall_exposure(decl, paths)
        else:
            exposure = _binding_exposure(decl)
        if exposure is not None:
            out.append(exposure)
    return out


def _firewall_exposure(rule: FirewallRule, paths: ChainPaths) -> Exposure | None:
    match = rule.dport or rule.either
    if match is None or rule.protocol_negated:
        return None
    if rule.states and not NEW_STATES.intersection(s.upper() for s in rule.states):
        return None
    if rule.action == Action.ACCEPT:
        if not paths.on_filter_path(rule):
            return None
    elif rule.action in Action.TRANSLATIONS:
        if not paths.on_translation_path(rule):
            return None
    else:
        return None
    exposed = complement(match.ranges) if match.negated else normalise(match.ranges)
    service = normalise(rule.to_ports) if rule.to_ports else exposed
    return _RuleExposure(rule, rule.protocol, exposed, service, match.negated, normalise(match.ranges))


def _match_location(exposure: Exposure) -> Location:
    rule = exposure.declaration
    return (rule.dport or rule.either).location or rule.location


#: A firewall rule's exposure finds its location in the rule when asked: a 100 MB dump has 165k
#: exposures, and a rule read through its shape makes its port match's location on demand too.
_RuleExposure = variant(Exposure, {}, ("declaration", "protocol", "exposed", "service", "negated", "written"),
                        {"location": property(_match_location)})


def _binding_exposure(binding: PortBinding) -> Exposure | None:
    if binding.kind != "ports":
        return None
    exposed = (binding.published,) if binding.published is not None else ()
    return Exposure(
        declaration=binding,
        protocol=binding.protocol,
        exposed=normalise(exposed),
        service=normalise((binding.target,)),
        location=binding.location,
    )


#: A chain's identity in a document: (family, table, chain).
ChainKey = tuple[str, str, str]


def chain_key(item: FirewallRule | ChainPolicy) -> ChainKey:
    return (item.family, item.table, item.chain)


#: Up to this many targets, a chain's jumps are told apart by looking through them.
_FEW_TARGETS = 16


class ChainGraph:
    """The firewall rules of each chain in order, and the chains each chain jumps or goes to."""

    def __init__(self, document: Document) -> None:
        #: Tuples, not lists or sets: most chains hold and jump to few others, and a 100 MB
        #: kube-proxy dump has 228k chains. A chain's rules are mostly written together: each
        #: run of them becomes its tuple at once, and only a chain written in several places is
        #: collected in a list first.
        self.rules: dict[ChainKey, tuple[FirewallRule, ...]] = {}
        self.edges: dict[ChainKey, tuple[ChainKey, ...]] = {}
        scattered: dict[ChainKey, list[FirewallRule]] = {}
        edges_of: dict[ChainKey, list[ChainKey]] = {}
        #: The targets of the chains that jump to many (KUBE-SERVICES jumps to tens of thousands:
        #: a look through the list for each would be quadratic).
        many: dict[ChainKey, set[ChainKey]] = {}
        keys: dict[ChainKey, ChainKey] = {}  # one tuple per chain, however often it is named
        run_key, run = None, []
        for decl in document.declarations:
            if isinstance(decl, FirewallRule):
                key = chain_key(decl)
                if key != run_key:
                    self._add(run_key, run, scattered)
                    run_key, run = keys.setdefault(key, key), []
                key = run_key
                run.append(decl)
                target = self.target(decl)
                if target is not None:
                    target = keys.setdefault(target, target)
                    targets = edges_of.setdefault(key, [])
                    if len(targets) < _FEW_TARGETS:
                        if target not in targets:
                            targets.append(target)
                    else:
                        told = many.get(key)
                        if told is None:
                            told = many[key] = set(targets)
                        if target not in told:
                            told.add(target)
                            targets.append(target)
        self._add(run_key, run, scattered)
        for key, rules in scattered.items():
            self.rules[key] = tuple(rules)  # in the place the chain was first written
        for key in list(edges_of):  # each list dropped as its tuple is made
            self.edges[key] = tuple(edges_of.pop(key))

    def _add(self, key: ChainKey | None, run: list[FirewallRule], scattered: dict[ChainKey, list[FirewallRule]]) -> None:
        """Add a run of rules of the chain ``key`` written together."""
        if key is None:
            return
        if key in scattered:
            scattered[key].extend(run)
        elif key in self.rules:
            scattered[key] = [*self.rules[key], *run]
        else:
            self.rules[key] = tuple(run)

    @staticmethod
    def target(rule: FirewallRule) -> ChainKey | None:
        """The chain a jump or goto sends packets to; None for any other rule."""
        if rule.action in (Action.JUMP, Action.GOTO) and rule.target:
            return (rule.family, rule.table, rule.target)
        return None

    def reachable(self, start: ChainKey, seen: set[ChainKey] | None = None,
                  enter: Callable[[ChainKey], bool] | None = None) -> set[ChainKey]:
        """``start`` and every chain it reaches through jumps and gotos, added to ``seen``
        (chains already in ``seen`` are not walked again); only into chains ``enter`` accepts."""
        seen = set() if seen is None else seen
        stack = [start]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(c for c in self.edges.get(node, ()) if enter is None or enter(c))
        return seen


class ChainPaths:
    """Which chains of a document are reached from input/forward and from prerouting base
    chains (transitively through jumps and gotos); computed once per document."""

    def __init__(self, document: Document, chains: ChainGraph) -> None:
        self._filter: set[ChainKey] = set()
        self._translation: set[ChainKey] = set()
        tables = {(family, table) for family, table, _ in chains.rules}
        based: set[tuple[str, str]] = set()
        for policy in document.policies:
            if policy.hook is None:
                continue
            based.add((policy.family, policy.table))
            start = chain_key(policy)
            if policy.hook in FILTER_HOOKS and policy.type in (None, "filter"):
                chains.reachable(start, self._filter)
            if policy.hook in TRANSLATION_HOOKS:
                chains.reachable(start, self._translation)
        self._fragments = tables - based

    def on_filter_path(self, rule: FirewallRule) -> bool:
        return chain_key(rule) in self._filter or (rule.family, rule.table) in self._fragments

    def on_translation_path(self, rule: FirewallRule) -> bool:
        return chain_key(rule) in self._translation or (rule.family, rule.table) in self._fragments
