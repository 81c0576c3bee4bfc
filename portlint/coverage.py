"""When one firewall rule matches every packet another matches.

A rule's match conditions are read into :class:`Matches`, a canonical form: port sets merged
with negations applied, addresses as networks, states as sets. Two rules written differently but
matching the same packets compare equal, and :func:`covers` tells whether every packet an inner
rule matches is also matched by an outer one. The answer is "no" whenever portlint cannot prove
"yes": an address it cannot parse, a match condition the model does not represent (the rule's
``unmodeled`` conditions), or one whose result depends on the rule's own state (rate limits,
quotas, random sampling) all make an outer rule narrower, never broader.

:class:`CoverIndex` files rules so that a rule meets only the filed rules that may cover it,
never all of them.
"""
from __future__ import annotations

import heapq
import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, product
from operator import attrgetter
from typing import Any, Callable, Hashable, NamedTuple

from .model import MAX_PORT, MIN_PORT, FirewallRule, PortMatch, PortRange, complement, normalise

#: Matches whose result depends on the rule's own state, not only on the packet: the same
#: condition in a later rule can match what it did not match in an earlier one.
STATEFUL_MATCHES = frozenset({"limit", "hashlimit", "statistic", "recent", "quota", "nth", "random",
                              "numgen", "meter"})
#: Interface names ending in one of these match every name with that prefix.
INTERFACE_WILDCARDS = "+*"

Ports = tuple[PortRange, ...]
#: A negatable field: (negated, value); None when the rule has no such match.
Negatable = tuple[bool, Any] | None


class Network(NamedTuple):
    """An IP network as integers: cheap to hash and compare, unlike :mod:`ipaddress` objects."""

    version: int
    address: int  # the first address
    length: int  # the prefix length

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    def prefix(self, length: int) -> int:
        return self.address >> (self.bits - length)

    def supernet(self, length: int) -> Network:
        shift = self.bits - length
        return Network(self.version, self.address >> shift << shift, length)

    def subnet_of(self, other: Network) -> bool:
        return (self.version == other.version and self.length >= other.length
                and self.prefix(other.length) == other.prefix(other.length))

    def overlaps(self, other: Network) -> bool:
        shortest = min(self.length, other.length)
        return self.version == other.version and self.prefix(shortest) == other.prefix(shortest)


