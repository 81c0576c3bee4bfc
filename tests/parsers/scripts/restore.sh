#!/bin/bash
# Rules loaded with iptables-restore from here-documents.
SSH_PORT=22
WEB_PORTS=80,443

iptables-restore <<EOF
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:WEB - [0:0]
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p tcp --dport $SSH_PORT -j ACCEPT
-A INPUT -p tcp -m multiport --dports $WEB_PORTS -j WEB
-A WEB -m comment --comment "web \$ports" -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp --dport 8080 -j REDIRECT --to-ports 80
COMMIT
EOF

# Appended to what is loaded above (--noflush), with a quoted delimiter: no expansion.
iptables-restore --noflush <<'RULES'
*filter
-A INPUT -p udp --dport 1194 -m comment --comment "openvpn $not_expanded" -j ACCEPT
COMMIT
RULES

	ip6tables-restore <<-END
	*filter
	:INPUT DROP [0:0]
	-A INPUT -p tcp --dport $SSH_PORT -j ACCEPT
	-A INPUT -p udp --sport 547 --dport 546 -j ACCEPT
	COMMIT
	END

cat <<EOF | iptables-restore -n
*mangle
-A PREROUTING -p tcp --dport 25 -j MARK --set-mark 0x2
COMMIT
EOF
