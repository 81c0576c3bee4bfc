"""What a firewall does with new connections to some ports, read from its rules in order.

A *probe* is a set of packets in the canonical form of :mod:`portlint.coverage`: new
connections of one protocol to some destination ports, from any source, on any interface but
loopback. A chain is walked in order, as netfilter walks it:

- a rule that matches every packet of the probe (``covers``) and decides (accept, drop,
  reject) gives the verdict; a jump into a chain that decides gives that chain's verdict; a
  return, or the end of a user chain, hands the probe back to the caller;
- a rule that may match only some of its packets (a source address, an interface, a condition
  portlint does not model) decides only those: it is a :class:`Partial` of the verdict, so that
  a rule can tell "dropped" from "dropped except from 10.0.0.0/8";
- a base chain's policy decides what no rule did; a policy the file does not state (an iptables
  chain used but not declared) leaves the verdict open.

Conservative like :mod:`portlint.coverage`: a rule decides the whole probe only when portlint
can prove it matches every packet of it.
"""
from __future__ import annotations

from typing import Union

from .coverage import Matches, covers, interface_contains, interface_key
from .exposure import ChainGraph, ChainKey, chain_key
from .model import Action, ChainPolicy, FirewallRule, PortRange, normalise, record

#: The verdicts that end a packet's way: they decide the probe.
DECISIONS = frozenset({Action.ACCEPT, Action.DROP, Action.REJECT})
_LOOPBACK = interface_key("!lo")
#: A chain's address family and the IP versions whose packets it sees.
FAMILY_VERSIONS = {"ip": frozenset({"ip"}), "ip6": frozenset({"ip6"}), "inet": frozenset({"ip", "ip6"})}


def probe(protocol: str, ports: tuple[PortRange, ...]) -> Matches:
    """New connections of ``protocol`` to ``ports``, from any source, on any interface but loopback."""
    return Matches(protocol=(False, protocol), saddr=None, daddr=None, iif=_LOOPBACK, oif=None,
                   states=frozenset({"NEW"}), conditions=frozenset(), dport=normalise(ports), sport=None,
                   either=None)


def sees(family: str, versions: frozenset[str]) -> bool:
    """Whether a chain of ``family`` sees packets of one of the IP ``versions`` ("ip", "ip6")."""
    return not versions.isdisjoint(FAMILY_VERSIONS.get(family, ()))


@record
class Partial:
    """A rule that decides only some packets of a probe, before the verdict on the rest."""

    rule: FirewallRule
    action: str  # accept, drop, reject, or return (handed back to the caller)
    by_source: bool  # only source addresses set those packets apart: an allowlist of sources
    names_ports: bool  # a match on destination ports leads to it (the rule is about these ports)


@record
class Verdict:
    """The fate of a probe: ``action`` for every packet no :class:`Partial` decided first."""

    action: str | None  # accept, drop, reject; None: handed back, or a policy the file does not state
    decided_by: Union[FirewallRule, ChainPolicy, None]
    partials: tuple[Partial, ...] = ()

    @property
    def closes(self) -> bool:
        return self.action in Action.CLOSING

    @property
    def may_close(self) -> bool:
        """Whether some packets are dropped or rejected: by the verdict, or by a partial rule."""
        return self.closes or any(p.action in Action.CLOSING for p in self.partials)

    @property
    def closes_all(self) -> bool:
        """Whether every packet is dropped or rejected: no partial rule lets any through."""
        return self.closes and all(p.action in Action.CLOSING for p in self.partials)


_HANDED_BACK = Verdict(None, None)


