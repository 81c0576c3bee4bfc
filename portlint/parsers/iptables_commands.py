"""What the iptables commands a shell script runs do to its tables.

``iptables`` / ``ip6tables`` command lines (``-t``, ``-A``, ``-I``, ``-N``, ``-P``, ``-C``, ``-D``,
``-F``, ``-X``, ``-L``) and ``iptables-restore`` input are applied, as iptables would apply them
on a machine with empty tables, to the same :class:`~.iptables.Ruleset` that reads iptables-save
files; the rule options are read by :mod:`.iptables_options`.
"""
from __future__ import annotations

import re

from ..model import Diagnostic, Document, Location
from .common import UNRESOLVED_VARIABLE, Word
from .iptables import BUILTIN_CHAINS, PendingRule, Ruleset, SaveReader, Table, statements
from .shell_eval import Branches, Command, exclusive
from .shell_values import Field, HereDocument, Span, describe

#: iptables, ip6tables and their -legacy / -nft builds, and their -restore commands.
_PROGRAM = re.compile(r"ip(?P<six>6)?tables(?:-legacy|-nft)?(?P<restore>-restore)?")
COMMANDS = {
    "-A": "append", "--append": "append", "-I": "insert", "--insert": "insert", "-N": "new",
    "--new-chain": "new", "--new": "new", "-P": "policy", "--policy": "policy", "-C": "check",
    "--check": "check", "-D": "delete", "--delete": "delete", "-F": "flush", "--flush": "flush",
    "-X": "delete-chain", "--delete-chain": "delete-chain", "-L": "list", "--list": "list",
    "-S": "list", "--list-rules": "list", "-Z": "other", "--zero": "other", "-E": "other",
    "--rename-chain": "other", "-R": "other", "--replace": "other",
}
#: Options of the command line itself, not of the rule: flags, and options with an argument.
GLOBAL_FLAGS = frozenset({"-v", "--verbose", "-n", "--numeric", "-x", "--exact", "--line-numbers",
                          "-4", "--ipv4", "-6", "--ipv6"})
GLOBAL_WITH_ARGUMENT = frozenset({"-W", "--wait-interval", "-M", "--modprobe"})
WAIT = frozenset({"-w", "--wait"})
#: Options whose value never changes which ports a rule opens: an unknown value there is kept as
#: written (``-s $ADMIN_NET``) rather than losing the rule.
OPAQUE_OPTIONS = frozenset({"-s", "--source", "--src", "-d", "--destination", "--dst", "-i",
                            "--in-interface", "-o", "--out-interface", "--comment", "--log-prefix",
                            "--mac-source", "--to-source", "--set-mark", "--uid-owner", "--gid-owner",
                            "--src-range", "--dst-range", "--match-set", "--name"})
#: Options whose values make a rule's ports: the origin of a rule names where they came from.
PORT_OPTIONS = frozenset({"-p", "--protocol", "--dport", "--sport", "--destination-port", "--source-port",
                          "--dports", "--sports", "--destination-ports", "--source-ports", "--ports",
                          "--to-destination", "--to-ports", "--on-port"})
RESTORE_FLAGS = frozenset({"-n", "--noflush", "-c", "--counters", "-v", "--verbose", "-w", "--wait"})


