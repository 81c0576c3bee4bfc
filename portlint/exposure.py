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

from collections.abc import Iterator, Mapping
from typing import Callable, TypeVar

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

V = TypeVar("V")
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
                        {"location": _match_location})


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


class ChainGraph:
    """The firewall rules of each chain in order, and the chains each chain jumps or goes to."""

    def __init__(self, document: Document) -> None:
        #: Tuples, not lists: most chains have a few rules. A chain's rules are mostly written
        #: together: each run of them becomes its tuple at once, and only a chain written in
        #: several places is collected in a list.
        self.rules: ChainDict[tuple[FirewallRule, ...]] = ChainDict()
        scattered: dict[tuple[int, str], tuple[dict, list[FirewallRule]]] = {}
        chains: dict[str, tuple[FirewallRule, ...]] = {}
        family = table = chain = None
        run: list[FirewallRule] = []
        for decl in document.declarations:
            if isinstance(decl, FirewallRule):
                if decl.chain != chain or decl.table != table or decl.family != family:
                    _add(chains, chain, run, scattered)
                    family, table, chain, run = decl.family, decl.table, decl.chain, []
                    chains = self.rules.table(family, table)
                run.append(decl)
        _add(chains, chain, run, scattered)
        for (_, chain), (chains, rules) in scattered.items():
            chains[chain] = tuple(rules)  # in the place the chain was first written

    def targets(self, key: ChainKey) -> list[ChainKey]:
        """The chains the rules of ``key`` jump or go to, each once, in the order first written.
        Read from the rules when asked: kept for every chain, they took 32 MiB of a 100 MB
        dump, and a walk asks once per chain."""
        found = dict.fromkeys(rule.target for rule in self.rules.get(key, ())
                              if rule.action in (Action.JUMP, Action.GOTO) and rule.target)
        return [(key[0], key[1], name) for name in found]

    @staticmethod
    def target(rule: FirewallRule) -> ChainKey | None:
        """The chain a jump or goto sends packets to; None for any other rule."""
        if rule.action in (Action.JUMP, Action.GOTO) and rule.target:
            return (rule.family, rule.table, rule.target)
        return None

    def reachable(self, start: ChainKey, seen: set[ChainKey] | ChainDict | None = None,
                  enter: Callable[[ChainKey], bool] | None = None) -> set[ChainKey] | ChainDict:
        """``start`` and every chain it reaches through jumps and gotos, added to ``seen``
        (chains already in ``seen`` are not walked again); only into chains ``enter`` accepts."""
        seen = set() if seen is None else seen
        stack = [start]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(c for c in self.targets(node) if enter is None or enter(c))
        return seen


def _add(chains: dict[str, tuple[FirewallRule, ...]], chain: str | None, run: list[FirewallRule],
         scattered: dict[tuple[int, str], tuple[dict, list[FirewallRule]]]) -> None:
    """Add a run of rules of ``chain`` written together to its table's ``chains``; a chain met
    again is collected in ``scattered`` (by its table's identity and its name)."""
    if chain is None:
        return
    if (id(chains), chain) in scattered:
        scattered[id(chains), chain][1].extend(run)
    elif chain in chains:
        scattered[id(chains), chain] = (chains, [*chains[chain], *run])
    else:
        chains[chain] = tuple(run)


class ChainDict(Mapping[ChainKey, V]):
    """A dictionary keyed by chain, held as dictionaries of chain names by (family, table): a
    100 MB kube-proxy dump has 228k chains, and a key tuple each took 14 MiB; keys are made
    when iterated, not kept. As a set of chains (``add``, ``in``), it is what
    ChainGraph.reachable fills: a set of 320k strings takes 16 MiB, a dictionary 7."""

    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], dict[str, V]] = {}

    def table(self, family: str, table: str) -> dict[str, V]:
        """The values of the chains of one table, by name (made empty when there is none)."""
        return self._tables.setdefault((family, table), {})

    def tables(self) -> set[tuple[str, str]]:
        """(family, table) of every table that holds a chain."""
        return {key for key, chains in self._tables.items() if chains}

    def __contains__(self, key: ChainKey) -> bool:
        family, table, chain = key
        return chain in self._tables.get((family, table), _NO_CHAINS)

    def get(self, key: ChainKey, default=None):
        family, table, chain = key
        return self._tables.get((family, table), _NO_CHAINS).get(chain, default)

    def __getitem__(self, key: ChainKey) -> V:
        family, table, chain = key
        return self._tables[family, table][chain]

    def __setitem__(self, key: ChainKey, value: V) -> None:
        family, table, chain = key
        self.table(family, table)[chain] = value

    def add(self, key: ChainKey) -> None:
        self[key] = None

    def __iter__(self) -> Iterator[ChainKey]:
        return ((family, table, chain) for (family, table), chains in self._tables.items() for chain in chains)

    def __len__(self) -> int:
        return sum(map(len, self._tables.values()))

    def items(self) -> Iterator[tuple[ChainKey, V]]:
        return (((family, table, chain), value) for (family, table), chains in self._tables.items()
                for chain, value in chains.items())


_NO_CHAINS: dict = {}


class ChainPaths:
    """Which chains of a document are reached from input/forward and from prerouting base
    chains (transitively through jumps and gotos); computed once per document."""

    def __init__(self, document: Document, chains: ChainGraph) -> None:
        self._filter = ChainDict()
        self._translation = ChainDict()
        tables = chains.rules.tables()
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