class ChainWalker:
    """Walks the chains of one document for probes; each chain is read once, its rules filed
    by destination port so that a probe meets only the rules that may match it."""

    def __init__(self, chains: ChainGraph) -> None:
        self._graph = chains
        self._chains: dict[ChainKey, _ReadChain] = {}

    def base(self, policy: ChainPolicy, packets: Matches) -> Verdict:
        """The verdict of a base chain: its rules, then its policy."""
        verdict = self.chain(chain_key(policy), packets)
        if verdict.action is None and policy.policy in DECISIONS:
            return Verdict(policy.policy, policy, verdict.partials)
        return verdict

    def chain(self, key: ChainKey, packets: Matches) -> Verdict:
        """The verdict of a chain's rules; undecided (``action`` None) when it hands the probe back."""
        return self._walk(key, packets, (), frozenset())

    def _read(self, key: ChainKey) -> _ReadChain:
        if key not in self._chains:
            self._chains[key] = _ReadChain(self._graph.rules.get(key, ()))
        return self._chains[key]

    def _walk(self, key: ChainKey, packets: Matches, via: tuple[Matches, ...],
              walking: frozenset[ChainKey]) -> Verdict:
        """``via``: the matches of the jumps that led here (they narrow every rule of this
        chain); ``walking``: the chains on the way (a loop hands the probe back)."""
        if key in walking:
            return _HANDED_BACK
        walking = walking | {key}
        partials: list[Partial] = []
        for rule, matches in self._read(key).candidates(packets.dport):
            if not may_match(matches, packets):
                continue
            everything = covers(matches, packets)
            target = ChainGraph.target(rule)
            if target is not None:
                inner = self._walk(target, packets, via + (matches,), walking)
                partials.extend(inner.partials)
                if everything and inner.action is not None:
                    return Verdict(inner.action, inner.decided_by, tuple(partials))
                if not everything and isinstance(inner.decided_by, FirewallRule):
                    partials.append(_partial(inner.decided_by, inner.action, packets, via + (matches,)))
                elif everything and rule.action == Action.GOTO:
                    return Verdict(None, None, tuple(partials))
            elif rule.action in DECISIONS or rule.action == Action.RETURN:
                if not everything:
                    partials.append(_partial(rule, rule.action, packets, via))
                elif rule.action == Action.RETURN:
                    return Verdict(None, None, tuple(partials))
                else:
                    return Verdict(rule.action, rule, tuple(partials))
        return Verdict(None, None, tuple(partials))


def _partial(rule: FirewallRule, action: str, packets: Matches, via: tuple[Matches, ...]) -> Partial:
    path = (*via, Matches.of(rule))
    by_source = all(covers(m._replace(saddr=None), packets) for m in path)
    names_ports = any(m.dport is not None or m.either is not None for m in path)
    return Partial(rule, action, by_source, names_ports)


def may_match(matches: Matches, packets: Matches) -> bool:
    """Whether a rule with ``matches`` may match some packet of the probe ``packets``:
    nothing rules it out (protocol, destination ports, state, loopback interface)."""
    if matches.matches_nothing:
        return False
    if matches.protocol is not None and packets.protocol is not None:
        negated, protocol = matches.protocol
        if (protocol == packets.protocol[1]) == negated:
            return False
    if matches.dport is not None and packets.dport is not None and not _overlap(matches.dport, packets.dport):
        return False
    if matches.states and packets.states and matches.states.isdisjoint(packets.states):
        return False
    iif, excluded = matches.iif, packets.iif
    if iif is not None and not iif[0] and excluded is not None and excluded[0]:
        # the rule's interfaces are among those the probe excludes
        return not interface_contains((False, excluded[1]), iif)
    return True


def _overlap(a: tuple[PortRange, ...], b: tuple[PortRange, ...]) -> bool:
    """Whether two normalised port sets share a port."""
    i = j = 0
    while i < len(a) and j < len(b):
        if a[i].end < b[j].start:
            i += 1
        elif b[j].end < a[i].start:
            j += 1
        else:
            return True
    return False


class _ReadChain:
    """A chain's rules with their matches, filed by destination port: rules with no port match
    (or a negated one, or source-or-destination ports), single ports, and ranges."""

    __slots__ = ("rules", "anywhere", "points", "ranges")

    def __init__(self, rules) -> None:
        self.rules = [(rule, _canonical(Matches.of(rule))) for rule in rules]
        self.anywhere: list[int] = []
        self.points: dict[int, list[int]] = {}
        self.ranges: list[tuple[int, int, int]] = []
        for index, (_, matches) in enumerate(self.rules):
            if matches.dport is None:
                self.anywhere.append(index)
                continue
            for r in matches.dport:
                if r.start == r.end:
                    self.points.setdefault(r.start, []).append(index)
                else:
                    self.ranges.append((r.start, r.end, index))

    def candidates(self, ports: tuple[PortRange, ...] | None):
        """The rules that may match a destination port of ``ports``, in chain order."""
        if ports is None:
            return self.rules
        found = set(self.anywhere)
        if sum(r.width for r in ports) <= len(self.points):
            for r in ports:
                for port in range(r.start, r.end + 1):
                    found.update(self.points.get(port, ()))
        else:
            found.update(i for port, indices in self.points.items() if any(port in r for r in ports) for i in indices)
        found.update(i for start, end, i in self.ranges if any(start <= r.end and r.start <= end for r in ports))
        return [self.rules[i] for i in sorted(found)]


def _canonical(matches: Matches) -> Matches:
    """A source or destination of every address (``0.0.0.0/0``) is no condition at all."""
    def every(address) -> bool:
        return address is not None and not address[0] and getattr(address[1], "length", None) == 0
    if every(matches.saddr) or every(matches.daddr):
        matches = matches._replace(saddr=None if every(matches.saddr) else matches.saddr,
                                   daddr=None if every(matches.daddr) else matches.daddr)
    return matches
