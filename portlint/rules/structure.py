"""PL403-PL405: the structure of a ruleset: duplicate rules, shadowed rules, permissive policies.

A chain's rules are read in document order, the order in which netfilter evaluates them.
"""
from __future__ import annotations

from collections import defaultdict
from types import MappingProxyType
from typing import Iterator, Mapping

from ..coverage import CoverIndex, Matches, covers_nothing, matches_everything
from ..exposure import FILTER_HOOKS, ChainDict, ChainGraph, ChainKey, Exposure, chain_key
from ..findings import Finding, Severity
from ..hookspecs import hookimpl
from ..model import Action, ChainPolicy, Document, FirewallRule, Location, PortMatch, format_ranges, normalise
from . import Rule, RuleContext

#: Verdicts that end a packet's way through the chain. The NAT targets end it too ("rules should
#: cease being examined", iptables-extensions(8)); TPROXY and every other target do not.
TERMINAL_ACTIONS = frozenset({Action.ACCEPT, Action.DROP, Action.REJECT, Action.DNAT, Action.REDIRECT,
                              Action.SNAT, Action.MASQUERADE})
_FALLS_THROUGH: tuple[str | None, bool] = (None, True)


class ChainEnds:
    """How each chain ends for the packets its conditional rules let through.

    A chain's *catch-all* is the verdict of its first rule that matches every packet and decides
    it: a terminal verdict, or a jump or goto to a chain that never returns. A chain *never
    returns* when it has a catch-all and no rule before it can hand a packet back to the calling
    chain (a return, or a goto to a chain that may return). A chain in a loop of jumps is taken
    to return.
    """

    def __init__(self, chains: ChainGraph) -> None:
        self._chains = chains
        self._ends = ChainDict()  # chain -> (catch-all, may return)

    def catch_all(self, chain: ChainKey) -> str | None:
        return self._end(chain)[0]

    def never_returns(self, chain: ChainKey) -> bool:
        verdict, may_return = self._end(chain)
        return verdict is not None and not may_return

    def _end(self, chain: ChainKey) -> tuple[str | None, bool]:
        if chain not in self._ends:
            self._resolve(chain)
        return self._ends[chain]

    def _resolve(self, start: ChainKey) -> None:
        """Depth first through the chains ``start`` depends on, each resolved after them."""
        path = {start}
        stack = [(start, self._dependencies(start))]
        while stack:
            chain, dependencies = stack[-1]
            following = next((d for d in dependencies if d not in self._ends and d not in path), None)
            if following is not None:
                path.add(following)
                stack.append((following, self._dependencies(following)))
                continue
            stack.pop()
            path.discard(chain)
            self._ends[chain] = self._evaluate(chain)

    def _dependencies(self, chain: ChainKey) -> Iterator[ChainKey]:
        for rule in self._chains.rules.get(chain, ()):
            target = ChainGraph.target(rule)
            if target is not None and (rule.action == Action.GOTO or matches_everything(rule)):
                yield target

    def _evaluate(self, chain: ChainKey) -> tuple[str | None, bool]:
        may_return = False
        for rule in self._chains.rules.get(chain, ()):
            target = ChainGraph.target(rule)
            target_end = self._ends.get(target, _FALLS_THROUGH) if target else _FALLS_THROUGH
            target_never_returns = target_end[0] is not None and not target_end[1]
            everything = matches_everything(rule)
            if rule.action == Action.RETURN or (rule.action == Action.GOTO and not target_never_returns):
                if everything:
                    return _FALLS_THROUGH
                may_return = True
            elif everything and rule.action in TERMINAL_ACTIONS:
                return rule.action, may_return
            elif everything and target is not None and target_never_returns:
                return target_end[0], may_return
        return _FALLS_THROUGH


def rule_line(rule: FirewallRule) -> int:
    return rule.rule_line or rule.location.line


def rule_start(rule: FirewallRule) -> Location:
    """Where a message that names ``rule`` by its line points: the start of its statement."""
    return Location(rule.location.path, rule_line(rule))


def same_statement(a: FirewallRule, b: FirewallRule) -> bool:
    """Two rules of one statement (elements of one nftables set) are never compared."""
    return a.rule_line is not None and a.rule_line == b.rule_line


def identity(rule: FirewallRule, matches: Matches, document: Document) -> tuple:
    """What two rules of a chain must share to be duplicates: the packets they match, their
    unmodeled conditions as written (in order: conditions with side effects depend on it), and
    the verdict. A rule whose parser could not tell its unmodeled conditions is identified by
    its statement's text instead: only the same text proves the same conditions."""
    loc = rule.location
    written = rule.unmodeled if rule.unmodeled is not None else tuple(
        " ".join(document.line_text(line).split()) for line in range(loc.line, (loc.end_line or loc.line) + 1))
    verdict = (rule.action, rule.target, rule.target_options, rule.to_address, rule.to_ports)
    return matches, rule.unmodeled is None, written, verdict