class Firewall:
    """The tables a script's iptables commands build, as on a machine whose tables are empty."""

    def __init__(self, document: Document, resolve) -> None:
        self.doc = document
        self.ruleset = Ruleset(document, resolve, create_chains=True)
        self.tables: dict[tuple[str, str], Table] = {}
        #: The rules added so far by their words (and the branches that added them), for -C
        #: (does it exist?), -D, and rules that exclusive branches both add.
        self.added: dict[tuple, list[tuple[PendingRule, Branches]]] = {}
        self.policies: set[tuple[str, str, str]] = set()  # chains a -P has set

    def __call__(self, command: Command) -> bool | None:
        program = command.fields[0]
        if program.unknown:
            if any(f.text in COMMANDS for f in command.fields[1:]):
                self.unresolved(program.span, program.source, program.unknown,
                                "portlint cannot tell which command runs here")
            return None
        match = _PROGRAM.fullmatch(program.text.rsplit("/", 1)[-1])
        if match is None:
            return None
        family = "ip6" if match["six"] else "ip"
        return self.restore(command, family) if match["restore"] else self.iptables(command, family)

    def finish(self) -> None:
        for table in self.tables.values():
            self.ruleset.emit(table)

    def table(self, family: str, name: str, word: Word) -> Table:
        key = (family, name)
        if key not in self.tables:
            self.tables[key] = Table(family, name, word)
        return self.tables[key]

    def unresolved(self, span: Span, source: str, reason: str, what: str) -> None:
        """PL005: ``source`` (as written at ``span``) depends on ``reason``; ``what`` is lost."""
        self.doc.diagnostics.append(Diagnostic(
            UNRESOLVED_VARIABLE, f"{source} cannot be resolved statically: it depends on {reason}; {what}",
            Location(self.doc.path, span.line, span.column, span.line, span.end_column)))

    # -- iptables ----------------------------------------------------------------------------------

    def iptables(self, command: Command, family: str) -> bool | None:
        fields = command.fields[1:]
        for number, found in enumerate(fields):
            if found.unknown and not (number and fields[number - 1].text in OPAQUE_OPTIONS):
                self.unresolved(found.span, found.source, found.unknown, "this iptables command is skipped")
                return None
        words = [_word(f) for f in fields]
        table_name, table_word, words = _global_options(words)
        position = next((n for n, w in enumerate(words) if w.text in COMMANDS), None)
        if position is None:
            return None  # --version, --help, ...
        action, args = words[position], words[position + 1:]
        kind = COMMANDS[action.text]
        if table_name not in BUILTIN_CHAINS:
            self.ruleset.error(table_word, f"unknown table {table_name!r}: expected one of {', '.join(BUILTIN_CHAINS)}")
            return False
        table = self.table(family, table_name, action)
        chain = args[0] if args and args[0].kind != "OPTION" else None
        if kind in ("append", "insert", "check", "delete"):
            return self.rule_command(command, table, kind, action, chain, words[:position], args[1:])
        if kind == "new":
            if chain is None or chain.text in table.chains:
                return False
            self.ruleset.apply(table, [action, chain])
            return True
        if kind == "policy":
            return self.policy(command, table, action, args)
        if kind == "flush":
            if command.certain:
                self.flush(table, chain.text if chain else None)
            return True
        if kind == "delete-chain":
            return self.delete_chain(command, table, chain.text if chain else None)
        if kind == "list":
            return chain is None or chain.text in table.chains or chain.text in BUILTIN_CHAINS[table.name]
        return True

    def rule_command(self, command: Command, table: Table, kind: str, action: Word, chain: Word | None,
                     before: list[Word], after: list[Word]) -> bool | None:
        """-A, -I, -C and -D: the rule is the options before the command and after its chain
        (and rule number), in their order."""
        if chain is None:
            self.ruleset.error(action, f"{action.text} needs a chain name")
            return False
        number = after[0] if kind in ("insert", "delete") and after and after[0].text.isdigit() else None
        spec = before + (after[1:] if number is not None else after)
        key = (table.family, table.name, chain.text, tuple(w.text for w in spec))
        if kind == "check":
            return bool(self.added.get(key))
        if kind == "delete":
            if number is not None:
                return None
            present = bool(self.added.get(key))
            if present and command.certain:
                table.rules.remove(self.added[key].pop(0)[0])
            return present
        if any(exclusive(branches, command.branches) for _, branches in self.added.get(key, ())):
            return True  # another alternative of a branch (an init script's restart) adds it: one rule
        before = len(self.doc.diagnostics)
        origin = _origin(command.fields)
        rule = self.ruleset.apply(table, [action, chain] + ([number] if number else []) + spec, origin)
        if origin:
            self.doc.diagnostics[before:] = [Diagnostic(d.code, f"{d.message} ({origin})", d.location)
                                             for d in self.doc.diagnostics[before:]]
        if rule is not None:
            self.added.setdefault(key, []).append((rule, command.branches))
        return True

    def policy(self, command: Command, table: Table, action: Word, args: list[Word]) -> bool:
        if len(args) < 2:
            self.ruleset.error(action, "-P needs a chain and a policy (ACCEPT or DROP)")
            return False
        chain, policy = args[0], args[1]
        if chain.text not in BUILTIN_CHAINS[table.name]:
            self.ruleset.error(chain, f"-P applies to built-in chains only; {chain.text} is not one of table {table.name}")
            return False
        if policy.text not in ("ACCEPT", "DROP"):
            self.ruleset.error(policy, f"invalid policy {policy.text!r}: expected ACCEPT or DROP")
            return False
        key = (table.family, table.name, chain.text)
        if command.certain or key not in self.policies:  # a branch that may run overrides nothing
            self.ruleset.apply(table, [action, chain, policy])
            self.policies.add(key)
        return True

    def flush(self, table: Table, chain: str | None) -> None:
        table.rules = [r for r in table.rules if chain is not None and r.chain != chain]
        for key, rules in self.added.items():
            if key[:2] == (table.family, table.name) and (chain is None or key[2] == chain):
                rules.clear()

    def delete_chain(self, command: Command, table: Table, chain: str | None) -> bool:
        used = {r.chain for r in table.rules}
        names = [chain] if chain is not None else [n for n, p in table.chains.items() if p.hook is None]
        if any(n not in table.chains or table.chains[n].hook is not None or n in used for n in names):
            return chain is None
        if command.certain:
            for name in names:
                del table.chains[name]
        return True

    # -- iptables-restore --------------------------------------------------------------------------

    def restore(self, command: Command, family: str) -> bool | None:
        noflush, only = False, None
        args = [f.text for f in command.fields[1:]]
        while args:
            option = args.pop(0)
            if option in ("-t", "--test"):
                return True  # checks the input, applies nothing
            if option in ("-T", "--table") and args:
                only = args.pop(0)
            elif option in ("-W", "--wait-interval", "-M", "--modprobe") and args:
                args.pop(0)
            elif option in RESTORE_FLAGS:
                noflush = noflush or option in ("-n", "--noflush")
            elif not option.startswith("-"):
                return None  # reads a file portlint does not follow
        if command.stdin is None or not command.stdin.segments:
            return None
        reader = _RestoreReader(self, family, command, noflush, only)
        document = command.stdin
        found, errors = statements(document.text, self.doc.path)
        for error in errors:
            loc = error.location
            span = document.span(loc.line, loc.column, loc.end_column or loc.column + 1)
            self.doc.diagnostics.append(Diagnostic(error.code, error.message, Location(
                self.doc.path, span.line, span.column, span.line, span.end_column)))
        for kind, words in found:
            unknown = self.unknown_segment(document, words)
            if unknown is not None:
                segment_span, reason = unknown
                source = self.doc.line_text(segment_span.line)[segment_span.column - 1:segment_span.end_column - 1]
                self.unresolved(segment_span, source, reason, "this line of the here-document is skipped")
                continue
            reader.origin = describe([o for s in self.segments(document, words) for o in s.origins])
            reader.feed(kind, [_mapped(document, w) for w in words])
        last = document.text.count("\n") or 1
        reader.finish(document.span(last, 1, 2).line)
        return True

    @staticmethod
    def segments(document: HereDocument, words: list[Word]):
        if not words:
            return []
        start = document.offset(words[0].line, words[0].column)
        end = document.offset(words[-1].line, words[-1].end_column)
        return document.between(start, end)

    def unknown_segment(self, document: HereDocument, words: list[Word]) -> tuple[Span, str] | None:
        for segment in self.segments(document, words):
            if segment.unknown:
                return segment.span, segment.unknown
        return None


