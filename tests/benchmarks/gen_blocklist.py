#!/usr/bin/env python3
"""Print an nftables blocklist of about SIZE bytes, as ``nft list ruleset`` prints one.

    python3 tests/benchmarks/gen_blocklist.py SIZE

Big sets of addresses are what make nftables files big: sets of a million IPv4 addresses each
(distinct, so that nft takes them), one of IPv6 addresses and one of IPv4 networks, which the
input chain drops. The chain also opens the telnet port, on the file's third line from the end.
"""
from __future__ import annotations

import sys

SEPARATOR = ",\n\t\t\t     "


def addresses(first: int, count: int) -> tuple[list[str], int]:
    """``count`` distinct IPv4 addresses below 200.0.0.0, and the number to go on from."""
    found, number = [], first
    while len(found) < count:
        number += 1
        address = number * 2654435761 % 2**32  # a bijection: every number its own address
        if 1 <= address >> 24 < 200:
            found.append(f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}")
    return found, number


def blocklist(size: int):
    """The ruleset, piece by piece."""
    ipv6 = SEPARATOR.join(f"2001:db8:{i >> 16:x}:{i & 0xffff:x}::1" for i in range(20000))
    networks = SEPARATOR.join(f"200.{i >> 8}.{i & 255}.0/24" for i in range(20000))
    head = ("table inet filter {\n"
            f"\tset blocked6 {{\n\t\ttype ipv6_addr\n\t\telements = {{ {ipv6} }}\n\t}}\n"
            f"\tset networks {{\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = {{ {networks} }}\n\t}}\n")
    yield head
    written, sets, number = len(head), 0, 0
    while written < size:
        found, number = addresses(number, 1_000_000)
        sets += 1
        piece = f"\tset blocked{sets} {{\n\t\ttype ipv4_addr\n\t\telements = {{ {SEPARATOR.join(found)} }}\n\t}}\n"
        written += len(piece)
        yield piece
    yield ("\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n"
           "\t\tip6 saddr @blocked6 drop\n\t\tip saddr @networks drop\n"
           + "".join(f"\t\tip saddr @blocked{i} drop\n" for i in range(1, sets + 1))
           + "\t\ttcp dport { 22, 443 } accept\n\t\ttcp dport 23 accept\n\t}\n}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.stdout.writelines(blocklist(int(sys.argv[1])))
