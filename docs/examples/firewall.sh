#!/bin/sh
# A hand-written firewall script, as infra repos keep them.
IPT=/sbin/iptables
TCP_PORTS="22 80 443"

$IPT -P INPUT DROP
$IPT -A INPUT -i lo -j ACCEPT
$IPT -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
for port in $TCP_PORTS; do
  $IPT -A INPUT -p tcp --dport "$port" -j ACCEPT
done
$IPT -A INPUT -p tcp --dport 2375 -j ACCEPT   # the Docker API, open to the world
$IPT -A INPUT -p udp --sport 53 -j ACCEPT