_NONE: Mapping[int, FirewallRule] = MappingProxyType({})  # most chains have no duplicate


def verdict(rule: FirewallRule) -> tuple:
    return rule.action, rule.target, rule.target_options, rule.to_address, rule.to_ports


def duplicates(ctx: RuleContext) -> dict[ChainKey, Mapping[int, FirewallRule]]:
    """The earlier rule each duplicate repeats, by position, for each chain that has one; read
    once per document for PL403 and PL404. Only rules whose verdict another rule of the chain
    repeats can be duplicates, so only theirs are compared: a kube-proxy chain's rules jump to
    a chain each."""
    found = {}
    for key, rules in ctx.chains.rules.items():
        by_verdict: dict[tuple, list[int]] = {}
        for position, rule in enumerate(rules):
            by_verdict.setdefault(verdict(rule), []).append(position)
        repeats = {}
        for positions in by_verdict.values():
            first: dict[tuple, FirewallRule] = {}
            for position in positions if len(positions) > 1 else ():
                rule = rules[position]
                earlier = first.setdefault(identity(rule, Matches.of(rule), ctx.document), rule)
                if earlier is not rule and not same_statement(earlier, rule):
                    repeats[position] = earlier
        if repeats:
            found[key] = dict(sorted(repeats.items()))
    return found


# -- messages -----------------------------------------------------------------------------

def _ports(match: PortMatch) -> str:
    ranges = format_ranges(normalise(match.ranges))
    return f"every port but {ranges}" if match.negated else ranges


def _negatable(text: str, but: str) -> str:
    return f"{but} {text[1:]}" if text.startswith("!") else text


def describe(rule: FirewallRule) -> str:
    """The packets a rule matches, in a few words: "22/tcp from any source"."""
    protocol = f"non-{rule.protocol}" if rule.protocol_negated else rule.protocol or "any"
    if rule.dport:
        parts = [f"{_ports(rule.dport)}/{protocol}"]
    elif rule.either:
        parts = [f"{_ports(rule.either)}/{protocol} (source or destination)"]
    elif rule.protocol:
        parts = [f"all {protocol}" + (" traffic" if rule.protocol_negated else "")]
    else:
        parts = ["all traffic"]
    parts.append("from " + (_negatable(rule.saddr, "anywhere but") if rule.saddr else "any source"))
    if rule.sport:
        parts.append(f"(source port {_ports(rule.sport)})")
    if rule.daddr:
        parts.append("to " + _negatable(rule.daddr, "anywhere but"))
    if rule.iif:
        parts.append("in on " + _negatable(rule.iif, "any interface but"))
    if rule.oif:
        parts.append("out on " + _negatable(rule.oif, "any interface but"))
    if rule.states:
        parts.append("in state " + ",".join(rule.states))
    if rule.unmodeled:
        parts.append("with " + " ".join(rule.unmodeled))
    return " ".join(parts)


_DONE = {Action.ACCEPT: "accepted", Action.DROP: "dropped", Action.REJECT: "rejected",
         Action.RETURN: "returned", Action.DNAT: "translated (DNAT)", Action.REDIRECT: "redirected",
         Action.SNAT: "translated (SNAT)", Action.MASQUERADE: "masqueraded",
         Action.TPROXY: "diverted (TPROXY)"}


def done(rule: FirewallRule) -> str:
    """What the rule does to the packets it matches, as a past participle."""
    if rule.action in (Action.JUMP, Action.GOTO):
        return f"sent to {rule.target}" + (" (goto)" if rule.action == Action.GOTO else "")
    if rule.action == Action.OTHER:
        return f"passed to {rule.target}"
    return _DONE.get(rule.action, "counted")


# -- the rules ----------------------------------------------------------------------------

class DuplicateRule(Rule):
    """A firewall rule repeats an earlier rule of the same chain: the same matches (protocol,
    ports, addresses, interfaces, states and every condition portlint does not model, as
    written) and the same verdict (target and its options, translation address and ports). The
    later copy never changes what happens to a packet, unless it counts or rate-limits on its
    own; it is usually a rule added twice by a script run twice, or a merge."""

    code = "PL403"
    name = "duplicate-rule"
    severity = Severity.WARNING
    summary = "a firewall rule repeats an earlier rule of the same chain"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        rules = ctx.chains.rules
        for key, repeats in ctx.shared(duplicates).items():
            for position, earlier in repeats.items():
                rule = rules[key][position]
                yield self.finding(rule.location, f"same matches and verdict as line {rule_line(earlier)} "
                                   f"({describe(rule)} {done(rule)}); delete this duplicate", rule,
                                   related=(rule_start(earlier),))


