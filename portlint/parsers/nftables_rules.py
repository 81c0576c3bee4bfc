"""One nftables rule read for what portlint models: the ports it matches, the packets it selects
(addresses, interfaces, conntrack states, protocols), and what it does with them.

Ports held by named sets and maps (``tcp dport @web``) are resolved by the caller once the whole
ruleset is read, since elements may be added after the rule; everything else is read here, with
variables bound as nft binds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from lark import Token

from ..model import MAX_PORT, Action, Location, PortRange
from .common import INVALID_PORT, PARSE_ERROR, PROTOCOL_NUMBERS, one_of
from .nftables_syntax import (
    AnonymousChain,
    Concat,
    Conntrack,
    ListExpr,
    MapLookup,
    Mapping,
    Match,
    Meta,
    Nat,
    Node,
    Payload,
    Range,
    Rule,
    SetLiteral,
    SetRef,
    Span,
    Terminal,
    Unsupported,
    Verdict,
    VerdictMap,
    span_of,
)
from .nftables_values import Bound, Piece, PortReader, Scope, bind, location, mapping_outside_map, unwrap, word

#: Transport protocols whose header nft can match ports of; `th` is any of them.
PORT_PROTOCOLS = frozenset({"tcp", "udp", "udplite", "sctp", "dccp"})
TRANSPORT_HEADER = "th"
DIRECTIONS = ("dport", "sport")
VERDICTS = {"accept": Action.ACCEPT, "drop": Action.DROP, "return": Action.RETURN, "jump": Action.JUMP,
            "goto": Action.GOTO}
TRANSLATIONS = {"dnat": Action.DNAT, "snat": Action.SNAT, "masquerade": Action.MASQUERADE,
                "redirect": Action.REDIRECT, "tproxy": Action.TPROXY}
TERMINALS = {"reject": Action.REJECT, "queue": Action.OTHER, "fwd": Action.OTHER, "synproxy": Action.OTHER}
#: The keys `meta KEY` accepts (nft 1.0.6) beyond the keyword ones.
META_KEYS = frozenset("""length protocol priority mark iif oif iifname oifname iiftype oiftype skuid skgid
    nftrace rtclassid secmark nfproto l4proto ibrname obrname pkttype cpu iifgroup oifgroup cgroup random
    ipsec iifkind oifkind ibrpvid ibrvproto time day hour sdif sdifname ibriport obriport""".split())
_LESS_GREATER = {"<": "lt", "lt": "lt", ">": "gt", "gt": "gt", "<=": "le", "le": "le", ">=": "ge", "ge": "ge"}
_NEGATIONS = ("!=", "ne")
_INTERFACES = {"iifname": "iif", "iif": "iif", "oifname": "oif", "oif": "oif"}
_REJECT_FAMILIES = {"icmp": "ipv4", "icmpv6": "ipv6"}
#: Statements that stop matching packets (rate limits, quotas, connection counts).
_CONDITIONS = frozenset({"limit_stmt", "quota_stmt", "connlimit_stmt", "meter_stmt"})
#: The transport protocols whose header nft matches with a dependency on the protocol, by the
#: names and numbers `meta l4proto` accepts for them. A rule naming two of them is rejected.
_TRANSPORT_NAMES = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "udplite": "udplite", "136": "udplite",
                    "sctp": "sctp", "132": "sctp", "dccp": "dccp", "33": "dccp", "icmp": "icmp", "1": "icmp",
                    "icmpv6": "icmpv6", "ipv6-icmp": "icmpv6", "58": "icmpv6", "igmp": "igmp", "2": "igmp",
                    "esp": "esp", "50": "esp"}
#: Headers after which nft no longer knows the transport protocol (they carry a next header).
_NEXT_HEADERS = frozenset({"ah", "comp"})
#: Header fields that are not a plain payload of their protocol (options, chunks).
_NOT_PLAIN = frozenset({"option", "chunk"})


@dataclass(slots=True)
class Outcome:
    """What the rule does with a packet: a normalised action and its target or translation."""

    action: str | None
    target: str | None = None
    to_address: str | None = None
    to_ports: tuple[PortRange, ...] | None = None
    options: tuple[str, ...] = ()  # of a reject, queue, ... (`with tcp reset`)
    #: Where a verdict map element gives this outcome (a rule with several outcomes).
    location: Location | None = field(default=None, compare=False)


@dataclass(slots=True)
class PortClause:
    """A port match of the rule; ``pieces`` are its ports element by element, or ``set_ref``
    names the set or map that holds them (``component`` in its concatenated keys), and the
    ruleset gives them once the file is read (a map's as an iterable read again each time)."""

    protocol: str | None  # None: th, whose protocol is the rule's
    direction: str
    negated: bool
    location: Location
    pieces: list[Piece] = field(default_factory=list)
    set_ref: SetRef | None = None
    component: int | None = None
    mapped: str | None = None  # "vmap": pieces map to verdicts; "map": to a statement's value
    translation: Nat | None = None  # the nat statement a map feeds


@dataclass(slots=True)
class RuleFacts:
    """What a rule says, statement by statement, in the model's terms."""

    location: Location
    matches: list[PortClause] = field(default_factory=list)
    protocols: set[str] = field(default_factory=set)  # named by meta l4proto, ip protocol, ...
    protocol_matches: list[str] = field(default_factory=list)  # those matches as written
    saddr: str | None = None
    daddr: str | None = None
    iif: str | None = None
    oif: str | None = None
    states: tuple[str, ...] = ()
    comment: str | None = None
    outcome: Outcome = field(default_factory=lambda: Outcome(None))
    verdict_map: SetRef | None = None  # a vmap on other keys: its verdicts are the outcomes
    verdict_choices: list[Outcome] = field(default_factory=list)
    unmodeled: list[str] = field(default_factory=list)
    effects: list[str] = field(default_factory=list)  # what it does besides its verdict: counter, log ...
    implied: list[str] = field(default_factory=list)  # conditions nft adds where the family is mixed
    anonymous_chains: list[tuple[str, list[Rule]]] = field(default_factory=list)

    @property
    def transport_protocol(self) -> str | None:
        """The protocol of `th` matches: the one port protocol the rule names, if exactly one."""
        named = self.protocols & PORT_PROTOCOLS
        return next(iter(named)) if len(named) == 1 and len(self.protocols) == 1 else None

    def unmodeled_for(self, protocol: str | None) -> tuple[str, ...]:
        """The conditions a declaration for ``protocol`` does not represent: the protocol
        matches too, unless they name just that protocol."""
        if self.protocols == {protocol}:
            return tuple(self.unmodeled)
        return (*self.protocol_matches, *self.unmodeled)


class RuleReader:
    """Reads rules of one file: ``source(span, path)`` gives the text under a span."""

    def __init__(self, scope: Scope, ports: PortReader, report, source: Callable[[Span, str], str]) -> None:
        self.scope = scope
        self.ports = ports
        self.report = report
        self.source = source

    def read(self, rule: Rule, path: str, chain: str) -> RuleFacts:
        facts = RuleFacts(location(path, rule.span), comment=rule.comment)
        protocols = _ProtocolContext(self, path)
        for statement in rule.statements:
            protocols.statement(statement)
            self._statement(statement, path, chain, facts)
        return facts

    def bind(self, expr, path: str):
        return bind(expr, self.scope, lambda var: self.ports.unknown_variable(var, path))

    # -- statements ----------------------------------------------------------------------------

    def _statement(self, statement, path: str, chain: str, facts: RuleFacts) -> None:
        self._check_meta_keys(statement, path)
        if isinstance(statement, Match):
            self._match(statement, path, facts)
        elif isinstance(statement, Verdict):
            facts.outcome = self._verdict(statement, path)
            facts.verdict_map = None
        elif isinstance(statement, VerdictMap):
            self._verdict_map(statement, path, facts)
        elif isinstance(statement, Nat):
            self._nat(statement, path, facts)
        elif isinstance(statement, Terminal):
            facts.outcome = Outcome(TERMINALS[statement.kind], statement.kind)
            options = self.text(statement, path)[len(statement.kind):].strip()
            facts.outcome.options = (options,) if options else ()
            family = _REJECT_FAMILIES.get(options.split()[1] if options.startswith("with ") else "")
            if family:  # nft adds this dependency in inet, bridge and netdev tables
                facts.implied.append(f"meta nfproto {family}")
            facts.verdict_map = None
        elif isinstance(statement, AnonymousChain):
            name = f"{chain}@{statement.span[2]}"
            facts.anonymous_chains.append((name, statement.rules))
            facts.outcome = Outcome(VERDICTS[statement.kind], name)
            facts.verdict_map = None
        elif isinstance(statement, Unsupported):
            self.report(PARSE_ERROR, statement.message, location(path, statement.span))
        elif isinstance(statement, Node):
            self._other(statement, path, facts)

    def _verdict(self, verdict: Verdict, path: str) -> Outcome:
        if verdict.kind == "continue":  # on to the next rule, as if there were no verdict
            return Outcome(None)
        if verdict.target is None:
            return Outcome(VERDICTS[verdict.kind], verdict.kind)
        return Outcome(VERDICTS[verdict.kind], word(self.bind(verdict.target, path)))

    def _verdict_map(self, statement: VerdictMap, path: str, facts: RuleFacts) -> None:
        table = self.bind(statement.map, path)
        facts.verdict_map = None
        if self._mapped_ports(statement.key, table, path, facts, "vmap", statement.span):
            facts.outcome = Outcome(None)
            return
        facts.outcome = Outcome(Action.OTHER, "vmap")
        facts.unmodeled.append(self.text(statement, path))  # only packets whose key is in the map
        target = unwrap(table)
        if isinstance(target, SetRef):
            facts.verdict_map = target
        elif isinstance(target, SetLiteral):
            facts.verdict_choices = self.verdict_choices([(item.value, path) for item in target.items])

    def verdict_choices(self, values: list[tuple[Any, str]]) -> list[Outcome]:
        """The distinct outcomes of a verdict map's values, each where it is first given (found
        by a dict: a list took 49 s for a map of 20,000 elements jumping to chains of their own)."""
        choices: dict[tuple, Outcome] = {}
        for value, path in values:
            value = unwrap(value)
            if isinstance(value, Verdict):
                outcome = self._verdict(value, path)
                key = (outcome.action, outcome.target, outcome.to_address, outcome.to_ports, outcome.options)
                if key not in choices:
                    outcome.location = location(path, value.span)
                    choices[key] = outcome
        return list(choices.values())

    def _nat(self, nat: Nat, path: str, facts: RuleFacts) -> None:
        address, port = self.bind(nat.address, path), self.bind(nat.port, path)
        facts.verdict_map = None
        facts.outcome = Outcome(TRANSLATIONS[nat.kind], nat.kind, options=(nat.family,) if nat.family else ())
        lookup = unwrap(address)
        if isinstance(lookup, MapLookup):
            self._mapped_ports(lookup.key, lookup.map, path, facts, "map", lookup.span, translation=nat)
            return
        facts.outcome.to_address = self.address_text(address, path)
        if port is not None and not isinstance(unwrap(port), MapLookup):
            ranges = [p.ports for p in self.ports.pieces(port, path)]
            facts.outcome.to_ports = tuple(ranges) or None

    def address_text(self, address, path: str) -> str | None:
        """A translation's address as written, IPv6 addresses without their brackets."""
        value = unwrap(address)
        if value is None:
            return None
        if isinstance(value, Range):
            return f"{self.address_text(value.low, path)}-{self.address_text(value.high, path)}"
        text = word(value) if isinstance(value, Token) else self.text(address, path)
        return text[1:-1] if text.startswith("[") and text.endswith("]") else text

    def _other(self, statement: Node, path: str, facts: RuleFacts) -> None:
        """Statements that neither match ports nor decide: log, counter, meta mark set ...;
        a map looked up with a port key still restricts the rule to the map's keys."""
        bound = self.bind(statement.children, path)
        for lookup in _map_lookups(bound):
            self._mapped_ports(lookup.key, lookup.map, path, facts, "map", lookup.span)
        text = self.text(statement, path)
        (facts.unmodeled if statement.kind in _CONDITIONS else facts.effects).append(text)

    # -- matches -------------------------------------------------------------------------------

    def _match(self, match: Match, path: str, facts: RuleFacts) -> None:
        left, right = unwrap(self.bind(match.left, path)), self.bind(match.right, path)
        op = match.op
        negated = op in _NEGATIONS
        port_field = _port_field(left)
        if port_field and not match.flags:
            self._port_match(port_field, op, right, path, facts, match)
            return
        components = _port_components(left)
        if components and not match.flags:
            facts.unmodeled.append(self.text(match, path))  # the concatenation's other parts narrow it
            for index, (protocol, direction) in components:
                self._concat_match(protocol, direction, index, negated, right, path, facts)
            return
        if self._selection(left, op, right, path, facts, match):
            return
        if isinstance(left, Token):
            symbol = self.bind(match.left, path)
            where = location(symbol.path, span_of(symbol.value)) if isinstance(symbol, Bound) else \
                location(path, span_of(left))
            self.report(PARSE_ERROR, f"nft cannot match on {left.value!r}: it is a value, not a packet field "
                                     "(a misspelt keyword?)", where)
            return
        facts.unmodeled.append(self.text(match, path))

    def _port_match(self, port_field, op, right, path: str, facts: RuleFacts, match: Match) -> None:
        protocol, direction = port_field
        value = unwrap(right)
        where = location(path, span_of(right) or match.span)
        found = PortClause(protocol, direction, op in _NEGATIONS, where)
        if op in ("!", "not"):
            self.report(INVALID_PORT, "'!' negates flags, not ports (nft rejects it): write != to exclude a "
                                      "port", location(path, match.op_span or match.span))
            facts.unmodeled.append(self.text(match, path))
            return
        if isinstance(value, SetRef):
            found.set_ref = value
        elif op in _LESS_GREATER:
            ports = self.ports.port_range(right, path)
            if ports is not None and ports.start != ports.end:
                self.report(INVALID_PORT, f"{op} needs a single port, not the range {ports}", where)
                ports = None
            if ports is None:
                facts.unmodeled.append(self.text(match, path))
                return
            found.pieces = [Piece(_compare(_LESS_GREATER[op], ports.start), where)]
        else:
            if isinstance(value, SetLiteral) and any(isinstance(unwrap(i), Mapping) for i in value.items):
                mapping_outside_map(path, value.span, self.report)
                facts.unmodeled.append(self.text(match, path))
                return
            found.pieces = self.ports.pieces(right, path)
            if not found.pieces:  # nothing nft would accept: reported, and the match skipped
                facts.unmodeled.append(self.text(match, path))
                return
        facts.matches.append(found)

    def _concat_match(self, protocol, direction, index, negated, right, path, facts) -> None:
        value = unwrap(right)
        found = PortClause(protocol, direction, negated, location(path, span_of(right)), component=index)
        if isinstance(value, SetRef):
            found.set_ref = value
        else:
            found.pieces = self.ports.pieces(right, path, component=index)
            if not found.pieces:
                return
        facts.matches.append(found)

    def _mapped_ports(self, key, table, path: str, facts: RuleFacts, kind: str, span: Span,
                      translation: Nat | None = None) -> bool:
        """A vmap or map looked up with a port (or a concatenation holding one): one port match
        whose pieces carry the mapped values. False when the key holds no port."""
        key = unwrap(key)
        table = self.bind(table, path)
        port_field = _port_field(key)
        fields = [(None, port_field)] if port_field else _port_components(key)
        if not fields:
            if kind == "map":  # a lookup on other keys: only packets whose key is in the map
                facts.unmodeled.append(self.span_text(span, path))
            return False
        if not port_field:  # the other parts of the concatenation narrow the rule
            facts.unmodeled.append(self.span_text(span, path))
        for index, (protocol, direction) in fields:
            found = PortClause(protocol, direction, False, location(path, span), mapped=kind,
                              component=index, translation=translation)
            target = unwrap(table)
            if isinstance(target, SetRef):
                found.set_ref = target
            else:
                found.pieces = self.ports.pieces(table, path, component=index)
            facts.matches.append(found)
        return True

    def _selection(self, left, op, right, path: str, facts: RuleFacts, match: Match) -> bool:
        """Matches the model has a field for: protocols, addresses, interfaces, conntrack
        states. False for the others."""
        negated = op in _NEGATIONS
        plain = op in (None, "==", "eq")
        if _is_protocol_match(left):
            if plain:
                facts.protocols.update(_protocol_names(right))
                facts.protocol_matches.append(self.text(match, path))
            return plain
        if isinstance(left, Payload) and left.protocol in ("ip", "ip6") and left.field in ("saddr", "daddr"):
            if not (plain or negated):
                return False
            setattr(facts, left.field, ("!" if negated else "") + self.text(right, path))
            return True
        if isinstance(left, Meta) and left.key in _INTERFACES and (plain or negated):
            name = word(right)  # one name (eth* a prefix); a set of them is left unmodeled
            if name is None:
                return False
            setattr(facts, _INTERFACES[left.key], ("!" if negated else "") + name)
            return True
        if isinstance(left, Conntrack) and left.direction is None and left.key == "state" and plain:
            facts.states = tuple(w for w in (word(item) for item in _items(right)) if w)
            return True
        if isinstance(left, Conntrack) and left.key in ("proto-src", "proto-dst"):
            # The conntrack tuple's ports: read (and checked) like ports, but they are not the
            # packet's own port, so they open nothing by themselves.
            if not isinstance(unwrap(right), SetRef):
                self.ports.pieces(right, path)
            facts.unmodeled.append(self.text(match, path))
            return True
        return False

    # -- helpers -------------------------------------------------------------------------------

    def text(self, expr, path: str) -> str:
        """The expression as written, on one line."""
        if isinstance(expr, Bound):
            return self.text(expr.value, expr.path)
        span = span_of(expr)
        return self.span_text(span, path) if span else ""

    def span_text(self, span: Span, path: str) -> str:
        return " ".join(self.source(span, path).split())

    def _check_meta_keys(self, statement, path: str) -> None:
        for meta in _metas(statement):
            if meta.qualified and meta.key not in META_KEYS:
                self.report(PARSE_ERROR, f"unknown meta key {meta.key!r}; known keys are "
                                         f"{one_of(sorted(META_KEYS))}", location(path, meta.span))


class _ProtocolContext:
    """The transport protocol nft knows a rule's packets have, statement by statement, as far as
    it makes nft reject the rule: a header of one protocol matched after a match that names
    another (``meta l4proto { tcp, udp } tcp dport 53``: "conflicting protocols specified"), and
    a translation to a port, or tproxy, with no protocol matched before it ("transport protocol
    mapping is only valid after transport protocol match"). Whatever portlint cannot tell (a
    named set of protocols, an AH header, a protocol it does not know) ends the checks."""

    def __init__(self, reader: RuleReader, path: str) -> None:
        self.reader = reader
        self.path = path
        self.named: dict[str, str] = {}  # protocol -> the match that named it, as written
        self.known = True  # False once the rule holds something that hides the protocol
        self.matched = False  # any protocol match (nat, tproxy need one)

    def bind(self, expr):
        return bind(expr, self.reader.scope, lambda var: None)  # unknown variables: reported once elsewhere

    def statement(self, statement) -> None:
        if isinstance(statement, Match):
            left = unwrap(self.bind(statement.left))
            if _is_protocol_match(left):
                if statement.op in (None, "==", "eq"):
                    self._protocol_match(left, self.bind(statement.right), statement)
                return
            self._headers(left)
        elif isinstance(statement, VerdictMap):
            self._headers(self.bind(statement.key))
        elif isinstance(statement, Nat):
            self._translation(statement)
        elif isinstance(statement, Node) and any(True for _ in _payloads(self.bind(statement.children), "")):
            self.known = False  # a header read or written by some other statement
            self.matched = True

    def _protocol_match(self, left, right, match: Match) -> None:
        self.matched = True
        value = unwrap(right)
        if not isinstance(value, (SetLiteral, Token)):
            self.known = False  # a named set, a range, ...
            return
        text = self.reader.text(match, self.path)
        for item in _items(value):
            name = word(item)
            protocol = _TRANSPORT_NAMES.get(name.lower()) if name is not None else None
            if protocol is None:
                self.known = False
                return
            self.named.setdefault(protocol, text)

    def _headers(self, expr) -> None:
        for payload, path in _payloads(expr, self.path):
            protocol = payload.protocol
            if protocol not in _TRANSPORT_NAMES.values() and protocol not in _NEXT_HEADERS:
                continue  # th, ip, ether, raw payloads: no dependency on the transport protocol
            self.matched = True
            if payload.field in _NOT_PLAIN:
                continue
            others = [name for name in self.named if name != protocol]
            if self.known and others:
                header, earlier = self.reader.text(payload, path), self.named[others[0]]
                hint = f" (`th {payload.field}` matches the port of either)" \
                    if payload.field in DIRECTIONS and protocol in self.named else ""
                self.reader.report(PARSE_ERROR, f"conflicting protocols: `{header}` reads the {protocol} header, but "
                                                f"`{earlier}` before it names {others[0]}"
                                                f"{' too' if protocol in self.named else ''}; nft rejects the "
                                                f"rule{hint}",
                                   location(path, payload.span))
                self.known = False  # nft stops at the first error of the rule
            if protocol in _NEXT_HEADERS:
                self.known = False
            else:
                self.named.setdefault(protocol, self.reader.text(payload, path))

    def _translation(self, nat: Nat) -> None:
        address, port = unwrap(self.bind(nat.address)), self.bind(nat.port)
        if isinstance(address, MapLookup):
            self._headers(address.key)
        if self.matched:
            return
        if nat.kind == "tproxy":
            self.reader.report(PARSE_ERROR, "tproxy needs a transport protocol match before it "
                                            "(`meta l4proto tcp`, `tcp dport 80`); nft rejects the rule",
                               location(self.path, nat.span))
            return
        where = span_of(port) if port is not None else \
            span_of(address) if nat.port_map or _maps_to_ports(address) else None
        if where is not None:
            self.reader.report(PARSE_ERROR, f"a {nat.kind} to a port needs a transport protocol match before it "
                                            "(`meta l4proto tcp`, `tcp dport 80`; `th dport` is not one); nft "
                                            "rejects the rule", location(self.path, where))


def _payloads(expr, path: str):
    """The header fields an expression reads, in order, each with the file it is written in."""
    expr_path = path
    if isinstance(expr, Bound):
        expr, expr_path = expr.value, expr.path
    if isinstance(expr, Payload):
        yield expr, expr_path
    elif isinstance(expr, list):
        for item in expr:
            yield from _payloads(item, expr_path)
    elif isinstance(expr, Concat):
        yield from _payloads(expr.parts, expr_path)
    elif isinstance(expr, MapLookup):
        yield from _payloads(expr.key, expr_path)
    elif isinstance(expr, Node):
        yield from _payloads(expr.children, expr_path)


def _maps_to_ports(address) -> bool:
    """Whether a translation's map gives addresses with ports (`... map { a : b . 80 }`)."""
    if not isinstance(address, MapLookup):
        return False
    table = unwrap(address.map)
    return isinstance(table, SetLiteral) and any(
        isinstance(item, Mapping) and isinstance(unwrap(item.value), Concat) for item in map(unwrap, table.items))


def _port_field(expr) -> tuple[str | None, str] | None:
    """(protocol, dport|sport) of a port payload such as `tcp dport` (protocol None for th)."""
    if isinstance(expr, Payload) and expr.field in DIRECTIONS:
        if expr.protocol in PORT_PROTOCOLS:
            return expr.protocol, expr.field
        if expr.protocol == TRANSPORT_HEADER:
            return None, expr.field
    return None


def _port_components(expr) -> list[tuple[int, tuple[str | None, str]]]:
    """The port payloads of a concatenation (`ip daddr . tcp dport`), with their positions."""
    expr = unwrap(expr)
    if not isinstance(expr, Concat):
        return []
    return [(i, field) for i, field in ((i, _port_field(unwrap(p))) for i, p in enumerate(expr.parts)) if field]


def _compare(op: str, port: int) -> PortRange:
    """The ports `< port`, `> port`, ... stand for (an empty range when there are none)."""
    if op == "lt":
        return PortRange(0, port - 1) if port > 0 else PortRange(1, 0)
    if op == "le":
        return PortRange(0, port)
    if op == "gt":
        return PortRange(port + 1, MAX_PORT) if port < MAX_PORT else PortRange(1, 0)
    return PortRange(port, MAX_PORT)


def _is_protocol_match(expr) -> bool:
    return (isinstance(expr, Meta) and expr.key == "l4proto") or (
        isinstance(expr, Payload) and (expr.protocol, expr.field) in (("ip", "protocol"), ("ip6", "nexthdr")))


def _items(expr) -> list:
    expr = unwrap(expr)
    if isinstance(expr, (SetLiteral, ListExpr)):
        return [item for part in expr.items for item in _items(getattr(part, "key", part))]
    return [expr]


def _protocol_names(expr) -> set[str]:
    names = set()
    for item in _items(expr):
        name = word(item)
        if name is not None:
            names.add(PROTOCOL_NUMBERS.get(name, name))
    return names


def _map_lookups(expr):
    """Every map lookup inside ``expr`` (a statement's parts)."""
    stack = [expr]
    while stack:
        item = unwrap(stack.pop())
        if isinstance(item, MapLookup):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, (Node, Concat)):
            stack.extend(item.children if isinstance(item, Node) else item.parts)


def _metas(statement):
    """The `meta KEY` expressions of a statement, wherever they are."""
    stack = [statement]
    while stack:
        item = stack.pop()
        if isinstance(item, Meta):
            yield item
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, Node):
            stack.extend(item.children)
        elif isinstance(item, Match):
            stack.extend((item.left, item.right))
        elif isinstance(item, (Concat, MapLookup, VerdictMap)):
            stack.extend(item.parts if isinstance(item, Concat) else (item.key, item.map))
