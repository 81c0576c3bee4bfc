"""PL2xx: risky services behind an opened port (judged at the service port)."""
from __future__ import annotations

from ..findings import Severity
from ..hookspecs import hookimpl
from . import ExposureRule, RuleContext


class CleartextService(ExposureRule):
    """A legacy cleartext service is opened: telnet 23, ftp 20/21, tftp 69/udp, rexec 512,
    rlogin 513, rsh 514, finger 79, pop2 109, pop3 110, imap 143, nntp 119, uucp 540, rsync
    daemon 873, syslog 514/udp, X11 6000-6063, irc 6667. Credentials and data cross the network
    readable by anyone on the path. Not http 80 (serving redirects to https is normal), smtp 25
    or ldap 389 (they upgrade with STARTTLS on the same port)."""

    code = "PL201"
    name = "cleartext-service"
    severity = Severity.WARNING
    summary = "a legacy cleartext service is opened"
    judges = "service"

    def concerns(self, port, protocol, ctx: RuleContext):
        for risk in ctx.catalog.risks_for(port, protocol, "cleartext"):
            return (risk.label, risk.detail)
        return None

    def message(self, ports, reasons, exposure):
        services = ", ".join(label for label, _ in reasons)
        advice = "; ".join(f"use {detail} instead" + (f" of {label}" if len(reasons) > 1 else "")
                           for label, detail in reasons)
        return f"{ports}/{exposure.protocol_text} ({services}, cleartext) {exposure.describe()}; {advice}"


@hookimpl
def portlint_register_rules():
    return [CleartextService]
