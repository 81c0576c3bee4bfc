"""PL4xx: accepts that let in far more than the rule's author meant."""
from __future__ import annotations

from ..exposure import ANY_SOURCE, NEW_STATES
from ..findings import Severity
from ..hookspecs import hookimpl
from ..model import Action, FirewallRule
from . import Rule, RuleContext


def _inbound_accepts(ctx: RuleContext):
    for decl in ctx.document.declarations:
        if isinstance(decl, FirewallRule) and decl.action == Action.ACCEPT and ctx.paths.on_filter_path(decl):
            yield decl


def _admits_new(rule: FirewallRule) -> bool:
    return not rule.states or bool(NEW_STATES.intersection(s.upper() for s in rule.states))


class AcceptAllTraffic(Rule):
    """An accept on the input or forward path with no protocol, port, source, interface or
    connection-state restriction: every packet that reaches it is let in, and every rule after
    it in the chain is dead. ``-A INPUT -j ACCEPT`` is usually a debugging leftover; the
    loopback rule ``-i lo -j ACCEPT`` and ``--ctstate ESTABLISHED,RELATED`` are restricted and
    fine. A match portlint does not model (``-m recent``, ``-m mac`` ...) counts as a
    restriction."""

    code = "PL406"
    name = "accept-all-traffic"
    severity = Severity.WARNING
    summary = "an accept with no restriction at all on the input or forward path"

    def check(self, ctx: RuleContext):
        for rule in _inbound_accepts(ctx):
            unrestricted = (
                rule.protocol is None and not rule.protocol_negated
                and rule.dport is None and rule.sport is None and rule.either is None
                and rule.saddr in (None, *ANY_SOURCE) and rule.daddr in (None, *ANY_SOURCE)
                and rule.iif is None and rule.oif is None and not rule.states
                and rule.unmodeled == ()
            )
            if unrestricted:
                yield self.finding(rule.location, f"every packet is accepted on {rule.chain}: restrict the rule "
                                                  "(protocol, port, source, interface or state) or remove it", rule)


class SourcePortTrust(Rule):
    """An accept on the input or forward path that matches a source port (``--sport 53``) with
    no destination port and no connection-state restriction. The source port is chosen by the
    sender: anyone can reach every port of the host by sending from port 53. Match replies with
    ``-m conntrack --ctstate ESTABLISHED,RELATED`` instead."""

    code = "PL408"
    name = "source-port-trust"
    severity = Severity.WARNING
    summary = "an accept that trusts the sender's source port"

    def check(self, ctx: RuleContext):
        for rule in _inbound_accepts(ctx):
            if rule.sport is not None and rule.dport is None and rule.either is None and _admits_new(rule):
                ports = ", ".join(str(r) for r in rule.sport.ranges)
                neg = "any source port but " if rule.sport.negated else "source port "
                yield self.finding(rule.sport.location or rule.location,
                                   f"{neg}{ports}/{rule.protocol or 'any'} accepted on {rule.chain} with no "
                                   "destination port or state: the sender picks its source port, so every port "
                                   "is reachable; match ESTABLISHED,RELATED replies instead", rule)


@hookimpl
def portlint_register_rules():
    return [AcceptAllTraffic, SourcePortTrust]
