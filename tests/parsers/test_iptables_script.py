"""Shell scripts that call iptables: the rules portlint reads in them, where it places them, and
what it reports. (What bash really does with whole scripts is test_iptables_script_differential.)"""
from __future__ import annotations

import textwrap
import time

import pytest

from portlint.model import Action, FirewallRule, PortRange
from portlint.parsers.iptables_script import IptablesScriptParser

R = PortRange


def parse(text: str):
    return IptablesScriptParser().parse(textwrap.dedent(text), "fw.sh")


def rules(text: str) -> list[tuple]:
    """``(family, table, chain, protocol, dport, action)`` of each rule."""
    document = parse(text)
    return [(r.family, r.table, r.chain, r.protocol, r.dport and r.dport.ranges, r.action)
            for r in document.declarations if isinstance(r, FirewallRule)]


def dports(text: str) -> list[int]:
    return [r.dport.ranges[0].start for r in parse(text).declarations if isinstance(r, FirewallRule) and r.dport]


def codes(document) -> list[str]:
    return [f"{d.location.line}:{d.location.column} {d.code}" for d in document.diagnostics]


def column(text: str, line: int, needle: str, occurrence: int = 1) -> int:
    """The 1-based column of the n-th ``needle`` on ``line`` of the dedented ``text``."""
    source = textwrap.dedent(text).splitlines()[line - 1]
    at = -1
    for _ in range(occurrence):
        at = source.index(needle, at + 1)
    return at + 1


def tcp(port: int, chain: str = "INPUT", family: str = "ip", table: str = "filter", action=Action.ACCEPT):
    return (family, table, chain, "tcp", (R(port, port),), action)


# -- the iptables command line ------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    "iptables", "/sbin/iptables", "/usr/sbin/iptables-legacy", "iptables-nft", "sudo iptables",
    "sudo -u root iptables", "command iptables", "env LANG=C iptables", "IPT=iptables; $IPT", "IPT=/sbin/iptables; ${IPT}",
    'IPT="sudo /sbin/iptables -w"; $IPT', "IPT=$(which iptables); $IPT", "IPT=`command -v iptables`; $IPT",
    "IPT=$(which iptables 2>/dev/null); $IPT",
    "iptables -w 5", "iptables --wait", "iptables -v",
])
def test_every_way_of_calling_iptables(call):
    assert rules(f"{call} -A INPUT -p tcp --dport 22 -j ACCEPT\n") == [tcp(22)]


def test_ip6tables_rules_are_ip6_and_tables_come_from_t_anywhere():
    assert rules("""\
        ip6tables -A INPUT -p tcp --dport 22 -j ACCEPT
        ip6tables-nft -t nat -A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080
        iptables -A PREROUTING -t nat -p tcp --dport 81 -j DNAT --to-destination 10.0.0.1:80
        iptables --table=mangle -A PREROUTING -p tcp --dport 82 -j MARK --set-mark 1
        """) == [tcp(22, family="ip6"), tcp(80, "PREROUTING", "ip6", "nat", Action.REDIRECT),
                 tcp(81, "PREROUTING", table="nat", action=Action.DNAT), tcp(82, "PREROUTING", table="mangle", action=Action.OTHER)]


def test_negation_insert_numbers_and_options_before_the_command():
    document = parse("""\
        iptables -I INPUT 3 -p tcp ! --dport 22 -j DROP
        iptables -p udp -A INPUT --dport 53 -j ACCEPT
        iptables -A INPUT ! -s 10.0.0.0/8 -p tcp --dport 25 -j ACCEPT
        """)
    first, second, third = document.declarations
    assert first.dport.negated and first.dport.ranges == (R(22, 22),) and first.action == Action.DROP
    assert (second.protocol, second.dport.ranges) == ("udp", (R(53, 53),))
    assert third.saddr == "!10.0.0.0/8"
    assert codes(document) == []


