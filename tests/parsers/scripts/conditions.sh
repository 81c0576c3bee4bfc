#!/bin/bash
# Options decided in the script itself: tests, case, && and ||, idempotent adds.
ENABLE_WEB=yes
ENABLE_MAIL=no
MODE=server
BASE_PORT=9000

if [ "$ENABLE_WEB" = "yes" ]; then
    iptables -A INPUT -p tcp --dport 80 -j ACCEPT
    iptables -A INPUT -p tcp --dport 443 -j ACCEPT
else
    iptables -A INPUT -p tcp --dport 80 -j REJECT
fi

[ "$ENABLE_MAIL" = yes ] && iptables -A INPUT -p tcp --dport 25 -j ACCEPT
[ "$ENABLE_MAIL" != yes ] || iptables -A INPUT -p tcp --dport 587 -j ACCEPT
test -n "$MODE" && iptables -A INPUT -p tcp --dport 9999 -j ACCEPT

case $MODE in
    client) iptables -A INPUT -p udp --sport 53 -j ACCEPT ;;
    server|router)
        iptables -A INPUT -p udp --dport 53 -j ACCEPT
        iptables -A INPUT -p tcp --dport 53 -j ACCEPT ;;
    *) echo "unknown mode" ;;
esac

# Idempotent: add only when missing (the second check finds the rule).
iptables -C INPUT -p tcp --dport 22 -j ACCEPT 2>/dev/null || iptables -A INPUT -p tcp --dport 22 -j ACCEPT
iptables -C INPUT -p tcp --dport 22 -j ACCEPT 2>/dev/null || iptables -A INPUT -p tcp --dport 22 -j ACCEPT
iptables -N LOGDROP 2>/dev/null || iptables -F LOGDROP
iptables -A LOGDROP -j LOG --log-prefix "drop: "
iptables -A LOGDROP -j DROP

# A value chosen by a decided && / || chain.
[ "$MODE" = server ] && CUSTOM_SSH=2200 || CUSTOM_SSH=22
iptables -A INPUT -p tcp --dport "$CUSTOM_SSH" -j ACCEPT

# Ports computed from a base, and brace expansion.
iptables -A INPUT -p tcp --dport $((BASE_PORT + 1)) -j ACCEPT
iptables -A INPUT -p tcp --dport $((BASE_PORT * 2 + 10)) -j ACCEPT
for p in {6881..6883} {7000,7010}; do iptables -A INPUT -p udp --dport $p -j ACCEPT; done

# A rule added then deleted, and a chain flushed.
iptables -A INPUT -p tcp --dport 3306 -j ACCEPT
iptables -D INPUT -p tcp --dport 3306 -j ACCEPT
iptables -A FORWARD -p tcp --dport 8888 -j ACCEPT
iptables -F FORWARD
