"""iptables-save / ip6tables-save dumps (``rules.v4``), as ``iptables-restore`` reads them."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, TypeVar

from ..hookspecs import hookimpl
from ..model import ChainPolicy, Diagnostic, Document, FirewallRule, Location, variant
from . import Parser
from .common import MAX_SYNTAX_ERRORS, PARSE_ERROR, Word, grammar, lark_error, reading_stops

if TYPE_CHECKING:
    from .iptables_options import RuleFacts

T = TypeVar("T")

#: Built-in chains of each table, and the chain type (as nftables names it) of the table.
BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
CHAIN_TYPES = {"filter": "filter", "nat": "nat", "mangle": "route", "raw": "raw", "security": "security"}
RULE_COMMANDS = {"-A": "append", "--append": "append", "-I": "insert", "--insert": "insert"}
OTHER_COMMANDS = {"-N": "new", "--new-chain": "new", "-P": "policy", "--policy": "policy",
                  "-D": "other", "--delete": "other", "-R": "other", "--replace": "other",
                  "-F": "other", "--flush": "other", "-X": "other", "--delete-chain": "other",
                  "-Z": "other", "--zero": "other", "-E": "other", "--rename-chain": "other"}
TERMINAL_NAMES = {
    "TABLE": "*table", "CHAIN": ":CHAIN POLICY", "COUNTERS": "[packets:bytes]", "COMMIT": "COMMIT",
    "COMMENT": "a # comment", "OPTION": "an option", "WORD": "a word", "STRING": "a quoted string",
    "BANG": "'!'", "_NL": "end of line", "$END": "end of file",
}
#: A chain declaration as iptables-save writes it: the chain's name, its policy and counters.
_PLAIN_CHAIN = re.compile(r":[^\s\"'\\]+ [^\s\"'\\]+ \[[0-9]+:[0-9]+\]\Z")
_SNIFF = re.compile(r"^(\*(filter|nat|mangle|raw|security)\s*$|:\S+ (ACCEPT|DROP|-) \[\d+:\d+\]|(\[\d+:\d+\] )?-A \S+)", re.M)
_IPV6_HINT = re.compile(r"ip6tables|icmpv6|ipv6-icmp|icmp6|(?:-[sd]|--to-destination) \[?[0-9a-fA-F]*:[0-9a-fA-F]*:")


def _unquote(text: str) -> str:
    if text[0] == "'" or "\\" not in text:
        return text[1:-1]
    return _ESCAPE.sub(r"\1", text[1:-1])


_ESCAPE = re.compile(r"\\(.)")


@lru_cache(maxsize=None)
def _parser():
    """The grammar's LALR parser, with a transformer that turns a tree into statements."""
    from lark import Transformer

    def words(tokens) -> list[Word]:
        return [Word(_unquote(t.value) if t.type == "STRING" else t.value, t.line, t.column, t.end_column, t.type)
                for t in tokens]

    class Statements(Transformer):
        """``(kind, words)`` per statement, built bottom-up by lark."""

        def start(self, items):
            return items

        line = start

        def comment(self, tokens):
            return ("comment", words(tokens))

        def table(self, tokens):
            return ("table", words(tokens))

        def chain(self, tokens):
            return ("chain", words(tokens))

        def rule(self, tokens):
            return ("rule", words(tokens))

        def commit(self, tokens):
            return ("commit", words(tokens))

    return grammar("iptables", start=("start", "line"), transformer=Statements())


# -- the fast path ----------------------------------------------------------------------------
# Most lines of a dump are plain rules. They are split here with the grammar's own terminals
# (``grammars/iptables.lark``): whitespace [ \t\f\r], "..." and '...' strings, and runs of other
# characters, classified as the grammar's contextual lexer classifies them. A line this cannot
# read exactly as the grammar would (anything unusual, every error) goes to the grammar itself;
# tests/parsers/test_iptables_fast_path.py proves both give the same statements on the corpus.
_WORD = r"""("(?:\\.|[^"\\\n])*"|'[^'\n]*'|[^\s"']+)"""
_TOKEN = re.compile(r"[ \t\f\r]+|" + _WORD)
_WORDS = re.compile(_WORD)
_COUNTERS = re.compile(r"\[[0-9]+:[0-9]+\]\Z")


