"""PL3xx: port ranges: ephemeral collisions, over-broad openings, ranges that match nothing."""
from __future__ import annotations

from ..findings import Severity
from ..hookspecs import hookimpl
from ..model import FirewallRule, format_ranges
from . import ExposureRule, Rule, RuleContext, with_protocol


class EphemeralPortCollision(ExposureRule):
    """An opened or published listening port lies inside the ephemeral range (IANA 49152-65535 by
    default; ``--ephemeral-range linux`` for 32768-60999, or any ``LO-HI``). The kernel hands
    these ports to outgoing connections, so the service can fail to bind after a restart, or
    traffic meant for a client socket reaches it. A port a DNAT/REDIRECT translates is not bound
    on the host and is not judged."""

    code = "PL301"
    name = "ephemeral-port-collision"
    severity = Severity.WARNING
    summary = "an opened port lies in the ephemeral port range"

    def applies(self, exposure):
        return not exposure.translated_by_firewall  # a DNAT'd port is not bound on the host

    def concerns(self, port, protocol, ctx: RuleContext):
        return "" if port in ctx.settings.ephemeral_range else None

    def message(self, ports, reasons, exposure):
        return (f"{with_protocol(ports, exposure)} (in the ephemeral port range) {exposure.describe()}: "
                "the OS hands these ports to outgoing connections, so the service can fail to bind")


class BroadPortRange(Rule):
    """A single rule opens a range at least ``min-ports`` wide (1024 by default), or every port
    but a few (a negated match). Such a range is judged as a whole by this rule alone: it almost
    always opens far more than the service needs."""

    code = "PL302"
    name = "broad-port-range"
    severity = Severity.WARNING
    summary = "one rule opens a very wide port range"
    options = {"min-ports": 1024}

    def check(self, ctx: RuleContext):
        for exposure in ctx.exposures:
            if exposure.width >= ctx.settings.broad_range and not ctx.settings.allows_all(exposure.exposed, exposure.protocols):
                what = (f"every port except {format_ranges(exposure.written)}" if exposure.negated
                        else format_ranges(exposure.exposed))
                yield self.finding(exposure.location, f"{with_protocol(what, exposure)} ({exposure.width} ports) "
                                   f"{exposure.describe()}: open only the ports the service uses", exposure.declaration)


class EmptyPortRange(Rule):
    """A port range whose first port is greater than its last (``--dport 60000:29``). iptables
    accepts it for udp and dccp, but it matches no port, so the rule never applies."""

    code = "PL304"
    name = "empty-port-range"
    severity = Severity.WARNING
    summary = "a reversed port range that matches no port"

    def check(self, ctx: RuleContext):
        for decl in ctx.document.declarations:
            if not isinstance(decl, FirewallRule):
                continue
            for match in (decl.dport, decl.sport, decl.either):
                if match is None:
                    continue
                for r in match.ranges:
                    if r.is_empty:
                        yield self.finding(match.location or decl.location,
                                           f"port range from {r.start} down to {r.end} matches no port: "
                                           "write the lower port first", decl)


@hookimpl
def portlint_register_rules():
    return [EphemeralPortCollision, BroadPortRange, EmptyPortRange]
