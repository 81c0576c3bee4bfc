"""PL2xx: risky services behind an opened port (judged at the service port)."""
from __future__ import annotations

from ..catalog import Risk
from ..findings import Severity
from ..hookspecs import hookimpl
from . import ExposureRule, RuleContext, with_protocol


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
        risk = first_risk(ctx, port, protocol, "cleartext")
        return None if risk is None else (risk.label, risk.detail)

    def message(self, ports, reasons, exposure):
        services = ", ".join(label for label, _ in reasons)
        advice = "; ".join(f"use {detail} instead" + (f" of {label}" if len(reasons) > 1 else "")
                           for label, detail in reasons)
        return f"{with_protocol(ports, exposure)} ({services}, cleartext) {exposure.describe()}; {advice}"


class AmplificationVector(ExposureRule):
    """A UDP service abused for reflection/amplification DDoS is reachable from any source:
    echo 7, daytime 13, qotd 17, chargen 19, dns 53, tftp 69, portmap 111, ntp 123, netbios 137,
    snmp 161, cldap 389, ripv1 520, ssdp 1900, ARMS 3283, ws-discovery 3702, mdns 5353, coap 5683,
    memcached 11211, and the other protocols of the public advisories (``risks.yaml`` cites
    each). Attackers send small requests with the victim's address as source; the host answers
    the victim with many times the traffic. A source-restricted, loopback-bound or rate-limited
    (``-m limit``, nft ``limit rate``) port is fine."""

    code = "PL202"
    name = "amplification-vector"
    severity = Severity.WARNING
    summary = "a UDP amplification service is reachable from any source"
    judges = "service"

    def applies(self, exposure):
        rate_limited = getattr(exposure.declaration, "rate_limit", None)
        return exposure.from_any_source and exposure.protocol in (None, "udp") and not rate_limited

    def concerns(self, port, protocol, ctx: RuleContext):
        if protocol != "udp":
            return None
        risk = first_risk(ctx, port, "udp", "amplification")
        return None if risk is None else (risk.label, risk.detail)

    def message(self, ports, reasons, exposure):
        what = "; ".join(f"{label} {detail}" for label, detail in reasons)
        return (f"{with_protocol(ports, exposure, 'udp')} ({', '.join(label for label, _ in reasons)}, amplification) {exposure.describe()}: "
                f"{what}; restrict the sources or rate-limit")


class ExposedAdminService(ExposureRule):
    """A database, cache, queue, container or orchestration control plane, remote desktop or
    debugger is reachable from any source: docker 2375/2376, kubelet 10250, kube-apiserver 6443,
    etcd 2379-2380, redis 6379, memcached 11211, mongodb 27017-27019, elasticsearch 9200/9300,
    postgres 5432, mysql 3306, mssql 1433, oracle 1521, cassandra 9042, couchdb 5984, rabbitmq
    5672/15672, zookeeper 2181, kafka 9092, rdp 3389, vnc 5900-5903, x11 6000-6063, node
    inspector 9229, and the rest of ``risks.yaml``. These planes are built for trusted networks;
    many have no authentication by default, and the ones that do are brute-forced constantly."""

    code = "PL203"
    name = "exposed-admin-service"
    severity = Severity.ERROR
    summary = "an admin plane, database or debugger is reachable from any source"
    judges = "service"

    def applies(self, exposure):
        return exposure.from_any_source

    def concerns(self, port, protocol, ctx: RuleContext):
        risk = first_risk(ctx, port, protocol, "admin")
        return None if risk is None else risk.label

    def message(self, ports, reasons, exposure):
        return (f"{with_protocol(ports, exposure)} ({', '.join(reasons)}) {exposure.describe()}: "
                "allow only the hosts that administer it, or bind it to a private address")


def first_risk(ctx: RuleContext, port: int, protocol: str, kind: str) -> Risk | None:
    """The catalog's first risk of one kind for ``port``/``protocol``, from its
    :class:`PortInfo` (built once per port for every rule)."""
    return next((risk for risk in ctx.catalog.info(port, protocol).risks if risk.kind == kind), None)


@hookimpl
def portlint_register_rules():
    return [CleartextService, AmplificationVector, ExposedAdminService]