def _spaced(text: str, column: int, tokens: list[tuple[str, int]]) -> None:
    """Add the words of ``text`` (printable, unquoted), which starts at ``column``."""
    for word in text.split(" "):
        if word:
            tokens.append((word, column))
        column += len(word) + 1


def _tokens(line: str) -> list[tuple[str, int]] | None:
    """The words of ``line`` with their columns, as the grammar's terminals split it; None when
    a character no terminal takes is met (an unterminated quote, a vertical tab, ...)."""
    if line.isprintable() and "'" not in line and "\\" not in line:
        # what iptables-save writes: words split by single spaces, at most one "quoted" comment
        quotes = line.count('"')
        if quotes == 0:
            tokens: list[tuple[str, int]] = []
            _spaced(line, 1, tokens)
            return tokens
        if quotes == 2:
            before, quoted, after = line.split('"')
            if (not before or before[-1] == " ") and (not after or after[0] == " "):
                tokens = []
                _spaced(before, 1, tokens)
                tokens.append(('"' + quoted + '"', len(before) + 1))
                _spaced(after, len(before) + len(quoted) + 3, tokens)
                return tokens
    if _TOKEN.sub("", line):
        return None
    return [(m.group(), m.start() + 1) for m in _WORDS.finditer(line)]


def _kind(text: str, first: bool) -> str:
    """The terminal the grammar's lexer makes of a word (BANG when followed by a blank)."""
    start = text[0]
    if start == "-":
        letter = text[1:2] if text[1:2] != "-" else text[2:3]
        return "OPTION" if letter.isalpha() and letter.isascii() else "WORD"  # --?[A-Za-z]
    if first and _COUNTERS.match(text):
        return "COUNTERS"
    if start in "\"'":
        return "STRING"
    return "BANG" if text == "!" else "WORD"


#: The kinds of the words most rules are made of, whatever their place.
_KINDS = {word: _kind(word, False) for word in (
    "-A", "-I", "-p", "-m", "-j", "-g", "-s", "-d", "-i", "-o", "tcp", "udp", "comment", "--comment", "--dport",
    "--sport", "--dports", "multiport", "ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "MARK", "--to-destination",
    "KUBE-MARK-MASQ", "statistic", "--mode", "random", "--probability", "conntrack", "--ctstate", "state", "--state")}


def _fast_statement(line: str, number: int) -> tuple[str, list[Word]] | None | bool:
    """The statement of ``line``, None for a blank line, False when the grammar must decide."""
    tokens = _tokens(line)
    if tokens is None:
        return False
    end = len(line)
    if not tokens:
        return None
    first, column = tokens[0]
    if first[0] in "*:" and (len(first) == 1 or '"' in line or "'" in line):
        return False  # the grammar's TABLE and CHAIN terminals take quotes in: let it decide
    if first[0] == "#":
        return ("comment", [Word(line[column - 1:], number, column, end + 1, "COMMENT")])
    if first[0] == "*":
        return ("table", [Word(first, number, column, column + len(first), "TABLE")]) if len(tokens) == 1 else False
    if first[0] == ":":
        if len(tokens) in (2, 3) and tokens[1][0][0] not in "\"'" and (len(tokens) == 2 or _COUNTERS.match(tokens[2][0])):
            kinds = ("CHAIN", "WORD", "COUNTERS")
            return ("chain", [Word(t, number, c, c + len(t), k) for (t, c), k in zip(tokens, kinds)])
        return False
    if first == "COMMIT":
        return ("commit", [Word(first, number, column, column + 6, "COMMIT")]) if len(tokens) == 1 else False
    words = []
    append = words.append
    for text, column in tokens:
        after = column + len(text)
        kind = _KINDS.get(text)
        if kind is None and words and text[0] not in "-\"'!":
            kind = "WORD"  # what _kind says of every other word but the first
        elif kind is None:
            kind = _kind(text, not words)
            if kind == "STRING":
                text = _unquote(text)
            elif kind == "BANG" and after <= end and line[after - 1] not in " \t\f\r":
                kind = "WORD"  # !"x" or !x: not the negation
        append(Word(text, number, column, after, kind))
    first_kind = words[0].kind
    if first_kind == "COUNTERS" and (len(words) < 2 or words[1].kind != "OPTION") or first_kind not in ("COUNTERS", "OPTION"):
        return False
    return ("rule", words)


