"""PL1xx: what the port catalog says about an opened port."""
from __future__ import annotations

from ..catalog import ASSIGNED, RESERVED, UNASSIGNED
from ..findings import Severity
from ..hookspecs import hookimpl
from . import ExposureRule, RuleContext, with_protocol

UNOFFICIAL_TAGS = ("unofficial-use", "unauthorized-use", "trojan")
SOURCE_NAMES = {"seed": "in the seed reference", "iana": "at IANA"}


class ReservedPort(ExposureRule):
    """A port or range the catalog marks reserved (0, 225-241, 249-255, 1023, 1024, 49151, ...)
    is opened. Reserved ports are never assigned to a service: opening one is a typo or a
    service squatting on a number nobody may register."""

    code = "PL101"
    name = "reserved-port"
    severity = Severity.WARNING
    summary = "an opened port is reserved in the port registry"

    def concerns(self, port, protocol, ctx: RuleContext):
        return "" if ctx.catalog.info(port, protocol).status == RESERVED else None

    def message(self, ports, reasons, exposure):
        return (f"{with_protocol(ports, exposure)} (reserved) {exposure.describe()}: "
                "reserved ports are never assigned to a service")


class UnassignedPort(ExposureRule):
    """A well-known or registered port (0-49151) with no registered service is opened. Nothing
    standard listens there, so the opening is a typo or an undocumented service; the message
    names any unofficial use the catalog knows."""

    code = "PL102"
    name = "unassigned-port"
    severity = Severity.WARNING
    summary = "an opened well-known or registered port has no registered service"

    def concerns(self, port, protocol, ctx: RuleContext):
        info = ctx.catalog.info(port, protocol)
        if info.range_class.name == "dynamic" or info.status != UNASSIGNED:
            return None
        if not info.entries:  # most ports: nothing is known about them
            return ""
        return "; ".join(dict.fromkeys(n for e in info.entries if set(e.tags) & set(UNOFFICIAL_TAGS) for n in e.notes))

    def message(self, ports, reasons, exposure):
        known = [r for r in reasons if r]
        suffix = f"; known unofficial use: {' | '.join(known)}" if known else ""
        return (f"{with_protocol(ports, exposure)} (unassigned) {exposure.describe()}: "
                f"no service is registered on it{suffix}")


class TrojanPort(ExposureRule):
    """A port known as the default of a trojan or backdoor is opened: the seed's notes (1
    "Trojans - Sockets des Troie", 911 "Dark Shadow") and the curated list of ``risks.yaml``
    (NetBus 12345-12346/tcp, SubSeven 27374/tcp, Back Orifice 31337/udp). Scanners probe these
    ports first; an opening there looks like a planted backdoor. IANA's "unauthorized use
    reported" notes are shown where present."""

    code = "PL103"
    name = "trojan-port"
    severity = Severity.WARNING
    summary = "an opened port is a known trojan or backdoor default"

    def concerns(self, port, protocol, ctx: RuleContext):
        info = ctx.catalog.info(port, protocol)
        names = [r.label for r in info.risks if r.kind == "trojan"]
        names += [n for e in info.entries if "trojan" in e.tags for n in e.notes]
        if not names:
            return None
        unauthorized = [n for e in info.entries if "unauthorized-use" in e.tags for n in e.notes]
        return "; ".join(dict.fromkeys(names + unauthorized))

    def message(self, ports, reasons, exposure):
        return f"{with_protocol(ports, exposure)} ({' | '.join(reasons)}) {exposure.describe()}"


class ProtocolMismatch(ExposureRule):
    """A port opened for UDP whose registered UDP service differs from its TCP service: 22/udp
    is pcAnywhere in the seed, not SSH; 512/udp is biff, not rexec; 514/udp is syslog, not rsh.
    A UDP rule copied from a TCP one opens a different service than intended. TCP is taken as a
    port's primary registration, so TCP rules are not judged. Opt-in (info): syslog on 514/udp
    is intended, and the message only says which service the rule really opens."""

    code = "PL104"
    name = "protocol-mismatch"
    severity = Severity.INFO
    summary = "the port's registered service differs by protocol"
    default_enabled = False

    def applies(self, exposure):
        return exposure.protocol == "udp"

    def concerns(self, port, protocol, ctx: RuleContext):
        other = "tcp"
        mine, theirs = _names_by_source(ctx, port, protocol), _names_by_source(ctx, port, other)
        for source, names in mine.items():
            other_names = theirs.get(source)
            if other_names and not {n.lower() for n in names} & {n.lower() for n in other_names}:
                return (f"{port}/{protocol} is {' / '.join(sorted(names))} {SOURCE_NAMES.get(source, source)}, "
                        f"{port}/{other} is {' / '.join(sorted(other_names))}")
        return None

    def message(self, ports, reasons, exposure):
        return f"{with_protocol(ports, exposure)} {exposure.describe()}: {'; '.join(reasons)}"


def _names_by_source(ctx: RuleContext, port: int, protocol: str) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for entry in ctx.catalog.info(port, protocol).entries:
        if entry.protocol == protocol and entry.status == ASSIGNED and not entry.is_range:
            label = entry.name or entry.description
            names.setdefault(entry.source, set()).update(part.strip() for part in label.split(" / "))
    return names


@hookimpl
def portlint_register_rules():
    return [ReservedPort, UnassignedPort, TrojanPort, ProtocolMismatch]