def test_chains_policies_and_jumps():
    document = parse("""\
        iptables -P INPUT DROP
        iptables -N SERVICES
        iptables -A INPUT -j SERVICES
        iptables -A SERVICES -p tcp --dport 443 -j ACCEPT
        iptables -A INPUT -j NOT_A_CHAIN
        iptables -I DOCKER-USER -p tcp --dport 2375 -j ACCEPT
        """)
    policies = {(p.chain, p.hook, p.policy) for p in document.policies}
    assert policies == {("INPUT", "input", "drop"), ("SERVICES", None, None), ("DOCKER-USER", None, None)}
    actions = [(r.chain, r.action, r.target) for r in document.declarations]
    assert actions == [("INPUT", Action.JUMP, "SERVICES"), ("SERVICES", Action.ACCEPT, "ACCEPT"),
                       ("INPUT", Action.OTHER, "NOT_A_CHAIN"), ("DOCKER-USER", Action.ACCEPT, "ACCEPT")]
    assert codes(document) == []


def test_check_delete_flush_and_new_chain_behave_as_on_empty_tables():
    assert rules("""\
        iptables -C INPUT -p tcp --dport 22 -j ACCEPT || iptables -A INPUT -p tcp --dport 22 -j ACCEPT
        iptables -C INPUT -p tcp --dport 22 -j ACCEPT || iptables -A INPUT -p tcp --dport 22 -j ACCEPT
        iptables -N LOGGING 2>/dev/null || iptables -A INPUT -p tcp --dport 1 -j ACCEPT
        iptables -N LOGGING 2>/dev/null || iptables -A INPUT -p tcp --dport 2 -j ACCEPT
        iptables -A INPUT -p tcp --dport 3306 -j ACCEPT
        iptables -D INPUT -p tcp --dport 3306 -j ACCEPT
        iptables -A FORWARD -p tcp --dport 8080 -j ACCEPT
        iptables -F FORWARD
        iptables -A FORWARD -p tcp --dport 8081 -j ACCEPT
        iptables -L OTHER >/dev/null 2>&1 || iptables -N OTHER
        """) == [tcp(22), tcp(2), tcp(8081, "FORWARD")]


def test_unknown_table_and_policy_errors():
    document = parse("""\
        iptables -t filtr -A INPUT -p tcp --dport 22 -j ACCEPT
        iptables -P SERVICES DROP
        iptables -P INPUT REJECT
        iptables -A INPUT -p tcp --dport 99999 -j ACCEPT
        """)
    assert codes(document) == ["1:13 PL001", "2:13 PL001", "3:19 PL001", "4:34 PL002"]
    assert "unknown table 'filtr'" in document.diagnostics[0].message


# -- words ----------------------------------------------------------------------------------------

def test_quoting_escapes_comments_and_continuations():
    script = """\
        # a comment with "quotes' and iptables -A INPUT -p tcp --dport 1 -j ACCEPT
        iptables -A INPUT -p 'tcp' --dport "2"2 -m comment --comment "it's \\"ssh\\" # not a comment" -j ACCEPT # comment
        iptables \\
            -A INPUT -p tcp \\
            --dport 80 -j ACCEPT; iptables -A INPUT -p tcp --dport 81 -j ACCEPT && iptables -A INPUT -p tcp --dport $'\\x38\\x32' -j ACCEPT
        echo done in esac ]] ! { } do fi
        """
    document = parse(script)
    found = [(r.dport.ranges[0].start, r.location.line, r.dport.location.line, r.dport.location.column)
             for r in document.declarations]
    assert found == [(22, 2, 2, column(script, 2, '"2"2')), (80, 4, 5, column(script, 5, "80")),
                     (81, 5, 5, column(script, 5, "81")), (82, 5, 5, column(script, 5, "$'"))]
    assert document.declarations[0].comment == 'it\'s "ssh" # not a comment'
    assert codes(document) == []


