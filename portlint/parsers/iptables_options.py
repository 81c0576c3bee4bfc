"""The option language of one iptables rule, read the way iptables reads it.

Shared by every source of iptables rules (iptables-save files, shell scripts): the caller splits
a rule into :class:`~portlint.parsers.common.Word` s; :func:`read_rule` gives them meaning.

iptables parses options with ``getopt_long`` over the options of the core and of every match and
target loaded so far, so: long options may be abbreviated to a unique prefix (``-m multiport
--dport`` is ``--dports``); ``-p tcp`` loads the tcp match only when an option nothing else
defines needs it; an option that requires an argument takes the next word whatever it looks like
(``--dport -1``). Options of matches and targets portlint has no table for are kept with the
words that follow them.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Container

from ..model import MAX_PORT, Action, Diagnostic, PortMatch, PortRange
from .common import INVALID_PORT, PARSE_ERROR, PROTOCOL_NUMBERS, PortSyntaxError, Word, port_number

#: Core options: long name -> (short letter, number of arguments).
CORE_OPTIONS = {
    "protocol": ("p", 1), "source": ("s", 1), "src": (None, 1), "destination": ("d", 1),
    "dst": (None, 1), "in-interface": ("i", 1), "out-interface": ("o", 1), "jump": ("j", 1),
    "goto": ("g", 1), "match": ("m", 1), "fragment": ("f", 0), "set-counters": ("c", 2),
    "ipv4": ("4", 0), "ipv6": ("6", 0), "wait": ("w", 1), "numeric": ("n", 0), "verbose": ("v", 0),
}
SHORT_OPTIONS = {short: long for long, (short, _) in CORE_OPTIONS.items() if short}
#: ``(owner, long name, number of arguments)`` of each short option as written ("-p").
_SHORT_FOUND = {f"-{short}": ("", long, CORE_OPTIONS[long][1]) for short, long in SHORT_OPTIONS.items()}

_PORTS = {"source-port": 1, "sport": 1, "destination-port": 1, "dport": 1}
#: Options of the matches and targets portlint reads; ``None`` marks a table known to be partial
#: (its other options take the words that follow them).
MATCH_OPTIONS: dict[str, dict[str, int] | None] = {
    "tcp": {**_PORTS, "syn": 0, "tcp-flags": 2, "tcp-option": 1},
    "udp": dict(_PORTS),
    "sctp": {**_PORTS, "chunk-types": 2},
    "dccp": {**_PORTS, "dccp-types": 1, "dccp-option": 1},
    "multiport": {"source-ports": 1, "sports": 1, "destination-ports": 1, "dports": 1, "ports": 1},
    "state": {"state": 1},
    "comment": {"comment": 1},
    "mac": {"mac-source": 1},
    "icmp": {"icmp-type": 1},
    "icmp6": {"icmpv6-type": 1},
    "limit": {"limit": 1, "limit-burst": 1},
    "hashlimit": {"hashlimit-upto": 1, "hashlimit-above": 1, "hashlimit-burst": 1, "hashlimit-mode": 1,
                  "hashlimit-srcmask": 1, "hashlimit-dstmask": 1, "hashlimit-name": 1,
                  "hashlimit-htable-size": 1, "hashlimit-htable-max": 1, "hashlimit-htable-expire": 1,
                  "hashlimit-htable-gcinterval": 1, "hashlimit-rate-match": 0, "hashlimit-rate-interval": 1,
                  "hashlimit": 1},
    "conntrack": {"ctstate": 1, "ctproto": 1, "ctorigsrc": 1, "ctorigdst": 1, "ctreplsrc": 1,
                  "ctrepldst": 1, "ctorigsrcport": 1, "ctorigdstport": 1, "ctreplsrcport": 1,
                  "ctrepldstport": 1, "ctstatus": 1, "ctexpire": 1, "ctdir": 1},
}
TARGET_OPTIONS: dict[str, dict[str, int] | None] = {
    "DNAT": {"to-destination": 1, "random": 0, "persistent": 0, "random-fully": 0},
    "REDIRECT": {"to-ports": 1, "random": 0},
    "MASQUERADE": {"to-ports": 1, "random": 0, "random-fully": 0},
    "SNAT": {"to-source": 1, "random": 0, "persistent": 0, "random-fully": 0},
    "TPROXY": {"on-port": 1, "on-ip": 1, "tproxy-mark": 1},
    "ACCEPT": {}, "DROP": {}, "RETURN": {},
    "REJECT": {"reject-with": 1},
}
VERDICTS = {
    "ACCEPT": Action.ACCEPT, "DROP": Action.DROP, "REJECT": Action.REJECT, "RETURN": Action.RETURN,
    "DNAT": Action.DNAT, "REDIRECT": Action.REDIRECT, "TPROXY": Action.TPROXY, "SNAT": Action.SNAT,
    "MASQUERADE": Action.MASQUERADE,
}
PORT_MATCHES = ("tcp", "udp", "sctp", "dccp")
#: The match iptables loads for ``-p PROTOCOL`` when an option nothing else defines is met
#: (``-p icmp --icmp-type 8``): the protocols that have a match of their name.
IMPLICIT_MATCHES = {**{p: p for p in PORT_MATCHES}, "icmp": "icmp", "icmpv6": "icmp6", "ipv6-icmp": "icmp6",
                    "esp": "esp", "ah": "ah", "mh": "mh", "ipv6-mh": "mh"}
MULTIPORT_PROTOCOLS = ("tcp", "udp", "udplite", "sctp", "dccp")
#: Protocols whose reversed range (``60000:29``) iptables rejects; udp and dccp accept it.
STRICT_RANGE_PROTOCOLS = ("tcp", "sctp")
MULTIPORT_MAX = 15
MAC_RE = re.compile(r"^[0-9A-Fa-f]{1,2}(:[0-9A-Fa-f]{1,2}){5}$")


@dataclass(slots=True)
class RuleFacts:
    """What a rule's options say, before it is placed in a table and chain. A dump's rules wait
    as facts until their table is complete, so they hold no words (a table of 200k rules)."""

    protocol: str | None = None
    protocol_negated: bool = False
    dport: PortMatch | None = None
    sport: PortMatch | None = None
    either: PortMatch | None = None
    saddr: str | None = None
    daddr: str | None = None
    iif: str | None = None
    oif: str | None = None
    states: tuple[str, ...] = ()
    target: str | None = None
    goto: bool = False
    to_address: str | None = None
    to_ports: tuple[PortRange, ...] | None = None
    comment: str | None = None
    rate_limit: str | None = None
    unmodeled: tuple[str, ...] = ()
    target_options: tuple[str, ...] = ()

    def action(self, chains: Container[str]) -> str | None:
        return action_of(self.target, self.goto, chains)


def action_of(target: str | None, goto: bool, chains: Container[str]) -> str | None:
    """The normalised verb of a target; a target naming a chain of the table jumps."""
    if target is None:
        return None
    if goto:
        return Action.GOTO
    if target in VERDICTS:
        return VERDICTS[target]
    return Action.JUMP if target in chains else Action.OTHER


def _tables(matches: tuple[str, ...], target: str | None) -> list[tuple[str, dict[str, int] | None]]:
    tables = [(m, MATCH_OPTIONS.get(m)) for m in matches]
    if target is not None:
        tables.append((target, TARGET_OPTIONS.get(target)))
    return tables


@lru_cache(maxsize=1024)
def _partial_owner(matches: tuple[str, ...], target: str | None) -> str | None:
    """The most recent loaded match or target whose options portlint does not all know."""
    for owner, table in reversed(_tables(matches, target)):
        if table is None:
            return owner
    return None


_UNKNOWN_TARGET = "\0unknown target"  # not a name a target can have


@lru_cache(maxsize=8192)
def _resolve(name: str, matches: tuple[str, ...], target: str | None) -> tuple[str, str, int] | None:
    """The option ``--name`` means with these matches and this target loaded, as getopt_long
    finds it: an exact name first, then a unique prefix (cached: rules repeat these a lot)."""
    core = [("", opt, nargs) for opt, (_, nargs) in CORE_OPTIONS.items()]
    modules = [(owner, opt, nargs) for owner, table in _tables(matches, target) for opt, nargs in (table or {}).items()]
    for candidate in core + modules:
        if candidate[1] == name:
            return candidate
    # An abbreviation: unique among the known modules' options; the core's only when no
    # module with options unknown to portlint could be the one meant (``-m recent --set``).
    pools = [modules] if _partial_owner(matches, target) else [modules, core]
    for pool in pools:
        prefixed = [c for c in pool if c[1].startswith(name)]
        if len({c[1] for c in prefixed}) == 1:
            return prefixed[0]
    return None


class _Reader:
    def __init__(self, words: list[Word], path: str, resolve) -> None:
        self.words = words
        self.path = path
        self.resolve = resolve
        self.pos = 0
        self.facts = RuleFacts()
        self.diagnostics: list[Diagnostic] = []
        self.matches: tuple[str, ...] = ()  # loaded match modules, in order
        self.implicit_loaded = False
        self.unmodeled: list[str] = []
        self.target_options: list[str] = []
        #: (module, option, negated, value word) of every port option, read once -p is known.
        self.port_options: list[tuple[str, str, bool, Word]] = []

    def error(self, word: Word, message: str, code: str = PARSE_ERROR) -> None:
        self.diagnostics.append(Diagnostic(code, message, word.location(self.path)))

    # -- option lookup ---------------------------------------------------------------------

    def lookup(self, name: str) -> tuple[str, str, int] | None:
        """``(owner, full option name, nargs)`` of a long option; owner "" is the core."""
        target = self.facts.target
        if target is not None and target not in TARGET_OPTIONS:
            target = _UNKNOWN_TARGET  # which one does not change the answer, and chains are many
        for _ in range(2):
            found = _resolve(name, self.matches, target)
            if found is not None:
                return found
            if not self._load_implicit():
                break
        return None

    def _load_implicit(self) -> bool:
        """iptables loads the match named by ``-p`` when an option nothing else defines is met."""
        module = IMPLICIT_MATCHES.get(self.facts.protocol)
        if self.implicit_loaded or module is None or module in self.matches:
            return False
        self.implicit_loaded = True
        self.matches += (module,)
        return True

    def _partial_owner(self) -> str | None:
        return _partial_owner(self.matches, self.facts.target)

    # -- reading ---------------------------------------------------------------------------

    def take(self, n: int, option: Word) -> list[Word] | None:
        args = self.words[self.pos: self.pos + n]
        if len(args) < n:
            self.error(option, f"option {option.text} requires {n} argument{'s' * (n > 1)}")
            return None
        self.pos += n
        return args

    def take_free(self) -> list[Word]:
        """The words up to the next option (for options portlint has no table for)."""
        start = self.pos
        while self.pos < len(self.words) and self.words[self.pos].kind in ("WORD", "STRING"):
            self.pos += 1
        return self.words[start: self.pos]

    def read(self) -> RuleFacts:
        words = self.words
        while self.pos < len(words):
            word = words[self.pos]
            self.pos += 1
            negated = False
            if word.kind == "BANG":
                if self.pos >= len(words) or words[self.pos].kind != "OPTION":
                    self.error(word, "'!' must be followed by the option it negates")
                    continue
                negated = True
                word = words[self.pos]
                self.pos += 1
            if word.kind != "OPTION":
                self.error(word, f"unexpected argument {word.text!r}: expected an option")
                continue
            self.option(word, negated)
        self.finish()
        return self.facts

    def option(self, word: Word, negated: bool) -> None:
        text = word.text
        found = self.lookup(text[2:]) if text[1] == "-" else _SHORT_FOUND.get(text)
        if found is None:
            owner = self._partial_owner()
            if owner is None:
                self.error(word, f"unknown option {text}: no loaded match or target defines it")
            self.keep(owner, text, negated, self.take_free())
            return
        owner, name, nargs = found
        if nargs and self.pos < len(self.words) and self.words[self.pos].kind == "BANG":
            bang = self.words[self.pos]
            self.pos += 1
            self.error(bang, f"'{text} ! ...' is no longer accepted (iptables 1.6 dropped it): "
                             f"write '! {text} ...'")
            negated = True
        args = self.take(nargs, word)
        if args is None:
            return
        if owner == "":
            self.core(name, args, negated, word)
        elif not self.module(owner, name, args, negated):
            self.keep(owner, f"--{name}", negated, args)

    def keep(self, owner: str | None, option: str, negated: bool, args: list[Word]) -> None:
        """Record an option the model has no field for: a target's options belong to the
        verdict; a match's make the rule narrower than its modelled fields say."""
        text = " ".join([option, *(a.text for a in args)])
        if owner is not None and owner == self.facts.target:
            self.target_options.append(text)
        else:
            self.unmodeled.append(f"{'! ' if negated else ''}-m {owner} {text}")

    def core(self, name: str, args: list[Word], negated: bool, word: Word) -> None:
        facts = self.facts
        value = args[0].text if args else None
        if name == "protocol":
            proto = value.lower()
            facts.protocol = None if proto in ("all", "0") else sys.intern(PROTOCOL_NUMBERS.get(proto, proto))
            facts.protocol_negated = negated
        elif name == "match":
            module = value.lower()
            if module not in self.matches:  # loading a match twice adds no option
                self.matches += (module,)
        elif name in ("jump", "goto"):
            facts.target = sys.intern(value)
            facts.goto = name == "goto"
        elif name in ("source", "src"):
            facts.saddr = ("!" if negated else "") + value
        elif name in ("destination", "dst"):
            facts.daddr = ("!" if negated else "") + value
        elif name == "in-interface":
            facts.iif = ("!" if negated else "") + value
        elif name == "out-interface":
            facts.oif = ("!" if negated else "") + value
        elif name == "fragment":
            self.unmodeled.append("! -f" if negated else "-f")

    def module(self, owner: str, name: str, args: list[Word], negated: bool) -> bool:
        """Put a match or target option into the facts; False when the model has no place
        for it."""
        facts = self.facts
        value = args[0] if args else None
        if owner in PORT_MATCHES + ("multiport",) and name in (
                "sport", "source-port", "dport", "destination-port",
                "sports", "source-ports", "dports", "destination-ports", "ports"):
            self.port_options.append((owner, name, negated, value))
        elif (owner, name) in (("state", "state"), ("conntrack", "ctstate")) and not negated:
            facts.states = tuple(value.text.split(","))
        elif (owner, name) in (("limit", "limit"), ("hashlimit", "hashlimit-upto")) and not negated:
            facts.rate_limit = value.text
            return False  # still a condition the model does not otherwise represent
        elif owner == "mac":
            if not MAC_RE.match(value.text):
                self.error(value, f"invalid MAC address {value.text!r}: expected six hex pairs such as 00:11:22:aa:bb:cc")
            return False
        elif owner == "comment":
            facts.comment = value.text
        elif owner == "DNAT" and name == "to-destination":
            facts.to_address, facts.to_ports = self.nat_destination(value)
        elif owner in ("REDIRECT", "MASQUERADE") and name == "to-ports":
            facts.to_ports = self.port_list(value, "-")
        elif owner == "TPROXY" and name == "on-port":
            facts.to_ports = self.port_list(value, "-")
        else:
            return False
        return True

    # -- values ----------------------------------------------------------------------------

    def nat_destination(self, word: Word) -> tuple[str | None, tuple[PortRange, ...] | None]:
        """``[ipaddr[-ipaddr]][:port[-port]]``; IPv6 addresses are bracketed when a port follows."""
        text = word.text
        if text.startswith("["):
            address, _, rest = text[1:].partition("]")
            ports = rest[1:] if rest.startswith(":") else ""
        elif text.count(":") == 1:
            address, _, ports = text.partition(":")
        else:
            address, ports = text, ""
        return address or None, (self.port_list(word, "-", ports) if ports else None)

    def port_list(self, word: Word, sep: str, text: str | None = None) -> tuple[PortRange, ...] | None:
        """``port`` or ``lo<sep>hi`` (``text``, else the word's text); errors reported at ``word``."""
        text = word.text if text is None else text
        lo, has_sep, hi = text.partition(sep)
        try:
            start = port_number(lo, self.facts.protocol, self.resolve)
            end = port_number(hi, self.facts.protocol, self.resolve) if has_sep else start
        except PortSyntaxError as exc:
            self.error(word, str(exc), exc.code)
            return None
        return (PortRange(start, end),)

    def finish(self) -> None:
        """Read the port options now that ``-p`` is known wherever it was written."""
        facts = self.facts
        facts.unmodeled = tuple(self.unmodeled)
        facts.target_options = tuple(self.target_options)
        for module, name, negated, word in self.port_options:
            if module == "multiport":
                if facts.protocol not in MULTIPORT_PROTOCOLS or facts.protocol_negated:
                    self.error(word, "multiport needs `-p tcp`, `udp`, `udplite`, `sctp` or `dccp`")
                    continue
                ranges = self.multiport(word)
            else:
                if facts.protocol != module or facts.protocol_negated:
                    self.error(word, f"the {module} match (--{name}) needs `-p {module}`")
                    continue
                ranges = self.port_range(word)
            if ranges is None:
                continue
            if not negated and ranges == (PortRange(0, MAX_PORT),):
                continue  # a match on every port is a no-op iptables itself drops
            match = PortMatch(ranges, negated, word.location(self.path))
            if name == "ports":
                facts.either = match
            elif name.startswith("s"):
                facts.sport = match
            else:
                facts.dport = match

    def port_range(self, word: Word) -> tuple[PortRange, ...] | None:
        """``port``, ``a:b``, ``a:`` (to 65535), ``:b`` (from 0), ``:`` (every port)."""
        text = word.text
        lo, has_sep, hi = text.partition(":")
        try:
            start = port_number(lo, self.facts.protocol, self.resolve) if lo or not has_sep else 0
            end = (port_number(hi, self.facts.protocol, self.resolve) if hi else MAX_PORT) if has_sep else start
        except PortSyntaxError as exc:
            self.error(word, str(exc), exc.code)
            return None
        if start > end and self.facts.protocol in STRICT_RANGE_PROTOCOLS:
            self.error(word, f"invalid port range {text!r}: the first port is greater than the last", INVALID_PORT)
            return None
        return (PortRange(start, end),)

    def multiport(self, word: Word) -> tuple[PortRange, ...] | None:
        """A comma-separated list of ports and ``a:b`` ranges; at most 15, a range counting 2."""
        ranges: list[PortRange] = []
        used = 0
        for part in word.text.split(","):
            parsed = self.port_list(word, ":", part)
            if parsed is None:
                return None
            (r,) = parsed
            if ":" in part and r.start >= r.end:
                self.error(word, f"invalid port range {part!r} in multiport: the first port must be lower "
                                 "than the last", INVALID_PORT)
                return None
            ranges.append(r)
            used += 2 if ":" in part else 1
        if used > MULTIPORT_MAX:
            self.error(word, f"too many ports in {word.text!r}: multiport takes at most {MULTIPORT_MAX} "
                             "(a range counts as two)", INVALID_PORT)
            return None
        return tuple(ranges)


def read_rule(words: list[Word], path: str, resolve) -> tuple[RuleFacts, list[Diagnostic]]:
    """Read the options of one rule (the words after ``-A CHAIN``): its facts and the problems
    met."""
    reader = _Reader(words, path, resolve)
    return reader.read(), reader.diagnostics
