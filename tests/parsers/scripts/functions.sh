#!/bin/bash
# Helpers called with literal arguments; iptables through sudo, a variable and full paths.
IPT="sudo /usr/sbin/iptables -w"
IP6T=/sbin/ip6tables

ipt() {
    echo "+ iptables $*"
    ${IPT} "$@"
}

allow() {
    local proto=$1
    shift
    for port in "$@"; do
        ipt -A INPUT -p "$proto" --dport "$port" -j ACCEPT
    done
}

deny_from() {
    ipt -I INPUT -s "$1" -j DROP
}

allow tcp 21 23 8080
allow udp 69 161
deny_from 198.51.100.7
ipt -t nat -A PREROUTING -p tcp --dport 8443 -j REDIRECT --to-port 443
/usr/sbin/iptables-legacy -A INPUT -p tcp --dport 5432 -s 10.0.0.0/8 -j ACCEPT
$IP6T -A INPUT -p tcp -m multiport --dports 21,8080 -j ACCEPT
iptables-nft -A INPUT -p sctp --dport 3868 -j ACCEPT