def test_parameter_expansions():
    assert dports("""\
        A=10 B=
        iptables -A INPUT -p tcp --dport ${A}0 -j ACCEPT
        iptables -A INPUT -p tcp --dport ${B:-101} -j ACCEPT
        iptables -A INPUT -p tcp --dport ${UNSET-102} -j ACCEPT
        iptables -A INPUT -p tcp --dport ${A:+103} -j ACCEPT
        iptables -A INPUT -p tcp --dport ${#A}0${#B} -j ACCEPT
        NAME=port_8080.conf
        iptables -A INPUT -p tcp --dport ${NAME#port_} -j ACCEPT 2>/dev/null
        X=${NAME#*_}; iptables -A INPUT -p tcp --dport ${X%.conf} -j ACCEPT
        : ${DEFAULTED:=104}; iptables -A INPUT -p tcp --dport $DEFAULTED -j ACCEPT
        iptables -A INPUT -p tcp --dport $((A * 10 + 5)) -j ACCEPT
        for p in {106,107}; do iptables -A INPUT -p tcp --dport $p -j ACCEPT; done
        """) == [100, 101, 102, 103, 200, 8080, 104, 105, 106, 107]


def test_field_splitting_and_arrays():
    assert dports("""\
        OPTS="-p tcp --dport 1"
        iptables -A INPUT $OPTS -j ACCEPT
        PORTS=(2 3)
        PORTS+=(4)
        for p in "${PORTS[@]}"; do iptables -A INPUT -p tcp --dport "$p" -j ACCEPT; done
        iptables -A INPUT -p tcp --dport "${PORTS[2]}" -j ACCEPT
        for p in {5..6}; do iptables -A INPUT -p tcp --dport $p -j ACCEPT; done
        """) == [1, 2, 3, 4, 4, 5, 6]


# -- control flow -------------------------------------------------------------------------------

def test_loops_carry_the_body_location_and_the_value():
    script = """\
        PORTS="21 23"
        for p in $PORTS; do
          iptables -A INPUT -p tcp --dport "$p" -j ACCEPT
        done
        for proto in tcp udp; do for port in 69; do iptables -A INPUT -p $proto --dport $port -j ACCEPT; done; done
        """
    first, second, third, fourth = parse(script).declarations
    assert (first.location.line, first.dport.location.line, first.dport.location.column) == (3, 3, column(script, 3, '"$p"'))
    assert first.origin == "from the loop variable $p = 21"
    assert second.origin == "from the loop variable $p = 23"
    assert third.origin == "from the loop variables $proto = tcp and $port = 69"
    assert fourth.protocol == "udp"


def test_function_arguments_are_located_where_the_call_writes_them():
    script = """\
        allow() {
            local proto=$1 port=${2:-22}
            iptables -A INPUT -p "$proto" --dport "$port" -j ACCEPT
        }
        ipt() { iptables "$@"; }
        allow tcp 8080
        allow udp
        ipt -A INPUT -p tcp --dport 23 -j ACCEPT
        """
    first, second, third = parse(script).declarations
    assert (first.location.line, first.dport.location.line, first.dport.location.column) == (3, 6, 11)
    assert first.origin == "from the arguments $1 = tcp and $2 = 8080 of allow"
    # a default written in the function is located at its use in the function
    assert (second.protocol, second.dport.ranges, second.dport.location.line) == ("udp", (R(22, 22),), 3)
    assert (third.location.line, third.dport.location.line, third.dport.location.column) == (8, 8, column(script, 8, "23"))


def test_shift_and_for_over_the_arguments():
    assert dports("""\
        open() { proto=$1; shift; for port; do iptables -A INPUT -p $proto --dport $port -j ACCEPT; done; }
        open tcp 1 2
        set -- 3
        iptables -A INPUT -p tcp --dport $1 -j ACCEPT
        """) == [1, 2, 3]