class _RestoreReader(SaveReader):
    """iptables-save text fed to iptables-restore by a script: each table is applied at its
    COMMIT (replacing the table unless ``--noflush``), none when the input is cut short."""

    def __init__(self, firewall: Firewall, family: str, command: Command, noflush: bool, only: str | None) -> None:
        super().__init__(firewall.ruleset, family)
        self.firewall = firewall
        self.command = command
        self.noflush = noflush
        self.only = only
        self.origin: str | None = None
        self.keys: list[tuple[tuple, PendingRule]] = []
        self.declared: set[str] = set()  # chains of the table written as :CHAIN POLICY

    def on_chain(self, words: list[Word]) -> None:
        super().on_chain(words)
        self.declared.add(words[0].text[1:])

    def apply(self, table: Table, words: list[Word]) -> None:
        rule = self.ruleset.apply(table, words, self.origin)
        if rule is not None:
            spec = words[3:] if words[0].text in ("-I", "--insert") and words[2:3] and words[2].text.isdigit() else words[2:]
            self.keys.append(((table.family, table.name, rule.chain, tuple(w.text for w in spec)), rule))

    def commit(self, table: Table) -> None:
        keys, self.keys = self.keys, []
        declared, self.declared = self.declared, set()
        if self.only is not None and table.name != self.only:
            return
        firewall = self.firewall
        target = firewall.table(table.family, table.name, table.word)
        if not self.noflush and self.command.certain:
            firewall.flush(target, None)
            target.chains = {n: p for n, p in target.chains.items() if p.hook is not None}
        for name, policy in table.chains.items():
            key = (table.family, table.name, name)
            if name not in target.chains or name in declared and (
                    policy.hook is None or self.command.certain or key not in firewall.policies):
                target.chains[name] = policy
            if name in declared and policy.hook is not None:
                firewall.policies.add(key)
        branches = self.command.branches
        for key, rule in keys:
            if not any(exclusive(earlier, branches) for _, earlier in firewall.added.get(key, ())):
                target.rules.append(rule)
                firewall.added.setdefault(key, []).append((rule, branches))

    def uncommitted(self) -> None:
        self.table, self.keys, self.declared = None, [], set()


