"""PL4xx: accepts that let in far more than the rule's author meant."""
from __future__ import annotations

from ..exposure import LOOPBACK_INTERFACES, NEW_STATES, any_address
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
                and (rule.saddr is None or any_address(rule.saddr) and not rule.saddr.startswith("!"))
                and (rule.daddr is None or any_address(rule.daddr) and not rule.daddr.startswith("!"))
                and rule.iif is None and rule.oif is None and not rule.states
                and rule.unmodeled == ()
            )
            if unrestricted:
                yield self.finding(rule.location, f"every packet is accepted on {rule.chain}: restrict the rule "
                                                  "(protocol, port, source, interface or state) or remove it", rule)


class SourcePortTrust(Rule):
    """An accept on the input or forward path that matches a source port (``--sport 53``, or
    multiport ``--ports``, which matches the source or the destination) with no destination port
    and no connection-state restriction that excludes new connections. The source port is chosen
    by the sender: anyone can reach every port of the host by sending from port 53. Match replies
    with ``-m conntrack --ctstate ESTABLISHED,RELATED`` instead. Loopback-only rules are fine."""

    code = "PL408"
    name = "source-port-trust"
    severity = Severity.WARNING
    summary = "an accept that trusts the sender's source port"

    def check(self, ctx: RuleContext):
        for rule in _inbound_accepts(ctx):
            match = rule.sport or rule.either
            if (match is None or rule.dport is not None or not _admits_new(rule)
                    or rule.iif in LOOPBACK_INTERFACES):
                continue
            ports = ", ".join(str(r) for r in match.ranges)
            ports = f"{rule.protocol} {ports}" if "," in ports and rule.protocol else f"{ports}/{rule.protocol or 'any'}"
            what = "source port" if rule.sport else "source or destination port"
            neg = "any " + what + " but" if match.negated else what
            state = "" if rule.states else " or connection state"
            yield self.finding(match.location or rule.location,
                               f"{neg} {ports} accepted on {rule.chain} with no destination port{state}: the "
                               "sender picks its source port, so every port is reachable; match "
                               "ESTABLISHED,RELATED replies instead", rule)


@hookimpl
def portlint_register_rules():
    return [AcceptAllTraffic, SourcePortTrust]