def test_decided_conditions_take_one_branch():
    assert dports("""\
        WEB=yes MODE=server N=3
        if [ "$WEB" = yes ]; then iptables -A INPUT -p tcp --dport 1 -j ACCEPT; else iptables -A INPUT -p tcp --dport 2 -j ACCEPT; fi
        if [[ $MODE == serv* && $N -gt 2 ]]; then iptables -A INPUT -p tcp --dport 3 -j ACCEPT; fi
        [ -z "$WEB" ] && iptables -A INPUT -p tcp --dport 4 -j ACCEPT
        test "$N" -lt 2 || iptables -A INPUT -p tcp --dport 5 -j ACCEPT
        case $MODE in client) iptables -A INPUT -p tcp --dport 6 -j ACCEPT ;; serv*|router) iptables -A INPUT -p tcp --dport 7 -j ACCEPT ;; esac
        if false; then :; elif true; then iptables -A INPUT -p tcp --dport 8 -j ACCEPT; fi
        """) == [1, 3, 5, 7, 8]


def test_undecided_branches_may_all_run_and_what_they_set_is_unresolved():
    document = parse("""\
        if [ -f /etc/fw/ssh ]; then
            SSH=2222
            iptables -A INPUT -p tcp --dport $SSH -j ACCEPT
        else
            iptables -A INPUT -p tcp --dport 22 -j ACCEPT
        fi
        iptables -A INPUT -p tcp --dport $SSH -j ACCEPT
        case "$1" in
            start) iptables -P INPUT DROP; iptables -A INPUT -p tcp --dport 80 -j ACCEPT ;;
            stop) iptables -P INPUT ACCEPT; iptables -F ;;
        esac
        """)
    assert [r.dport.ranges[0].start for r in document.declarations] == [2222, 22, 80]
    assert codes(document) == ["7:34 PL005"]
    assert "SSH, which only some branches of an if set" in document.diagnostics[0].message
    assert [(p.chain, p.policy) for p in document.policies] == [("INPUT", "drop")]


def test_while_read_over_a_here_document_runs_once_per_line():
    document = parse("""\
        while read -r proto port; do
            iptables -A INPUT -p "$proto" --dport "$port" -j ACCEPT
        done <<EOF
        tcp 25
        udp 514
        EOF
        """)
    assert [(r.protocol, r.dport.ranges[0].start) for r in document.declarations] == [("tcp", 25), ("udp", 514)]
    assert document.declarations[1].origin == "from the loop variables $proto = udp and $port = 514"


def test_exit_ends_the_script_and_return_the_function():
    assert dports("""\
        f() { iptables -A INPUT -p tcp --dport 1 -j ACCEPT; return; iptables -A INPUT -p tcp --dport 2 -j ACCEPT; }
        f
        for p in 3 4 5; do [ $p = 4 ] && continue; [ $p = 5 ] && break; iptables -A INPUT -p tcp --dport $p -j ACCEPT; done
        (exit 1)
        iptables -A INPUT -p tcp --dport 6 -j ACCEPT
        exit 0
        iptables -A INPUT -p tcp --dport 7 -j ACCEPT
        """) == [1, 3, 6]


# -- what cannot be known ----------------------------------------------------------------------

@pytest.mark.parametrize("script,reason", [
    ("PORT=$(cat /etc/port)\niptables -A INPUT -p tcp --dport $PORT -j ACCEPT\n", "the output of `cat /etc/port`"),
    ("read -r PORT\niptables -A INPUT -p tcp --dport $PORT -j ACCEPT\n", "a value read when the script runs"),
    ("iptables -A INPUT -p tcp --dport $PORT -j ACCEPT\n", "PORT, which this script never sets"),
    ("iptables -A INPUT -p tcp --dport $1 -j ACCEPT\n", "$1, an argument the script is run with"),
    ("for p in $(seq 1 3); do iptables -A INPUT -p tcp --dport $p -j ACCEPT; done\n", "the output of `seq 1 3`"),
    ("iptables -A INPUT -p tcp --dport ${PORT:?set PORT} -j ACCEPT\n", "PORT, which the script requires"),
    ("iptables -A INPUT -p tcp --dport \"$(( RANDOM % 10 ))\" -j ACCEPT\n", "RANDOM"),
])
def test_unresolved_values_are_reported_once_and_never_guessed(script, reason):
    document = parse(script)
    assert document.declarations == []
    assert [d.code for d in document.diagnostics] == ["PL005"]
    assert reason in document.diagnostics[0].message
    assert "this iptables command is skipped" in document.diagnostics[0].message