def _word(found: Field) -> Word:
    """An argument as the iptables option reader takes it (a word's kind is its shape)."""
    text = found.text
    kind = "OPTION" if re.match(r"--?[A-Za-z]", text) else "BANG" if text == "!" else "WORD"
    span = found.span
    return Word(text, span.line, span.column, span.end_column, kind)


def _mapped(document: HereDocument, word: Word) -> Word:
    span = document.span(word.line, word.column, word.end_column)
    return Word(word.text, span.line, span.column, span.end_column, word.kind)


def _global_options(words: list[Word]) -> tuple[str, Word | None, list[Word]]:
    """The table (``-t nat`` anywhere, ``filter`` by default), and the words without the
    options of the command line itself (``-w 5``, ``-v``, ...)."""
    table, table_word, rest = "filter", None, []
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if word.text in ("-t", "--table") and position < len(words):
            table_word = words[position]
            table = table_word.text
            position += 1
        elif word.text.startswith("--table="):
            table, table_word = word.text.partition("=")[2], word
        elif word.text in GLOBAL_WITH_ARGUMENT:
            position += 1
        elif word.text in WAIT:
            if position < len(words) and re.fullmatch(r"[0-9.]+", words[position].text):
                position += 1
        elif word.text not in GLOBAL_FLAGS:
            rest.append(word)
    return table, table_word, rest


def _origin(fields: list[Field]) -> str | None:
    """Where the values of a rule's protocol and ports came from; when none of them came from a
    loop or a call, where any of its values did (a loop over interfaces)."""
    ports = [f for number, f in enumerate(fields) if number and fields[number - 1].text in PORT_OPTIONS]
    return describe([o for f in ports for o in f.origins]) or describe([o for f in fields for o in f.origins])