def _ipv4(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        return None
    a, b, c, d = map(int, parts)
    return a << 24 | b << 16 | c << 8 | d


def network(text: str) -> Network | None:
    """``"10.1.2.3/8"`` -> ``Network(4, 0x0a000000, 8)``; None for anything but a plain address
    or network (a range, a set, a name). Host bits are cleared, as iptables does."""
    address, slash, length = text.partition("/")
    ip = _ipv4(address)
    if ip is not None and (not slash or (length.isdigit() and int(length) <= 32)):
        return Network(4, ip, 32).supernet(int(length) if slash else 32)
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return Network(net.version, int(net.network_address), net.prefixlen)


@lru_cache(maxsize=65536)
def address_key(text: str | None) -> Negatable:
    """``"!10.0.0.1"`` -> ``(True, Network(4, 0x0a000001, 32))``; text that is not a plain
    address or network is kept as text."""
    if text is None:
        return None
    negated = text.startswith("!")
    body = text[1:].strip() if negated else text
    return negated, network(body) or body


@lru_cache(maxsize=4096)
def interface_key(text: str | None) -> Negatable:
    """``"eth+"`` -> ``(False, ("eth", True))``: the name or prefix, and whether it is a prefix."""
    if text is None:
        return None
    negated = text.startswith("!")
    name = text[1:].strip() if negated else text
    wildcard = name.endswith(tuple(INTERFACE_WILDCARDS))
    return negated, (name[:-1] if wildcard else name, wildcard)


_EMPTY: frozenset[str] = frozenset()


@lru_cache(maxsize=256)
def _protocol_key(negated: bool, protocol: str) -> Negatable:
    return negated, protocol


@lru_cache(maxsize=4096)
def _conditions(unmodeled: tuple[str, ...]) -> frozenset[str]:
    """One frozenset per distinct list of conditions: a set costs 216 bytes, and thousands of
    rules share theirs (kube-proxy's ``-m statistic`` probabilities)."""
    return frozenset(unmodeled)


def _port_set(match: PortMatch | None) -> Ports | None:
    if match is None:
        return None
    if match.negated:
        return complement(match.ranges)
    if len(match.ranges) == 1 and not match.ranges[0].is_empty:
        return match.ranges  # already normalised
    return normalise(match.ranges)


class Matches(NamedTuple):
    """The packets a rule matches, in canonical form; None fields match every packet."""

    protocol: Negatable
    saddr: Negatable
    daddr: Negatable
    iif: Negatable
    oif: Negatable
    states: frozenset[str]
    conditions: frozenset[str] | None  # the unmodeled conditions; None when unknown
    dport: Ports | None
    sport: Ports | None
    either: Ports | None  # source or destination port

    @classmethod
    def of(cls, rule: FirewallRule) -> Matches:
        unmodeled = rule.unmodeled
        return cls(
            _protocol_key(rule.protocol_negated, rule.protocol) if rule.protocol else None,
            address_key(rule.saddr) if rule.saddr else None,
            address_key(rule.daddr) if rule.daddr else None,
            interface_key(rule.iif),
            interface_key(rule.oif),
            frozenset(s.upper() for s in rule.states) if rule.states else _EMPTY,
            None if unmodeled is None else _conditions(unmodeled) if unmodeled else _EMPTY,
            _port_set(rule.dport),
            _port_set(rule.sport),
            _port_set(rule.either),
        )

    @property
    def matches_nothing(self) -> bool:
        """A port match with no port in it (a reversed range): the rule never applies."""
        return () in (self.dport, self.sport, self.either)


def covers_nothing(rule: FirewallRule) -> bool:
    """Conditions portlint cannot tell, or one that keeps state of its own: a rule with them
    covers no other rule (see :func:`conditions_contain`)."""
    return rule.unmodeled is None or bool(rule.unmodeled) and _stateful(_conditions(rule.unmodeled))


def matches_everything(rule: FirewallRule) -> bool:
    """Whether ``rule`` has no match condition at all: it applies to every packet."""
    return (rule.protocol is None and rule.dport is None and rule.sport is None and rule.either is None
            and rule.saddr is None and rule.daddr is None and rule.iif is None and rule.oif is None
            and not rule.states and rule.unmodeled == ())


# -- containment, field by field ---------------------------------------------------------

def _subnet(inner: Network | str, outer: Network | str) -> bool:
    if isinstance(inner, str) or isinstance(outer, str):
        return inner == outer
    return inner.subnet_of(outer)


def _overlap(a: Network | str, b: Network | str) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a.version != b.version:
        return True  # cannot tell (in an inet table, an IPv4 match excludes IPv6 packets)
    return a.overlaps(b)


def _names_subset(inner: tuple[str, bool], outer: tuple[str, bool]) -> bool:
    (inner_name, _), (outer_name, outer_wild) = inner, outer
    return inner_name.startswith(outer_name) if outer_wild else inner == outer


def _names_overlap(a: tuple[str, bool], b: tuple[str, bool]) -> bool:
    (a_name, a_wild), (b_name, b_wild) = a, b
    return (a_wild and b_name.startswith(a_name)) or (b_wild and a_name.startswith(b_name)) or a == b


def _equal(a, b) -> bool:
    return a == b


def _negatable_contains(subset: Callable, overlap: Callable) -> Callable[[Negatable, Negatable], bool]:
    """Containment of fields that match a set of values, or (negated) every value outside it."""

    def contains(outer: Negatable, inner: Negatable) -> bool:
        if outer is None:
            return True
        if inner is None:
            return False
        (outer_negated, outer_value), (inner_negated, inner_value) = outer, inner
        if not outer_negated:
            return not inner_negated and subset(inner_value, outer_value)
        if inner_negated:
            return subset(outer_value, inner_value)
        return not overlap(inner_value, outer_value)

    return contains


protocol_contains = _negatable_contains(_equal, _equal)
address_contains = _negatable_contains(_subnet, _overlap)
interface_contains = _negatable_contains(_names_subset, _names_overlap)


def states_contain(outer: frozenset[str], inner: frozenset[str]) -> bool:
    return not outer or (bool(inner) and inner <= outer)


def conditions_contain(outer: frozenset[str] | None, inner: frozenset[str] | None) -> bool:
    """An outer rule with conditions portlint does not model covers only a rule that has the
    same ones (and maybe more), and only when none of them keeps state of its own."""
    if outer is None or inner is None:
        return outer == frozenset()
    return outer <= inner and not _stateful(outer)


@lru_cache(maxsize=4096)
def _stateful(conditions: frozenset[str]) -> bool:
    return any(STATEFUL_MATCHES.intersection(c.split()) for c in conditions)


def ports_subset(inner: Ports, outer: Ports) -> bool:
    """Whether every port of ``inner`` is in ``outer`` (both normalised)."""
    i = 0
    for r in inner:
        while i < len(outer) and outer[i].end < r.start:
            i += 1
        if i == len(outer) or not (outer[i].start <= r.start and r.end <= outer[i].end):
            return False
    return True


def ports_contain(outer: Ports | None, inner: Ports | None) -> bool:
    return outer is None or (inner is not None and ports_subset(inner, outer))


def _ports_cover(outer: Matches, inner: Matches) -> bool:
    if not (ports_contain(outer.dport, inner.dport) and ports_contain(outer.sport, inner.sport)):
        return False
    if outer.either is None:
        return True
    return any(ports is not None and ports_subset(ports, outer.either)
               for ports in (inner.either, inner.dport, inner.sport))


#: The fields :class:`CoverIndex` files rules by: their containment test, and the value of a
#: rule with no match on the field.
FIELDS: tuple[tuple[str, Callable[[Any, Any], bool], Any], ...] = (
    ("protocol", protocol_contains, None),
    ("saddr", address_contains, None),
    ("daddr", address_contains, None),
    ("iif", interface_contains, None),
    ("oif", interface_contains, None),
    ("states", states_contain, _EMPTY),
    ("conditions", conditions_contain, _EMPTY),
)


def covers(outer: Matches, inner: Matches) -> bool:
    """Whether every packet ``inner`` matches is matched by ``outer``, as far as portlint can prove."""
    return all(contains(getattr(outer, name), getattr(inner, name)) for name, contains, _ in FIELDS) \
        and _ports_cover(outer, inner)


# -- the index ----------------------------------------------------------------------------

class _Field:
    """The values one field takes among the filed rules; which of them contain a given value."""

    def __init__(self, name: str, contains: Callable[[Any, Any], bool], unmatched: Any) -> None:
        self.name = name
        self.contains = contains
        self.unmatched = unmatched
        self.present: set = set()
        self.open = True  # no filed rule matches on this field, so it rules out none of them

    def add(self, value) -> None:
        self.present.add(value)
        self.open = self.open and value == self.unmatched

    def covering(self, value) -> list:
        """The filed values that contain ``value``; scans them (fields with few distinct values)."""
        return [v for v in self.present if self.contains(v, value)]


class _NegatableField(_Field):
    """Addresses and interfaces: many distinct values, so the positive ones that may contain a
    value are enumerated (:meth:`enclosing`) rather than scanned; negated ones are few."""

    def __init__(self, name: str, contains, unmatched: Any) -> None:
        super().__init__(name, contains, unmatched)
        self.negated: set = set()

    def add(self, value: Negatable) -> None:
        super().add(value)
        if value is not None and value[0]:
            self.negated.add(value)

    def enclosing(self, value) -> list:
        """Positive field values that may contain the positive ``value``."""
        raise NotImplementedError

    def covering(self, value: Negatable) -> list:
        if value is None:
            return [None] if None in self.present else []
        found = [v for v in (None, value) if v in self.present]
        if not value[0]:
            found += [v for v in self.enclosing(value[1]) if v != value and v in self.present]
        found += [v for v in self.negated if v != value and self.contains(v, value)]
        return found


class _AddressField(_NegatableField):
    """A network is contained by its supernets: one per prefix length the filed networks use."""

    def __init__(self, name: str, contains, unmatched: Any) -> None:
        super().__init__(name, contains, unmatched)
        self.prefixes: set[tuple[int, int]] = set()  # (IP version, prefix length)

    def add(self, value: Negatable) -> None:
        super().add(value)
        if value is not None and not value[0] and not isinstance(value[1], str):
            self.prefixes.add((value[1].version, value[1].length))

    def enclosing(self, value) -> list:
        if isinstance(value, str):
            return []
        return [(False, value.supernet(length)) for version, length in self.prefixes
                if version == value.version and length < value.length]


class _InterfaceField(_NegatableField):
    """A name is contained by the wildcards its prefixes make."""

    def enclosing(self, value: tuple[str, bool]) -> list:
        name = value[0]
        return [(False, (name[:n], True)) for n in range(len(name) + 1)]


class _ConditionsField(_Field):
    """Unmodeled conditions: a filed set covers a rule whose conditions include it, so the
    subsets of a rule's (few) conditions are looked up rather than every filed set scanned."""

    def covering(self, value: frozenset[str] | None) -> list:
        if value is None or len(value) > 8:
            return super().covering(value)
        subsets = (frozenset(c) for n in range(len(value) + 1) for c in combinations(value, n))
        return [s for s in subsets if s in self.present and self.contains(s, value)]


@dataclass(slots=True)
class _Entry:
    """An indexed item with its matches and its place among the items."""

    order: int
    matches: Matches
    item: Any


class _PortTree:
    """Entries by destination ports: those with none, single ports by port, and a segment tree
    over 0-65535 that keeps each range at the O(log) nodes tiling it, so that a stab lists the
    entries holding a port."""

    __slots__ = ("anywhere", "points", "nodes")

    def __init__(self) -> None:
        self.anywhere: list[_Entry] = []
        self.points: dict[int, list[_Entry]] = {}
        self.nodes: dict[int, list[_Entry]] = {}

    def add(self, entry: _Entry) -> None:
        if entry.matches.dport is None:
            self.anywhere.append(entry)
            return
        for r in entry.matches.dport:
            if r.start == r.end:
                self.points.setdefault(r.start, []).append(entry)
            else:
                self._insert(1, MIN_PORT, MAX_PORT, r.start, r.end, entry)

    def _insert(self, node: int, lo: int, hi: int, start: int, end: int, entry: _Entry) -> None:
        if start <= lo and hi <= end:
            self.nodes.setdefault(node, []).append(entry)
            return
        mid = (lo + hi) // 2
        if start <= mid:
            self._insert(2 * node, lo, mid, start, end, entry)
        if end > mid:
            self._insert(2 * node + 1, mid + 1, hi, start, end, entry)

    def candidates(self, dport: Ports | None) -> list[list[_Entry]]:
        """The lists of entries with no destination port match and of those holding the lowest
        port of ``dport``, each in the order filed."""
        if not dport:
            return [self.anywhere]
        port = dport[0].start
        found = [self.anywhere, self.points.get(port, [])]
        node, lo, hi = 1, MIN_PORT, MAX_PORT
        while self.nodes:
            found.append(self.nodes.get(node, []))
            if lo == hi:
                break
            mid = (lo + hi) // 2
            node, lo, hi = (2 * node, lo, mid) if port <= mid else (2 * node + 1, mid + 1, hi)
        return found


_FIELD_TYPES = {"saddr": _AddressField, "daddr": _AddressField, "iif": _InterfaceField,
                "oif": _InterfaceField, "conditions": _ConditionsField}


class CoverIndex:
    """Rules' matches filed so that :meth:`first_cover` compares a rule only with the filed ones
    that may cover it: a bucket per combination of field values, looked up through the values
    that contain the rule's own, then the destination-port tree of each bucket."""

    def __init__(self) -> None:
        self._fields = [_FIELD_TYPES.get(field[0], _Field)(*field) for field in FIELDS]
        self._buckets: dict[tuple[Hashable, ...], _PortTree] = {}
        self._count = 0

    def add(self, matches: Matches, item: Any) -> None:
        key = tuple(getattr(matches, f.name) for f in self._fields)
        for f, value in zip(self._fields, key):
            f.add(value)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _PortTree()
        bucket.add(_Entry(self._count, matches, item))
        self._count += 1

    def first_cover(self, matches: Matches) -> Any | None:
        """The earliest filed item whose matches cover ``matches``, or None."""
        choices = []
        for f in self._fields:
            values = [f.unmatched] if f.open else f.covering(getattr(matches, f.name))
            if not values:
                return None
            choices.append(values)
        # Merged lazily, earliest first: the first cover usually comes first, where sorting every
        # candidate made a chain of 20,000 terminal rules in one bucket take 10 s.
        lists = [entries for key in product(*choices) if key in self._buckets
                 for entries in self._buckets[key].candidates(matches.dport) if entries]
        candidates = lists[0] if len(lists) == 1 else heapq.merge(*lists, key=attrgetter("order"))
        return next((e.item for e in candidates if _ports_cover(e.matches, matches)), None)