def test_pl005_is_located_at_the_unresolved_word_once_per_command():
    document = parse("""\
        PORT=$(cat /etc/port)
        for i in 1 2 3; do
          iptables -A INPUT -p tcp --dport "$PORT" -j ACCEPT
        done
        """)
    assert codes(document) == ["3:36 PL005"]
    assert document.diagnostics[0].location.end_column == 43


def test_unknown_addresses_keep_the_rule_and_unknown_commands_are_reported_only_when_iptables_like():
    document = parse("""\
        ADMIN=$(cat /etc/admin-net)
        iptables -A INPUT -s $ADMIN -p tcp --dport 22 -m comment --comment "$(hostname)" -j ACCEPT
        $FIREWALL -A INPUT -p tcp --dport 23 -j ACCEPT
        $EDITOR /etc/hosts
        """)
    (rule,) = document.declarations
    assert (rule.saddr, rule.dport.ranges) == ("$ADMIN", (R(22, 22),))
    assert codes(document) == ["3:1 PL005"]
    assert "portlint cannot tell which command runs here" in document.diagnostics[0].message


# -- here-documents and iptables-restore ----------------------------------------------------------

def test_restore_here_documents_are_read_as_iptables_save_at_their_lines():
    document = parse("""\
        SSH=2222
        iptables-restore <<EOF
        *filter
        :INPUT DROP [0:0]
        -A INPUT -p tcp --dport $SSH -j ACCEPT
        -A INPUT -p tcp --dport 443 -m comment --comment "\\$literal" -j ACCEPT
        COMMIT
        EOF
        ip6tables-restore -n <<'END'
        *filter
        -A INPUT -p udp --dport 546 -m comment --comment "$not_expanded" -j ACCEPT
        COMMIT
        END
        """)
    first, second, third = document.declarations
    assert (first.dport.ranges, first.dport.location.line, first.dport.location.column,
            first.dport.location.end_column) == ((R(2222, 2222),), 5, 25, 29)
    assert (second.dport.location.line, second.comment) == (6, "$literal")
    assert (third.family, third.comment, third.location.line) == ("ip6", "$not_expanded", 11)
    assert [(p.family, p.chain, p.policy) for p in document.policies] == [("ip", "INPUT", "drop"), ("ip6", "INPUT", None)]
    assert codes(document) == []


def test_tab_stripped_here_documents_and_pipes_from_cat():
    document = parse("""\
        \tcat <<-EOF | iptables-restore
        \t*nat
        \t-A PREROUTING -p tcp --dport 80 -j REDIRECT --to-ports 8080
        \tCOMMIT
        \tEOF
        iptables-restore <<< '*filter
        -A INPUT -p tcp --dport 8 -j ACCEPT
        COMMIT'
        """)
    first, second = document.declarations
    # the body's leading tab is stripped, not its column
    assert (first.table, first.dport.location.line, first.dport.location.column) == ("nat", 3, 31)
    assert second.dport.ranges == (R(8, 8),)


