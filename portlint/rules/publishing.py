"""Container publishing: how compose services put ports on the host (PL303, PL401, PL402, PL407)."""
from __future__ import annotations

import heapq

from ..exposure import WILDCARD_ADDRESSES
from ..findings import Severity
from ..hookspecs import hookimpl
from ..model import PortBinding
from . import Rule, RuleContext

#: Docker's own NAT rules (the DOCKER chain, reached from PREROUTING) send published traffic to
#: the container before the host's INPUT chain sees it.
BYPASS = "Docker's NAT rules send it around the host firewall's INPUT chain"


def published_bindings(ctx: RuleContext):
    """The ``ports:`` bindings Compose really publishes: those of a service on the host network
    are discarded ("Published ports are discarded when using host network mode")."""
    host_network = {s.service for s in ctx.document.services if (s.network_mode or "").strip() == "host"}
    for decl in ctx.document.declarations:
        if isinstance(decl, PortBinding) and decl.kind == "ports" and decl.service not in host_network:
            yield decl


def on_all_interfaces(binding: PortBinding) -> bool:
    return binding.host_ip in (None, "", *WILDCARD_ADDRESSES)


def host_ports(binding: PortBinding) -> str:
    host = str(binding.published) if binding.published else "an ephemeral host port"
    return f"{host}/{binding.protocol}"


class BindAllInterfaces(Rule):
    """A compose port is published with no ``host_ip`` (or ``0.0.0.0``, ``::``): it listens on
    every interface of the host, public ones included. Docker's own NAT rules forward it before
    the host's INPUT chain is consulted, so a host firewall that drops the port does not protect
    it. Bind it to the address that needs it (``127.0.0.1:5432:5432``, an internal interface), or
    filter it in the ``DOCKER-USER`` chain."""

    code = "PL401"
    name = "bind-all-interfaces"
    severity = Severity.WARNING
    summary = "a compose port is published on every interface"

    def check(self, ctx: RuleContext):
        for binding in published_bindings(ctx):
            if on_all_interfaces(binding):
                where = f"on {binding.host_ip}" if binding.host_ip else "with no host_ip"
                yield self.finding(binding.location,
                                   f"{host_ports(binding)} of service {binding.service} is published {where}, so on every "
                                   f"interface; {BYPASS}: bind it to an address (127.0.0.1:...) or filter in DOCKER-USER")


class PrivilegedHostPort(Rule):
    """A compose host port below 1024. Rootless Docker and Podman cannot bind it without
    ``CAP_NET_BIND_SERVICE`` or a lowered ``net.ipv4.ip_unprivileged_port_start``, so the
    service fails to start there. Opt-in (info): rootful Docker binds it fine."""

    code = "PL303"
    name = "privileged-host-port"
    severity = Severity.INFO
    summary = "a compose host port below 1024 (fails under rootless Docker)"
    default_enabled = False

    def check(self, ctx: RuleContext):
        for binding in published_bindings(ctx):
            if binding.published is not None and binding.published.start < 1024:
                yield self.finding(binding.location,
                                   f"host port {host_ports(binding)} of service {binding.service} is below 1024: rootless "
                                   "Docker cannot bind it; publish a port above 1023 or lower "
                                   "net.ipv4.ip_unprivileged_port_start")


def _addresses_overlap(a: str | None, b: str | None) -> bool:
    """Unset host_ip binds every address; 0.0.0.0 every IPv4 one, :: every IPv6 one."""
    if not a or not b or a == b:
        return True
    v6a, v6b = ":" in a, ":" in b
    if v6a != v6b:
        return False
    wildcard = "::" if v6a else "0.0.0.0"
    return wildcard in (a, b)


class HostPortConflict(Rule):
    """Two bindings of one compose project publish overlapping host ports on the same protocol
    and overlapping host addresses (``0.0.0.0`` overlaps every IPv4 address, an unset
    ``host_ip`` every address; ``127.0.0.1`` and ``192.168.1.10`` do not). Compose starts the
    first and the second fails with "port is already allocated". The project is the base file,
    its automatic override and its includes; the finding points at the later binding and names
    the earlier one."""

    code = "PL402"
    name = "host-port-conflict"
    severity = Severity.ERROR
    summary = "two compose bindings publish the same host port"

    def check(self, ctx: RuleContext):
        # A host range published to one container port takes one free port of the range, not
        # all of them: it cannot be shown to clash.
        bindings = [b for b in published_bindings(ctx) if b.published is not None and not b.published.is_empty
                    and not (b.published.width > 1 and b.target.width == 1)]
        order = {id(b): i for i, b in enumerate(bindings)}
        # Sweep the bindings of each protocol by start port, keeping the ones still open.
        by_protocol: dict[str, list[PortBinding]] = {}
        for binding in bindings:
            by_protocol.setdefault(binding.protocol, []).append(binding)
        reported: set[int] = set()
        for group in by_protocol.values():
            group.sort(key=lambda b: (b.published.start, order[id(b)]))
            active: list[tuple[int, int, PortBinding]] = []  # heap by end port
            for binding in group:
                while active and active[0][0] < binding.published.start:
                    heapq.heappop(active)
                for _, _, other in active:
                    if not _addresses_overlap(binding.host_ip, other.host_ip):
                        continue
                    earlier, later = sorted((other, binding), key=lambda b: order[id(b)])
                    if id(later) in reported:
                        continue
                    reported.add(id(later))
                    yield self.finding(later.location, self._message(earlier, later))
                heapq.heappush(active, (binding.published.end, order[id(binding)], binding))

    @staticmethod
    def _message(earlier: PortBinding, later: PortBinding) -> str:
        where = earlier.location
        return (f"host port {host_ports(later)} of service {later.service} is already published by service "
                f"{earlier.service} ({where.path}:{where.line}): Compose fails with 'port is already allocated'")


class HostNetworkMode(Rule):
    """A compose service uses ``network_mode: host``: it shares the host's network stack, so every
    port it listens on is open on every host interface, outside any ``ports:`` control (Compose
    ignores them). Publish the ports the service needs instead."""

    code = "PL407"
    name = "host-network-mode"
    severity = Severity.WARNING
    summary = "a compose service shares the host's network"

    def check(self, ctx: RuleContext):
        for service in ctx.document.services:
            if (service.network_mode or "").strip() == "host":
                yield self.finding(service.network_mode_location or service.location,
                                   f"service {service.service} uses network_mode: host: every port it listens on is "
                                   "open on the host, outside publish controls; publish the ports it needs instead")


@hookimpl
def portlint_register_rules():
    return [PrivilegedHostPort, BindAllInterfaces, HostPortConflict, HostNetworkMode]
