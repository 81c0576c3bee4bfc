#!/bin/bash
# bash arrays, [[ ]] tests and ${...} forms.
PORTS=(22 80 443)
PORTS+=(8443)
declare -a UDP=(500 4500)
ZONE=${ZONE:-public}
PREFIX="svc_"

for port in "${PORTS[@]}"; do
    iptables -A INPUT -p tcp --dport "$port" -j ACCEPT
done
for port in "${UDP[@]}"; do iptables -A INPUT -p udp --dport "$port" -j ACCEPT; done

if [[ $ZONE == pub* && ${#PORTS[@]} -gt 2 ]]; then
    iptables -A INPUT -p tcp --dport "${PORTS[1]}" -m comment --comment "${PREFIX}http" -j LOG
fi

NAME="port_8081"
iptables -A INPUT -p tcp --dport "${NAME#port_}" -j ACCEPT
LIST="1812,1813"
iptables -A INPUT -p udp -m multiport --dports "${LIST/,/,}" -j ACCEPT