def test_restore_replaces_tables_unless_noflush_and_applies_nothing_uncommitted():
    document = parse("""\
        iptables -A INPUT -p tcp --dport 1 -j ACCEPT
        iptables -t nat -A PREROUTING -p tcp --dport 2 -j REDIRECT --to-ports 3
        iptables-restore <<EOF
        *filter
        -A INPUT -p tcp --dport 4 -j ACCEPT
        COMMIT
        EOF
        iptables-restore --noflush <<EOF
        *filter
        -A INPUT -p tcp --dport 5 -j ACCEPT
        COMMIT
        *mangle
        -A PREROUTING -p tcp --dport 6 -j ACCEPT
        EOF
        iptables-restore --test <<EOF
        *filter
        -A INPUT -p tcp --dport 7 -j ACCEPT
        COMMIT
        EOF
        """)
    assert [r.dport.ranges[0].start for r in document.declarations] == [4, 5, 2]
    assert codes(document) == ["13:1 PL001"]
    assert "COMMIT expected" in document.diagnostics[0].message


def test_unresolved_lines_of_a_here_document_are_skipped():
    document = parse("""\
        iptables-restore <<EOF
        *filter
        -A INPUT -p tcp --dport $(cat /etc/port) -j ACCEPT
        -A INPUT -p tcp --dport 22 -j ACCEPT
        COMMIT
        EOF
        """)
    assert [r.dport.ranges[0].start for r in document.declarations] == [22]
    assert codes(document) == ["3:25 PL005"]
    assert document.diagnostics[0].message.startswith("$(cat /etc/port) cannot be resolved statically")


def test_an_unterminated_here_document_is_reported_at_its_operator():
    document = parse("iptables-restore <<EOF\n*filter\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n")
    assert codes(document)[0] == "1:18 PL001"
    assert "never ended by a line 'EOF'" in document.diagnostics[0].message


# -- syntax errors ------------------------------------------------------------------------------

def test_a_syntax_error_is_located_and_the_rest_is_still_read():
    document = parse("""\
        iptables -A INPUT -p tcp --dport 1 -j ACCEPT
        if true; then iptables -A INPUT -p tcp --dport 2 -j ACCEPT; done
        iptables -A INPUT -p tcp --dport 3 -j ACCEPT
        echo "unterminated
        """)
    assert [r.dport.ranges[0].start for r in document.declarations] == [1, 3]
    assert codes(document) == ["2:61 PL001", "4:6 PL001"]
    assert document.diagnostics[0].message.startswith("unexpected 'done'; expected")
    assert document.diagnostics[1].message == "a double-quoted string is never closed: expected '\"' before the end of the file"


@pytest.mark.parametrize("text", [
    "for", "f() {", "case x in", "$(", "`", "'", "a=(", "<<EOF", "[[ -n", "iptables -A INPUT -p tcp --dport",
    "if then fi", ";;", "}", "))", "\x00\x01", "cat <<A <<B\nA\n",
])
def test_broken_input_is_diagnosed_never_a_crash(text):
    document = parse(text)
    assert all(d.location.line >= 1 and d.location.column >= 1 for d in document.diagnostics)


# -- detection ----------------------------------------------------------------------------------

@pytest.mark.parametrize("head,claimed", [
    ("#!/bin/sh\niptables -F\n", True),
    ("#!/usr/bin/env bash\nset -e\nIPT=/sbin/iptables\n$IPT -F\n", True),
    ("#!/bin/bash\nIPTABLES=${IPTABLES:-iptables}\n", True),
    ("#!/bin/dash\ncat <<EOF | ip6tables-restore\n", True),
    ("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n", True),
    ("# rules\nsudo /sbin/ip6tables -P INPUT DROP\n", True),
    ("#!/bin/sh\necho hello\n", False),
    ("#!/bin/sh\n# iptables is configured elsewhere\nexit 0\n", False),
    ("#!/bin/sh\niptables-save > /etc/iptables/rules.v4\n", False),
    ("#!/usr/bin/python3\nos.system('iptables -F')\n", False),
    ("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n", False),
    ("services:\n  web:\n    ports: ['80:80']\n", False),
])
def test_sniffing_claims_scripts_that_call_iptables(head, claimed):
    assert IptablesScriptParser().sniff(head) is claimed


