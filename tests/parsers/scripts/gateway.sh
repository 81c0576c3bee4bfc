#!/usr/bin/env bash
# NAT gateway: port forwards listed in a here-document, read line by line.
set -o errexit -o nounset

LAN_IF=eth1
WAN_IF=eth0

iptables -t nat -F PREROUTING
iptables -P FORWARD DROP
iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT

forward() {
    local proto=$1 external=$2 host=$3 internal=${4:-$2}
    iptables -t nat -A PREROUTING -i "$WAN_IF" -p "$proto" --dport "$external" \
        -j DNAT --to-destination "$host:$internal"
    iptables -A FORWARD -i "$WAN_IF" -o "$LAN_IF" -p "$proto" -d "$host" --dport "$internal" -j ACCEPT
}

while read -r proto external host internal; do
    forward "$proto" "$external" "$host" "$internal"
done <<'FORWARDS'
tcp 8080 192.168.10.5 80
tcp 8443 192.168.10.5 443
udp 51820 192.168.10.7 51820
tcp 2223 192.168.10.9 22
FORWARDS

forward tcp 3389 192.168.10.20
iptables -t nat -A POSTROUTING -o "$WAN_IF" -j MASQUERADE