class ShadowedRule(Rule):
    """A firewall rule can never match: an earlier rule of the same chain matches every packet
    it would, and ends their way through the chain (accept, drop, reject, a NAT translation, a
    goto, or a jump to a chain that never returns). Conservative: a match condition portlint does
    not model, an address it cannot compare or a condition with state of its own (rate limits,
    random sampling) makes the earlier rule narrower, never broader. A rule identical to an
    earlier one is PL403's."""

    code = "PL404"
    name = "shadowed-rule"
    severity = Severity.WARNING
    summary = "an earlier rule of the same chain already decides every packet a rule matches"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        ends = ChainEnds(ctx.chains)
        repeated = ctx.shared(duplicates)
        for key, rules in ctx.chains.rules.items():
            repeats = repeated.get(key, _NONE)
            index: CoverIndex | None = None  # the chain's earlier terminal rules, once there is one
            last = len(rules) - 1
            for position, rule in enumerate(rules):
                if position in repeats:
                    continue
                matches = None
                if index is not None:
                    matches = Matches.of(rule)
                    if matches.matches_nothing:
                        continue
                    shadow = index.first_cover(matches)
                    if shadow is not None and not same_statement(shadow, rule):
                        yield self.finding(rule.location, f"never matches: {describe(shadow)} is already "
                                           f"{self._done(shadow, ends)} at line {rule_line(shadow)}", rule,
                                           related=(rule_start(shadow),))
                        continue
                if position < last and not covers_nothing(rule) and self._terminal(rule, ends):
                    matches = Matches.of(rule) if matches is None else matches
                    if not matches.matches_nothing:
                        if index is None:
                            index = CoverIndex()
                        index.add(matches, rule)

    @staticmethod
    def _terminal(rule: FirewallRule, ends: ChainEnds) -> bool:
        if rule.action in TERMINAL_ACTIONS or rule.action == Action.GOTO:
            return True
        target = ChainGraph.target(rule)
        return target is not None and ends.never_returns(target)

    @staticmethod
    def _done(rule: FirewallRule, ends: ChainEnds) -> str:
        if rule.action == Action.JUMP:
            return f"{done(rule)} (which never returns)"
        return done(rule)


class PermissivePolicy(Rule):
    """A filter base chain on the input or forward path has policy accept and no final rule
    that drops or rejects every other packet, while it (or a chain it jumps to that may return)
    accepts specific ports. Every port is open anyway, so the allowlist restricts nothing. Not
    reported when another base chain on the same hook drops what is left (nftables runs them
    all)."""

    code = "PL405"
    name = "permissive-policy"
    severity = Severity.WARNING
    summary = "policy accept with no final drop makes a chain's port allowlist moot"

    def check(self, ctx: RuleContext) -> Iterator[Finding]:
        ends = ChainEnds(ctx.chains)
        # One policy per chain, the last declared (the one in effect): a chain declared again,
        # in each of 50,000 blocks of one table, was judged once per declaration against every
        # port the chain accepts, and reported as many times.
        base = list({chain_key(p): p for p in ctx.document.policies if p.hook is not None}.values())
        closing = [p for p in base if p.policy == "drop" or ends.catch_all(chain_key(p)) in Action.CLOSING]
        accepted: dict[ChainKey, list[Exposure]] = defaultdict(list)
        for exposure in ctx.exposures:
            rule = exposure.declaration
            if isinstance(rule, FirewallRule) and rule.action == Action.ACCEPT:
                accepted[chain_key(rule)].append(exposure)
        for policy in base:
            key = chain_key(policy)
            if (policy.hook not in FILTER_HOOKS or policy.type not in (None, "filter") or policy.policy != "accept"
                    or ends.catch_all(key) is not None or any(self._also_on(c, policy) for c in closing)):
                continue
            # A chain that never returns enforces its own allowlist: what it does not accept, it drops.
            falls_back = ctx.chains.reachable(key, enter=lambda chain: not ends.never_returns(chain))
            opened = sorted((e for chain in falls_back for e in accepted.get(chain, ())),
                            key=lambda e: (e.location.line, e.location.column))
            if opened:
                yield self.finding(policy.location, self._message(policy, opened))

    @staticmethod
    def _also_on(other: ChainPolicy, policy: ChainPolicy) -> bool:
        """Whether ``other`` is a different base chain every packet of ``policy``'s chain meets."""
        same_family = other.family == policy.family or (other.family == "inet" and policy.family in ("ip", "ip6"))
        return other.hook == policy.hook and same_family and chain_key(other) != chain_key(policy)

    @staticmethod
    def _message(policy: ChainPolicy, opened: list[Exposure]) -> str:
        ports: dict[str, None] = {}
        for e in opened:
            if e.negated:
                ports[f"every port but {format_ranges(e.written)}/{e.protocol_text}"] = None
            else:
                ports.update(dict.fromkeys(f"{r}/{e.protocol_text}" for r in e.written))
        shown = ", ".join(list(ports)[:3]) + (f" and {len(ports) - 3} more" if len(ports) > 3 else "")
        return (f"policy accept on {policy.chain} with no final drop or reject: every port is open, so "
                f"accepting {shown} restricts nothing; set the policy to drop or end the chain with a rule "
                "that drops everything else")


@hookimpl
def portlint_register_rules():
    return [DuplicateRule, ShadowedRule, PermissivePolicy]