def test_a_folder_is_linted_with_scripts_detected_by_content(cli, tmp_path):
    (tmp_path / "firewall.sh").write_text("#!/bin/sh\niptables -A INPUT -p tcp --dport 23 -j ACCEPT\n")
    (tmp_path / "iptables.up").write_text("iptables -A INPUT -p tcp --dport 21 -j ACCEPT\n")
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\necho deploying\n")
    (tmp_path / "rules.v4").write_text("*filter\n-A INPUT -p tcp --dport 513 -j ACCEPT\nCOMMIT\n")
    result = cli("ports", "--output-format", "json", str(tmp_path))
    found = sorted((r["path"].rsplit("/", 1)[-1], r["format"], r["dport"][0][0]) for r in result.json())
    assert found == [("firewall.sh", "iptables", 23), ("iptables.up", "iptables", 21), ("rules.v4", "iptables", 513)]


def test_a_large_script_is_read_quickly():
    lines = ["#!/bin/sh", "IPT=/sbin/iptables", "allow() { $IPT -A INPUT -p tcp --dport \"$1\" -j ACCEPT; }"]
    lines += [f"allow {port}" if port % 2 else f"$IPT -A INPUT -p udp --dport {port} -j ACCEPT"
              for port in range(1, 5001)]
    start = time.perf_counter()
    document = IptablesScriptParser().parse("\n".join(lines) + "\n", "big.sh")
    assert len(document.declarations) == 5000
    assert time.perf_counter() - start < 10


def test_windows_line_endings_read_the_same():
    script = "#!/bin/sh\nfor p in 22 23; do\n  iptables -A INPUT -p tcp --dport $p -j ACCEPT\ndone\ncat <<EOF | iptables-restore -n\n*filter\n-A INPUT -p tcp --dport 80 -j ACCEPT\nCOMMIT\nEOF\n"
    unix = IptablesScriptParser().parse(script, "fw.sh")
    windows = IptablesScriptParser().parse(script.replace("\n", "\r\n"), "fw.sh")
    assert [(r.dport.ranges, r.dport.location) for r in windows.declarations] == \
           [(r.dport.ranges, r.dport.location) for r in unix.declarations]
    assert len(unix.declarations) == 3 and windows.diagnostics == []


def test_what_an_undecided_and_or_sets_is_unresolved():
    document = parse("""\
        SSH_PORT=22
        [ -f /etc/custom-ssh ] && SSH_PORT=2222
        iptables -A INPUT -p tcp --dport $SSH_PORT -j ACCEPT
        grep -q web /etc/roles || iptables -A INPUT -p tcp --dport 80 -j ACCEPT
        break
        iptables -A INPUT -p tcp --dport 443 -j ACCEPT
        """)
    assert [r.dport.ranges[0].start for r in document.declarations] == [80, 443]
    assert codes(document) == ["3:34 PL005"]
    assert "SSH_PORT, which the branches of a && list set differently" in document.diagnostics[0].message


def test_rules_that_exclusive_branches_both_add_are_one_rule(lint):
    script = textwrap.dedent("""\
        case "$1" in
        start)
            iptables -A INPUT -p tcp --dport 25 -j ACCEPT
            ;;
        restart)
            iptables -F
            iptables -A INPUT -p tcp --dport 25 -j ACCEPT
            iptables -A INPUT -p tcp --dport 110 -j ACCEPT
            ;;
        esac
        allow() { iptables -A INPUT -p tcp --dport "$1" -j ACCEPT; }
        if [ -f /etc/mail ]; then allow 143; allow 143; fi
        """)
    assert dports(script) == [25, 110, 143, 143]
    # the two calls in one branch are a real duplicate
    assert [f.location.line for f in lint(script, "iptables-script", select=["PL403"])] == [11]