def iter_statements(blocks: Iterable[str], path: str, errors: list[Diagnostic],
                    plain: Callable[[str, int], bool] | None = None) -> Iterator[tuple[str, list[Word]]]:
    """The statements of an iptables-save text one by one (a dump's words are never all held
    at once), adding a PL001 to ``errors`` for each line that is not one (up to
    MAX_SYNTAX_ERRORS: then a last ``stop`` statement ends them). The text comes a block at a
    time, each block but the last ending with a line break (a str is one block). ``plain(line,
    number)`` is offered each rule (``-A``) and chain (``:``) line first, and returns whether it
    took it."""
    bad_lines = 0
    lines = _lines((blocks,) if isinstance(blocks, str) else blocks)
    for number, line in enumerate(lines, start=1):
        if plain is not None and line.startswith(("-A ", ":")) and plain(line, number):
            continue
        statement = _fast_statement(line, number)
        if statement is False:
            grammar_found, grammar_errors = grammar_statements(line, path, number)
            yield from grammar_found
            errors.extend(grammar_errors)
            bad_lines += bool(grammar_errors)
            if bad_lines == MAX_SYNTAX_ERRORS and next(lines, None) is not None:
                errors.append(reading_stops(path, number + 1))
                yield "stop", [Word("", number + 1, 1, 1)]
                return
        elif statement is not None:
            yield statement


def _lines(blocks: Iterable[str]) -> Iterator[str]:
    """The lines of a text given in blocks that end with a line break (but the last), split at
    "\n" as ``str.split`` splits the whole: a text that ends with one ends with an empty line."""
    last = ""
    for block in blocks:
        lines = block.split("\n")
        last = lines.pop()
        yield from lines
    yield last


def statements(text: str, path: str) -> tuple[list[tuple[str, list[Word]]], list[Diagnostic]]:
    """Every statement of an iptables-save text, and a PL001 for each line that is not one
    (the other lines are still read)."""
    errors: list[Diagnostic] = []
    return list(iter_statements(text, path, errors)), errors


def grammar_statements(text: str, path: str, first_line: int = 1) -> tuple[list[tuple[str, list[Word]]], list[Diagnostic]]:
    """The statements of ``text`` as the grammar reads it, line by line (lines numbered from
    ``first_line``), and a PL001 for each line that is not a statement."""
    from lark.exceptions import LarkError

    parser = _parser()
    found, errors = [], []
    for number, line in enumerate(text.split("\n"), start=first_line):
        try:
            items = parser.parse(line, start="line")
        except LarkError as exc:
            errors.append(lark_error(exc, path, TERMINAL_NAMES, number - 1))
            continue
        for kind, words in items:
            found.append((kind, [Word(w.text, number, w.column, w.end_column, w.kind) for w in words]))
    return found, errors


@dataclass
class Table:
    """One table of one family, with its chains and the rules appended to them so far (a rule
    read through its shape is already its model)."""

    family: str
    name: str
    word: Word  # where the table was opened (or first used)
    chains: dict[str, ChainPolicy] = field(default_factory=dict)
    rules: list[PendingRule | FirewallRule] = field(default_factory=list)


@dataclass(slots=True)
class PendingRule:
    """A rule whose target can be told from a chain name only once the table is complete."""

    location: Location  # of its command (-A)
    chain: str
    facts: RuleFacts
    origin: str | None = None  # see FirewallRule.origin


