"""PL1xx: what the port catalog says about an opened port."""
from __future__ import annotations

from ..catalog import RESERVED, UNASSIGNED
from ..findings import Severity
from ..hookspecs import hookimpl
from . import ExposureRule, RuleContext

UNOFFICIAL_TAGS = ("unofficial-use", "unauthorized-use", "trojan")


class ReservedPort(ExposureRule):
    """A port or range the catalog marks reserved (0, 225-241, 249-255, 1023, 1024, 49151, ...)
    is opened. Reserved ports are never assigned to a service: opening one is a typo or a
    service squatting on a number nobody may register."""

    code = "PL101"
    name = "reserved-port"
    severity = Severity.WARNING
    summary = "an opened port is reserved in the port registry"

    def concerns(self, port, protocol, ctx: RuleContext):
        return "" if ctx.catalog.status(port, protocol) == RESERVED else None

    def message(self, ports, reasons, exposure):
        return (f"{ports}/{exposure.protocol_text} (reserved) {exposure.describe()}: "
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
        if ctx.catalog.range_class(port).name == "dynamic" or ctx.catalog.status(port, protocol) != UNASSIGNED:
            return None
        info = ctx.catalog.info(port, protocol)
        notes = [n for e in info.entries if set(e.tags) & set(UNOFFICIAL_TAGS) for n in e.notes]
        return f"{port}: {'; '.join(notes)}" if notes else ""

    def message(self, ports, reasons, exposure):
        known = [r for r in reasons if r]
        suffix = f"; known unofficial use: {' | '.join(known)}" if known else ""
        return (f"{ports}/{exposure.protocol_text} (unassigned) {exposure.describe()}: "
                f"no service is registered on it{suffix}")


@hookimpl
def portlint_register_rules():
    return [ReservedPort, UnassignedPort]
