#!/bin/sh
# Loops over variables, nested loops, arrays-free POSIX sh with continuations and ; lists.
SERVICES="ssh http https"
RANGES="6000:6010 60000:60100"

for svc in $SERVICES; do iptables -A INPUT -p tcp --dport "$svc" -j ACCEPT; done

for proto in tcp udp; do
  for port in 88 464; do
    iptables -A INPUT \
      -p $proto \
      --dport $port \
      -j ACCEPT
  done
done

for r in $RANGES; do
  iptables -A INPUT -p udp --dport "$r" -j ACCEPT ; iptables -A INPUT -p udp --sport "$r" -j DROP
done

i=0
for host in 10.0.0.1 10.0.0.2; do
  i=$((i + 1))
  iptables -t nat -A PREROUTING -p tcp --dport "808$i" -j DNAT --to-destination "$host:80"
done

IPT=$(command -v iptables)
for iface in eth1 eth2; do
  $IPT -w -A INPUT -i "$iface" -p tcp --dport 111 -j ACCEPT
done