class Ruleset:
    """Applies iptables commands (``-A``, ``-I``, ``-N``, ``-P``, ...) to tables, as iptables
    does, and turns each complete table into the model.

    Shared by every source of iptables commands: iptables-save files and the shell scripts that
    call iptables. ``create_chains`` says what a rule in an unknown chain means: an error in a
    dump, which declares every chain; a chain made elsewhere in a script (``DOCKER-USER``).
    """

    def __init__(self, document: Document, resolve, create_chains: bool = False) -> None:
        # the option tables: imported only for runs with iptables
        from .iptables_options import read_rule
        from .iptables_shapes import ShapeReader

        self.read_rule = read_rule
        self.doc = document
        self.resolve = resolve
        self.create_chains = create_chains
        #: One copy of each repeated value (kube-proxy writes each comment and address on
        #: several rules): a 200k-rule dump holds some 100k fewer strings. Not a method: the
        #: shape reader holding one would make a cycle, which would keep the values after the
        #: parse until a collection, which runs rarely (see portlint.cycles). Chain names are
        #: shared through their declarations instead (see chain_name).
        values: dict = {}
        self._share: Callable[[T], T] = lambda value: values.setdefault(value, value)
        self.shapes = ShapeReader(document.path, resolve, self._share)
        self._user_chains: dict[tuple[str, str], type[ChainPolicy]] = {}  # by table

    def error(self, word: Word, message: str) -> None:
        self.doc.diagnostics.append(Diagnostic(PARSE_ERROR, message, word.location(self.doc.path)))

    def apply(self, table: Table, words: list[Word], origin: str | None = None) -> PendingRule | None:
        """Apply one command (its words from the command option on); the rule it adds, if any."""
        command = words[0]
        if command.text in OTHER_COMMANDS:
            self.other_command(table, OTHER_COMMANDS[command.text], words[1:])
            return None
        if command.text not in RULE_COMMANDS:
            self.error(command, f"unexpected {command.text!r}: a rule starts with -A CHAIN or -I CHAIN")
            return None
        if len(words) < 2 or words[1].kind not in ("WORD", "STRING"):
            self.error(command, f"{command.text} needs a chain name")
            return None
        chain, args = chain_name(table, words[1].text), words[2:]
        if RULE_COMMANDS[command.text] == "insert" and args and args[0].text.isdigit():
            args = args[1:]
        if chain not in table.chains:
            if chain in BUILTIN_CHAINS.get(table.name, ()) or self.create_chains:
                # a built-in one's policy is the kernel's
                self.declare(table, chain, words[1].location(self.doc.path), None)
            else:
                self.error(words[1], f"chain {chain} does not exist in table {table.name}: declare it with :{chain} - [0:0]")
        facts, diagnostics = self.read_rule(args, self.doc.path, self.resolve)
        self.doc.diagnostics.extend(diagnostics)
        share = self._share
        facts.saddr, facts.daddr = share(facts.saddr), share(facts.daddr)
        facts.comment, facts.unmodeled = share(facts.comment), share(facts.unmodeled)
        rule = PendingRule(Location(self.doc.path, command.line, command.column), chain, facts, origin)
        table.rules.append(rule)
        return rule

    def apply_line(self, table: Table, line: str, number: int) -> bool:
        """Add the plain rule ``line`` through its shape; False when it must be read word by
        word (see ShapeReader.rule)."""
        rule = self.shapes.rule(line, number, table)
        if rule is None:
            return False
        table.rules.append(rule)
        return True

    def other_command(self, table: Table, command: str, args: list[Word]) -> None:
        if command == "new" and args:
            self.declare(table, args[0].text, args[0].location(self.doc.path), None)
        elif command == "policy" and len(args) >= 2:
            self.declare(table, args[0].text, args[0].location(self.doc.path), args[1].text.lower())

    def declare(self, table: Table, name: str, location: Location, policy: str | None) -> None:
        builtin = name in BUILTIN_CHAINS.get(table.name, ())
        table.chains[name] = ChainPolicy(
            location=location, format="iptables", family=table.family,
            table=table.name, chain=name, hook=name.lower() if builtin else None,
            type=CHAIN_TYPES.get(table.name) if builtin else None, policy=policy,
        )

    def declare_user_chain(self, table: Table, name: str, line: int) -> None:
        """Declare the user chain ``name`` of line ``line``, written ``:NAME - [0:0]`` as
        iptables-save writes it: kube-proxy's dumps declare one for every three rules, so each
        holds only its name and its line (see model.variant)."""
        kind = self._user_chains.get((table.family, table.name))
        if kind is None:
            shared = {"format": "iptables", "family": table.family, "table": table.name,
                      "hook": None, "type": None, "policy": None}
            kind = self._user_chains[table.family, table.name] = variant(
                ChainPolicy, shared, ("_base", "_offset", "chain"),
                {"location": partial(_declared_at, self.doc.path)})
        table.chains[name] = kind(*self.shapes.lines.split(line), name)

    def emit(self, table: Table) -> None:
        """The table is complete: every chain is known, so each target is a verdict, a jump or
        an extension."""
        chains = set(table.chains)
        self.doc.policies.extend(table.chains.values())
        pending, table.rules = table.rules, []
        pending.reverse()
        while pending:  # each pending rule is dropped as its model is made: never both for a whole table
            rule = pending.pop()
            if isinstance(rule, PendingRule):
                rule = model_rule(rule.location, table.family, table.name, rule.chain, rule.facts,
                                  rule.facts.action(chains), rule.origin)
            self.doc.declarations.append(rule)


