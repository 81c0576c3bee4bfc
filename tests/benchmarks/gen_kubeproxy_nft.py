#!/usr/bin/env python3
"""Print the ruleset kube-proxy writes in nftables mode (KEP-3866) for N services, as
``nft list ruleset`` prints it.

    python3 tests/benchmarks/gen_kubeproxy_nft.py N

A table of rules rather than of sets: per service a map element dispatching its cluster IP and
port, a chain that masquerades and picks an endpoint with ``numgen``, one to five endpoint
chains that DNAT, and for one service in ten a node port. 10,000 services make about 10 MB and
113k port declarations; nft -c takes it (N up to 65,536: cluster IPs are 172.30.0.0/16).
"""
from __future__ import annotations

import random
import sys

SEPARATOR = ",\n\t\t\t     "
HEAD = """\
\tchain cluster-ips-check {
\t\tip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
\t\tip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"
\t}
\tchain filter-forward {
\t\ttype filter hook forward priority -110; policy accept;
\t\tct state new jump service-endpoints-check
\t\tct state new jump cluster-ips-check
\t}
\tchain filter-input {
\t\ttype filter hook input priority -110; policy accept;
\t\tct state new jump service-endpoints-check
\t}
\tchain mark-for-masquerade {
\t\tmeta mark set meta mark | 0x4000
\t}
\tchain masquerading {
\t\tmeta mark & 0x4000 == 0 return
\t\tmeta mark set meta mark ^ 0x4000
\t\tmasquerade fully-random
\t}
\tchain nat-output {
\t\ttype nat hook output priority -100; policy accept;
\t\tjump services
\t}
\tchain nat-postrouting {
\t\ttype nat hook postrouting priority 100; policy accept;
\t\tjump masquerading
\t}
\tchain nat-prerouting {
\t\ttype nat hook prerouting priority -100; policy accept;
\t\tjump services
\t}
\tchain reject-chain {
\t\tcomment "helper for @no-endpoint-services"
\t\treject
\t}
\tchain service-endpoints-check {
\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services
\t}
\tchain services {
\t\tip daddr . meta l4proto . th dport vmap @service-ips
\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
\t}
"""


def services(count: int):
    """(name, protocol, port, cluster IP, endpoints, node port or None) of each service."""
    rng = random.Random(5)
    for i in range(count):
        protocol = "tcp" if rng.random() < 0.9 else "udp"
        port = rng.choice([80, 443, 8080, 53, 9090, 5432, 6379])
        endpoints = [f"10.{rng.randint(128, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                     for _ in range(rng.randint(1, 5))]
        yield (f"ns{i % 50}/svc{i}/{protocol}/p{port}", protocol, port, f"172.30.{i >> 8 & 255}.{i & 255}",
               endpoints, 30000 + i % 2768 if i % 10 == 0 else None)


def chain_id(number: int) -> str:
    return f"{number * 2654435761 % 2**32:08X}"


def ruleset(count: int):
    """The ruleset, piece by piece."""
    listed = list(services(count))
    yield "table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n"
    yield (f"\tset cluster-ips {{\n\t\ttype ipv4_addr\n\t\tcomment \"Active ClusterIPs\"\n\t\telements = {{ "
           f"{SEPARATOR.join(s[3] for s in listed)} }}\n\t}}\n")
    yield "\tset nodeport-ips {\n\t\ttype ipv4_addr\n\t\telements = { 192.168.0.2 }\n\t}\n"
    yield "\tmap no-endpoint-services {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n\t}\n"
    dispatch = SEPARATOR.join(f"{ip} . {protocol} . {port} : goto service-{chain_id(i)}-{name}"
                              for i, (name, protocol, port, ip, _, _) in enumerate(listed))
    yield (f"\tmap service-ips {{\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
           f"\t\telements = {{ {dispatch} }}\n\t}}\n")
    nodeports = SEPARATOR.join(f"{protocol} . {node_port} : goto external-{chain_id(i)}-{name}"
                               for i, (name, protocol, _, _, _, node_port) in enumerate(listed) if node_port)
    yield (f"\tmap service-nodeports {{\n\t\ttype inet_proto . inet_service : verdict\n"
           f"\t\telements = {{ {nodeports} }}\n\t}}\n")
    yield HEAD
    for i, (name, protocol, port, ip, endpoints, node_port) in enumerate(listed):
        service = f"{chain_id(i)}-{name}"
        choices = ", ".join(f"{k} : goto endpoint-{chain_id(i * 7 + k)}-{name}__{address}/{port}"
                            for k, address in enumerate(endpoints))
        yield (f"\tchain service-{service} {{\n"
               f"\t\tip daddr {ip} {protocol} dport {port} ip saddr != 10.0.0.0/8 jump mark-for-masquerade\n"
               f"\t\tnumgen random mod {len(endpoints)} vmap {{ {choices} }}\n\t}}\n")
        if node_port:
            yield f"\tchain external-{service} {{\n\t\tjump mark-for-masquerade\n\t\tgoto service-{service}\n\t}}\n"
        for k, address in enumerate(endpoints):
            yield (f"\tchain endpoint-{chain_id(i * 7 + k)}-{name}__{address}/{port} {{\n"
                   f"\t\tip saddr {address} jump mark-for-masquerade\n"
                   f"\t\tmeta l4proto {protocol} dnat to {address}:{port}\n\t}}\n")
    yield "}\n"


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit() or not 0 < int(sys.argv[1]) <= 65536:
        sys.exit(__doc__.strip().splitlines()[3].strip())
    sys.stdout.writelines(ruleset(int(sys.argv[1])))
