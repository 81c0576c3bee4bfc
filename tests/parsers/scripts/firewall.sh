#!/bin/bash
# Host firewall for a small web server: SSH from the office, web for everyone.
set -eu

IPT=/sbin/iptables
IP6T=/sbin/ip6tables
WAN_IF=eth0
OFFICE_NET="203.0.113.0/24"
TCP_PORTS="80 443"      # public services
UDP_PORTS="53 123"
SSH_PORT=2222

# Start from empty tables.
for table in filter nat mangle; do
    $IPT -t $table -F
    $IPT -t $table -X
done

$IPT -P INPUT DROP
$IPT -P FORWARD DROP
$IPT -P OUTPUT ACCEPT

$IPT -A INPUT -i lo -j ACCEPT
$IPT -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT

# SSH: only from the office, rate limited.
$IPT -A INPUT -i $WAN_IF -p tcp -s "$OFFICE_NET" --dport $SSH_PORT \
     -m conntrack --ctstate NEW -m recent --set --name ssh
$IPT -A INPUT -i $WAN_IF -p tcp -s "$OFFICE_NET" --dport $SSH_PORT \
     -m conntrack --ctstate NEW -m recent --update --seconds 60 --hitcount 4 --name ssh -j DROP
$IPT -A INPUT -i $WAN_IF -p tcp -s "$OFFICE_NET" --dport $SSH_PORT -j ACCEPT

for port in $TCP_PORTS; do
    $IPT -A INPUT -p tcp --dport "$port" -m conntrack --ctstate NEW -j ACCEPT
done
for port in $UDP_PORTS; do $IPT -A INPUT -p udp --dport $port -j ACCEPT; done

$IPT -A INPUT -p icmp --icmp-type echo-request -m limit --limit 1/s -j ACCEPT
$IPT -A INPUT -m limit --limit 5/min -j LOG --log-prefix "iptables denied: " --log-level 7

# IPv6: the same services.
$IP6T -P INPUT DROP
$IP6T -A INPUT -i lo -j ACCEPT
$IP6T -A INPUT -p ipv6-icmp -j ACCEPT
$IP6T -A INPUT -p tcp -m multiport --dports 80,443 -j ACCEPT
$IP6T -A INPUT -p tcp --dport $SSH_PORT -s 2001:db8:10::/48 -j ACCEPT