def chain_name(table: Table, name: str) -> str:
    """``name``, as the table's declaration of the chain holds it when there is one: a 100 MB
    dump names 228k chains about three times each."""
    declared = table.chains.get(name)
    return declared.chain if declared is not None else name


def _declared_at(path: str, chain: ChainPolicy) -> Location:
    line = chain._base + chain._offset
    return Location(path, line, 1, line, len(chain.chain) + 2)  # ":NAME"


def model_rule(location: Location, family: str, table: str, chain: str, facts: RuleFacts, action: str | None,
               origin: str | None = None) -> FirewallRule:
    """The model of a rule: what its options say, placed in its table and chain."""
    return FirewallRule(
        location=location, format="iptables", family=family, table=table, chain=chain,
        protocol=facts.protocol, protocol_negated=facts.protocol_negated,
        dport=facts.dport, sport=facts.sport, either=facts.either,
        saddr=facts.saddr, daddr=facts.daddr, iif=facts.iif, oif=facts.oif,
        states=facts.states, action=action, target=facts.target,
        to_address=facts.to_address, to_ports=facts.to_ports, comment=facts.comment,
        rate_limit=facts.rate_limit, unmodeled=facts.unmodeled,
        target_options=facts.target_options, origin=origin,
    )


class SaveReader:
    """Reads iptables-save statements in order, as iptables-restore does."""

    def __init__(self, ruleset: Ruleset, family: str) -> None:
        self.ruleset = ruleset
        self.family = family
        self.table: Table | None = None

    def error(self, word: Word, message: str) -> None:
        self.ruleset.error(word, message)

    def feed(self, kind: str, words: list[Word]) -> None:
        getattr(self, "on_" + kind)(words)

    def on_comment(self, words: list[Word]) -> None:
        pass

    def on_stop(self, words: list[Word]) -> None:
        """Reading stopped (too many syntax errors): the open table holds what was read, and
        whether it would have been committed is not known."""
        if self.table is not None:
            self.uncommitted()

    def on_table(self, words: list[Word]) -> None:
        word = words[0]
        name = word.text[1:]
        if self.table is not None:
            self.error(word, f"COMMIT expected before {word.text}: table {self.table.name} is still open")
            self.uncommitted()
        if name not in BUILTIN_CHAINS:
            self.error(word, f"unknown table {name!r}: expected one of {', '.join(BUILTIN_CHAINS)}")
        self.table = self.open_table(name, word)

    def open_table(self, name: str, word: Word) -> Table:
        return Table(self.family, name, word)

    def on_commit(self, words: list[Word]) -> None:
        if self.table is None:
            self.error(words[0], "COMMIT without a table: start the table with a line such as *filter")
            return
        table, self.table = self.table, None
        self.commit(table)

    def commit(self, table: Table) -> None:
        self.ruleset.emit(table)

    def on_chain(self, words: list[Word]) -> None:
        table = self.current_table(words[0])
        if table is None:
            return
        name, policy = words[0].text[1:], words[1].text
        builtin = name in BUILTIN_CHAINS.get(table.name, ())
        if not builtin and policy != "-":
            self.error(words[1], f"chain {name} is not a built-in chain of table {table.name}: its policy must be '-'")
        if builtin and policy not in ("ACCEPT", "DROP"):
            self.error(words[1], f"invalid policy {policy!r} for built-in chain {name}: expected ACCEPT or DROP")
        self.ruleset.declare(table, name, words[0].location(self.ruleset.doc.path), policy.lower() if builtin else None)

    def on_rule(self, words: list[Word]) -> None:
        if words[0].kind == "COUNTERS":
            words = words[1:]
        table = self.current_table(words[0])
        if table is not None:
            self.apply(table, words)

    def apply(self, table: Table, words: list[Word]) -> None:
        self.ruleset.apply(table, words)

    def plain(self, line: str, number: int) -> bool:
        """Read a line as iptables-save writes it (a rule through its shape, a chain declared
        without counters' words or checks that cannot fail); False leaves it to the statements."""
        table = self.table
        if table is None:
            return False
        if line[0] == "-":
            return self.ruleset.apply_line(table, line, number)
        if not _PLAIN_CHAIN.match(line):
            return False
        first, policy, _ = line.split(" ")
        name = first[1:]
        builtin = name in BUILTIN_CHAINS.get(table.name, ())
        if policy not in (("ACCEPT", "DROP") if builtin else ("-",)):
            return False  # an error, which the statement reader reports
        if builtin:
            location = Location(self.ruleset.doc.path, number, 1, number, len(first) + 1)
            self.ruleset.declare(table, name, location, policy.lower())
        else:
            self.ruleset.declare_user_chain(table, name, number)
        return True

    def current_table(self, word: Word) -> Table | None:
        if self.table is None:
            self.error(word, "statement outside a table: start the table with a line such as *filter")
        return self.table

    def finish(self, last_line: int) -> None:
        if self.table is not None:
            word = Word("", last_line, 1, 1)
            self.error(word, f"COMMIT expected: table {self.table.name} (opened at line {self.table.word.line}) is never committed")
            self.uncommitted()

    def uncommitted(self) -> None:
        """A table that is never committed: a dump is still linted as far as it goes."""
        table, self.table = self.table, None
        self.commit(table)


class IptablesParser(Parser):
    name = "iptables"
    description = "iptables-save / ip6tables-save dumps (iptables-restore input)"
    patterns = ("rules.v4", "rules.v6", "*.iptables", "*.ip6tables", "iptables-save*", "ip6tables-save*",
                "iptables.rules", "ip6tables.rules", "iptables.dump", "ip6tables.dump")

    def sniff(self, head: str) -> bool:
        for line in head.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            return bool(_SNIFF.match(line))
        return False

    #: A big dump is read a block at a time (see portlint.source_text): never held whole.
    reads_blocks = True

    def parse(self, text: str, path: str) -> Document:
        from ..catalog import load

        document = Document(path, self.name, text)
        blocks = iter((text,) if isinstance(text, str) else text.blocks())
        head: list[str] = []  # the blocks the family is told from
        while sum(map(len, head)) < _FAMILY_HINTS:
            head.append(next(blocks, ""))
            if not head[-1]:
                break
        line_breaks = 0

        def counted() -> Iterator[str]:
            nonlocal line_breaks
            for block in itertools.chain(head, blocks):
                line_breaks += block.count("\n")
                yield block

        reading = counted()
        reader = SaveReader(Ruleset(document, load().resolve), self.family("".join(head), path))
        for kind, words in iter_statements(reading, path, document.diagnostics, reader.plain):
            reader.feed(kind, words)
        for _ in reading:
            pass  # what follows where reading stopped is still held, for its directives
        reader.finish(max(line_breaks, 1))
        return document

    @staticmethod
    def family(text: str, path: str) -> str:
        """ip6 for ip6tables-save output: by its header, its name, or IPv6 addresses and ICMPv6."""
        name = path.rsplit("/", 1)[-1].lower()
        if "ip6" in name or name.endswith(".v6") or _IPV6_HINT.search(text[:_FAMILY_HINTS]):
            return "ip6"
        return "ip"


#: The family of a dump is told from its first characters.
_FAMILY_HINTS = 65536


@hookimpl
def portlint_register_parsers():
    return [IptablesParser()]
