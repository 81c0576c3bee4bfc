"""nftables rulesets (``nft -f`` files, ``nft list ruleset`` output), read as nft reads them.

The file is parsed once (``grammars/nftables.lark``, :mod:`.nftables_syntax`), and its
statements are run in order soon after the parser has read them (:class:`_Reading`), against a
model of the ruleset, as nft runs them: tables, chains and sets are created, flushed and
deleted, variables are defined and bound, included files are read where they are included. A
rule becomes :class:`~portlint.model.FirewallRule` declarations as soon as it is run, unless it
names a set or map: elements may be added to those later, so such a rule waits until everything
is read and the ports and verdicts they hold are resolved. Every declared chain becomes a
:class:`~portlint.model.ChainPolicy`.

A port match becomes one declaration per element (so a finding points at the element), except a
negated one (``!= { 22, 80 }``), which is one match of all its ports; each element of a verdict
map or of a map a translation looks up is its own declaration with its own verdict or target.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from ..model import (Action, ChainPolicy, Diagnostic, Document, FirewallRule, Location, SparseRecords,
                     packed_position, unpacked_location)
from ..model import PortMatch as ModelPortMatch
from .common import PARSE_ERROR, one_of
from .nftables_elements import PackedElements
from .nftables_includes import IncludeError, IncludeResolver
from .nftables_rules import Outcome, PortClause, RuleFacts, RuleReader
from .nftables_syntax import (
    BlockHead,
    Command,
    Concat,
    Define,
    Element,
    Elements,
    Hook,
    Include,
    Mapping,
    ObjectSpec,
    PlainSet,
    Policy,
    Rule,
    SetDef,
    SetLiteral,
    TableSpec,
    Undefine,
    parse,
    span_of,
    token_span,
)
from .nftables_values import UNRESOLVED_VARIABLE, Bound, Piece, PortReader, Scope, location, unwrap, word

INCLUDE_ERROR = "PL006"
#: Declarations the rules of a file may make one per element and verdict beyond one per byte of
#: the files read (see _Ruleset.declarations).
EXPANSION_SLACK = 10_000
CHAIN_TYPES = frozenset({"filter", "nat", "route"})
#: Families whose tables see IPv4 and IPv6 packets alike.
MIXED_FAMILIES = frozenset({"inet", "bridge", "netdev"})
HOOKS = frozenset({"prerouting", "input", "forward", "output", "postrouting", "ingress", "egress"})


@dataclass(slots=True)
class _Chain:
    name: str
    #: Its declaration as first made, where the chain is declared; None while only rules name
    #: it. Its hook, type and policy are set once the whole file is read.
    declared: ChainPolicy | None = None
    hook: str | None = None
    type: str | None = None
    policy: str | None = None
    #: Its rules are those of the ruleset's list from this index on: flushing the chain moves
    #: it to the end of the list (no list of its rules is kept: 96 bytes a chain).
    since: int = 0


@dataclass(slots=True)
class _Set:
    name: str
    #: (key, value, file) of each element; key and value have their variables bound. A big set
    #: of plain elements is one entry, its PlainSet, read only when a rule asks for its ports.
    elements: PackedElements = field(default_factory=PackedElements)


@dataclass(slots=True)
class _Table:
    family: str
    name: str
    key: tuple[str, str]  # (family, name), one tuple for all the rules of the table
    chains: dict[str, _Chain] = field(default_factory=dict)
    sets: dict[str, _Set] = field(default_factory=dict)
    #: What makes its declarations of each kind, per file they are written in.
    makers: dict[tuple[type, str], SparseRecords] = field(default_factory=dict)

    def make(self, kind: type, where: Location, **values):
        """A declaration of ``kind`` located at ``where``, storing only the fields it sets and
        its location packed in one int (40 bytes a declaration, where a Location took 108)."""
        maker = self.makers.get((kind, where.path))
        if maker is None:
            maker = self.makers[kind, where.path] = SparseRecords(
                kind, derived={"location": partial(unpacked_location, where.path)},
                format="nftables", family=self.family, table=self.name)
        position = packed_position(where)
        if position is None:
            return maker(location=where, **values)
        return maker(_position=position, **values)


@dataclass(slots=True)
class _Rule:
    """A rule waiting for the end of the file: it names a set or map that may get elements."""

    facts: RuleFacts
    table: tuple[str, str]  # (family, name): the table holds the rule's chain, which holds the rule
    chain: str


@dataclass
class _Block:
    """Where a statement is: the table, chain or set block it is written in."""

    table: _Table | None = None
    chain: _Chain | None = None
    set: _Set | None = None
    body: str = "start"  # the grammar's start symbol for a file included here
    policy_set: bool = False  # a chain block has set its chain's policy


class _Reading:
    """The sink of one file's parse (see nftables_syntax.parse): runs each statement in the
    block the parser is in, soon after it is read, so the parse of a whole ruleset is never held.

    What the parser hands over is run a batch of ``BATCH`` at a time: parsing and running in
    turns of one statement each took 10% more time (kube-proxy's ruleset), the two working sets
    evicting each other from the processor's caches."""

    BATCH = 1024

    def __init__(self, ruleset: _Ruleset, path: str, block: _Block) -> None:
        self.ruleset = ruleset
        self.path = path
        #: The open blocks, innermost last, each with the head that opened it. An included file
        #: starts in a copy of its block: a chain's policy may be set again there.
        self.blocks: list[tuple[BlockHead | None, _Block]] = [(None, replace(block, policy_set=False))]
        self.pending: list[tuple[Callable, Any]] = []  # (what to run, its argument) in the order read

    def open(self, head: BlockHead) -> None:
        self._later(self._open, head)

    def close(self, head: BlockHead) -> None:
        self._later(self._close, head)

    def statement(self, item) -> None:
        self._later(self._statement, item)

    def _later(self, run: Callable, argument) -> None:
        self.pending.append((run, argument))
        if len(self.pending) >= self.BATCH:
            self._run_pending()

    def _run_pending(self) -> None:
        pending, self.pending = self.pending, []
        for run, argument in pending:
            run(argument)

    def _open(self, head: BlockHead) -> None:
        ruleset, spec, outer = self.ruleset, head.spec, self.blocks[-1][1]
        if isinstance(spec, TableSpec):
            block = _Block(ruleset.table(spec.family, spec.name), body="table_body")
        elif isinstance(spec, ObjectSpec):  # add chain ip t c { ... }
            table = ruleset.table(spec.family, spec.table)
            block = _Block(table, ruleset.chain(table, spec.name, location(self.path, spec.name_span)),
                           body="chain_body")
        else:  # chain c { ... } in a table block
            table = outer.table
            chain = ruleset.chain(table, spec, location(self.path, head.span)) if table else None
            block = _Block(table, chain, body="chain_body")
        ruleset.scope.push()
        self.blocks.append((head, block))

    def _close(self, head: BlockHead) -> None:
        if any(opened is head for opened, _ in self.blocks):
            while self.blocks.pop()[0] is not head:
                self.ruleset.scope.pop()
            self.ruleset.scope.pop()

    def _statement(self, item) -> None:
        self.ruleset.run(item, self.path, self.blocks[-1][1])

    def finish(self, items: list) -> None:
        """Run what the parse returned (the statements of a set body an included file is
        read as) and close the blocks an unrecoverable syntax error left open."""
        self._run_pending()
        self.ruleset.walk(items, self.path, self.blocks[0][1])
        while len(self.blocks) > 1:
            self._close(self.blocks[-1][0])


class _Ruleset:
    """Runs a file's statements against a model of the ruleset, as nft does.

    Nothing in the model refers back to what holds it (a rule names its table; the readers
    report through functions of the document and the texts), so the whole model is freed as
    soon as the document is read rather than left to the cycle collector.
    """

    def __init__(self, document: Document, includes: IncludeResolver, resolve_service) -> None:
        self.document = document
        self.includes = includes
        self.texts: dict[str, str] = {}
        self.scope = Scope()
        self.report = partial(_report, document.diagnostics, set())
        self.ports = PortReader(resolve_service, self.report)
        self.reader = RuleReader(self.scope, self.ports, self.report, partial(_source, self.texts))
        self.tables: dict[tuple[str, str], _Table] = {}
        #: Every rule in the order read: its declaration, or the tuple of them, once made; a
        #: _Rule while it waits. A rule of a chain flushed or deleted since stays, and is left
        #: out at the end (a record per rule, to mark it removed, took 130 bytes).
        self.rules: list[FirewallRule | tuple[FirewallRule, ...] | _Rule] = []
        #: Whether a chain or table was deleted: a chain made again under its name must not
        #: take the rules of the one deleted.
        self.deleted = False
        self.stack: list[str] = []  # real paths of the files being read (include cycles)
        self._set_ports: dict[tuple[int, int | None, bool], list[Piece] | _MapPieces] = {}
        self._set_outcomes: dict[int, list[Outcome]] = {}
        self._ranges: dict[int, tuple] = {}  # id of a list of _set_ports -> the ranges of its pieces
        #: How many more declarations the rules may make one per element and verdict (see
        #: declarations()): one per byte of the files read, and 10,000.
        self.expansions_left = EXPANSION_SLACK
        #: One object per value the declarations repeat: of the 113k jump targets of kube-proxy's
        #: 10 MB ruleset, 41k are distinct (the chains' own names), of its 40k protocols two, of
        #: its 30k DNAT ports a handful.
        self.shared: dict = {}

    # -- reading files -------------------------------------------------------------------------

    def read(self, text: str, path: str, block: _Block, real_path: str) -> None:
        self.texts[path] = text
        self.expansions_left += len(text)
        self.stack.append(real_path)
        reading = _Reading(self, path, block)
        result = parse(text, path, block.body, sink=reading, diagnostics=self.document.diagnostics)
        reading.finish(result.items)
        self.stack.pop()

    def include(self, item: Include, path: str, block: _Block) -> None:
        from ..source_text import read_text  # as the linted file is read: byte-order marks, line ends

        try:
            files = self.includes.resolve(item.path, path, tuple(self.stack))
        except IncludeError as exc:
            self.report(INCLUDE_ERROR, str(exc), location(path, item.span))
            return
        for file in files:
            try:
                text, bad_byte = read_text(file)
            except OSError as exc:
                self.report(INCLUDE_ERROR, f"included file {file} cannot be read: {exc.strerror or exc}",
                            location(path, item.span))
                continue
            if bad_byte:
                self.document.diagnostics.append(bad_byte)
            self.read(text, file, block, os.path.realpath(file))

    # -- statements ----------------------------------------------------------------------------

    def walk(self, items: list, path: str, block: _Block) -> None:
        """Run the statements ``items`` of a block, each dropped from the list once run."""
        items.reverse()
        while items:
            self.run(items.pop(), path, block)

    def run(self, item, path: str, block: _Block) -> None:
        try:
            self.statement(item, path, block)
        except RecursionError:
            span = span_of(item)
            self.nested_too_deeply(location(path, span) if span else Location(path, 1))

    def statement(self, item, path: str, block: _Block) -> None:
        """Run one statement of a block."""
        if isinstance(item, Include):
            self.include(item, path, block)
        elif isinstance(item, Define):
            self.define(item, path)
        elif isinstance(item, Undefine):
            self.scope.undefine(item.name)
        elif isinstance(item, Command):
            self.command(item, path)
        elif isinstance(item, SetDef) and block.table:
            body = "map_body" if item.is_map else "set_body"
            self.walk(item.body, path, _Block(block.table, None, self.set(block.table, item.name), body))
        elif isinstance(item, Hook) and block.chain:
            self.hook(block.chain, item, path)
        elif isinstance(item, Policy) and block.chain:
            if block.policy_set:
                self.report(PARSE_ERROR, "you cannot set chain policy twice", location(path, item.span))
            self.policy(block.chain, item, path)
            block.policy_set = True
        elif isinstance(item, Rule) and block.chain:
            self.rule(item, path, block.table, block.chain)
        elif isinstance(item, Elements) and block.set:
            self.add_elements(block.set, item.value, path)

    def nested_too_deeply(self, where: Location) -> None:
        self.report(PARSE_ERROR, "sets or expressions nested too deeply for portlint to read: the statement "
                                 "is skipped", where)

    def define(self, item: Define, path: str) -> None:
        value = Bound(item.name, self.reader.bind(item.value, path), path, item.span)
        if not self.scope.define(item.name, value, item.redefine):
            self.report(PARSE_ERROR, f"redefinition of symbol {item.name!r}: use redefine to change its value",
                        location(path, item.span))

    def command(self, command: Command, path: str) -> None:
        spec = command.spec
        if command.object == "ruleset":
            for key in [k for k in self.tables if spec is None or k[0] == spec]:
                self.drop_table(key)
            return
        if spec is None or spec.name is None:  # given by handle: nothing portlint can follow
            return
        if isinstance(spec, TableSpec):
            self.table_command(command, spec, path)
            return
        table = self.table(spec.family, spec.table)
        verb, obj = command.verb, command.object
        if obj == "chain":
            if verb == "add":  # its block, if any, was read by _Reading
                self.chain(table, spec.name, location(path, spec.name_span))
            elif spec.name in table.chains:
                if verb == "delete":
                    self.delete_chain(table, spec.name)
                else:
                    self.flush_chain(table.chains[spec.name])
        elif obj == "rule":
            self.rule(command.body, path, table, self.chain(table, spec.name, None))
        elif obj in ("set", "map"):
            if verb == "add":
                body = "map_body" if obj == "map" else "set_body"
                self.walk(command.body, path, _Block(table, None, self.set(table, spec.name), body))
            elif verb == "delete":
                table.sets.pop(spec.name, None)
            elif spec.name in table.sets:
                table.sets[spec.name].elements = PackedElements()
        elif obj == "element":
            target = self.set(table, spec.name)
            if verb == "add":
                self.add_elements(target, command.body, path)
            else:
                self.delete_elements(target, command.body, path)

    def table_command(self, command: Command, spec: TableSpec, path: str) -> None:
        key = (spec.family, spec.name)
        if command.verb == "add":  # its block, if any, was read by _Reading
            self.table(spec.family, spec.name)
        elif command.verb == "delete":
            self.drop_table(key)
        elif key in self.tables:
            table = self.tables[key]
            for chain in table.chains.values():
                self.flush_chain(chain)
            for named_set in table.sets.values():
                named_set.elements = PackedElements()

    def hook(self, chain: _Chain, hook: Hook, path: str) -> None:
        chain_type, name = hook.type.value, hook.hook.value
        if chain_type not in CHAIN_TYPES:
            self.report(PARSE_ERROR, f"unknown chain type {chain_type!r}: expected filter, nat or route",
                        location(path, token_span(hook.type)))
        if name not in HOOKS:
            self.report(PARSE_ERROR, f"unknown chain hook {name!r}: expected {one_of(sorted(HOOKS))}",
                        location(path, token_span(hook.hook)))
        self.reader.bind(hook.priority, path)  # reports unknown variables
        chain.hook, chain.type = name, chain_type
        chain.policy = chain.policy or "accept"

    def policy(self, chain: _Chain, policy: Policy, path: str) -> None:
        value = word(self.reader.bind(policy.value, path))
        if value is not None:
            chain.policy = value

    def rule(self, rule: Rule, path: str, table: _Table, chain: _Chain) -> None:
        facts = self.reader.read(rule, path, chain.name)
        record = _Rule(facts, table.key, chain.name)
        index = len(self.rules)
        self.rules.append(record)
        for name, rules in facts.anonymous_chains:
            inner = self.chain(table, name, None)
            for inner_rule in rules:
                self.rule(inner_rule, path, table, inner)
        if facts.verdict_map is None and all(clause.set_ref is None for clause in facts.matches):
            self.declare_now(index, record)

    def declare_now(self, index: int, record: _Rule) -> None:
        """Make the declarations of a rule that names no set or map and drop its facts (about
        2 KB a rule: 174 MiB for a 10 MB ruleset): nothing read later changes them."""
        try:
            made = self.declarations(record)
        except RecursionError:
            return  # reported by finish()
        self.rules[index] = made[0] if len(made) == 1 else tuple(made)

    # -- the ruleset ---------------------------------------------------------------------------

    def table(self, family: str, name: str) -> _Table:
        key = (family, name)
        if key not in self.tables:
            self.tables[key] = _Table(family, name, key)
        return self.tables[key]

    def drop_table(self, key: tuple[str, str]) -> None:
        if self.tables.pop(key, None) is not None:
            self.deleted = True

    def chain(self, table: _Table, name: str, declared: Location | None) -> _Chain:
        chain = table.chains.get(name)
        if chain is None:
            name = self.shared.setdefault(name, name)  # jump targets name it
            chain = table.chains[name] = _Chain(name, since=len(self.rules) if self.deleted else 0)
        if declared is not None and chain.declared is None:
            chain.declared = table.make(ChainPolicy, declared, chain=name)
        return chain

    def flush_chain(self, chain: _Chain) -> None:
        chain.since = len(self.rules)

    def delete_chain(self, table: _Table, name: str) -> None:
        del table.chains[name]
        self.deleted = True

    def set(self, table: _Table, name: str) -> _Set:
        if name not in table.sets:
            table.sets[name] = _Set(name)
        return table.sets[name]

    def add_elements(self, target: _Set, value, path: str) -> None:
        for item, file in _set_items(self.reader.bind(value, path), path, keep_plain=True):
            if isinstance(item, Mapping):
                target.elements.append((item.key, item.value, file))
            else:
                target.elements.append((item, None, file))

    def delete_elements(self, target: _Set, value, path: str) -> None:
        gone = {self.reader.text(item.key if isinstance(item, Mapping) else item, file)
                for item, file in _set_items(self.reader.bind(value, path), path)}
        target.elements = PackedElements(
            (key.without(gone), value, file) if isinstance(key, PlainSet) else (key, value, file)
            for key, value, file in target.elements
            if isinstance(key, PlainSet) or self.reader.text(key, file) not in gone)

    # -- the declarations ----------------------------------------------------------------------

    def finish(self) -> None:
        document = self.document
        declarations = document.declarations
        for index, entry in enumerate(self.rules):
            if isinstance(entry, FirewallRule):
                if self.kept(index, (entry.family, entry.table), entry.chain):
                    declarations.append(entry)
            elif isinstance(entry, tuple):
                if self.kept(index, (entry[0].family, entry[0].table), entry[0].chain):
                    declarations.extend(entry)
            elif self.kept(index, entry.table, entry.chain):
                try:
                    declarations.extend(self.declarations(entry))
                except RecursionError:
                    self.nested_too_deeply(entry.facts.location)
        self.rules.clear()
        for table in self.tables.values():
            for chain in table.chains.values():
                declared = chain.declared
                if declared is not None and (chain.hook or chain.type or chain.policy):
                    declared = table.make(ChainPolicy, declared.location, chain=chain.name, hook=chain.hook,
                                          type=chain.type, policy=chain.policy)
                if declared is not None:
                    document.policies.append(declared)

    def kept(self, index: int, table: tuple[str, str], chain: str) -> bool:
        """Whether the rule ``index`` of ``chain`` is still in it: its table and chain were not
        deleted, nor the chain flushed, after the rule was added."""
        holder = self.tables.get(table)
        found = holder.chains.get(chain) if holder else None
        return found is not None and index >= found.since

    def declarations(self, record: _Rule) -> list[FirewallRule]:
        """A rule's declarations: one per element of its port matches and per verdict it may
        take, unless that makes more than the files read could write out (a set of 5,000 ports
        looked up by 200 rules, 38 KB, made a million declarations and 210,000 findings, 816
        MiB): then, from that rule on, one per port match (see _collapsed)."""
        facts = record.facts
        table = self.tables[record.table]  # still there: dropping a table removes its rules
        for clause in facts.matches:
            if clause.set_ref is not None and not self.resolve_set(clause, table, facts.location.path):
                facts.unmodeled.append(f"{clause.protocol or 'th'} {clause.direction} @{clause.set_ref.name}")
        outcomes = self.outcomes(facts, table)
        shared = self.shared.setdefault
        base = dict(chain=record.chain, saddr=shared(facts.saddr, facts.saddr), daddr=shared(facts.daddr, facts.daddr),
                    iif=facts.iif, oif=facts.oif, states=facts.states, comment=facts.comment)
        plain = [c for c in facts.matches if c.mapped is None and c.pieces is not None]
        mapped = [c for c in facts.matches if c.mapped is not None and c.pieces is not None]
        pairs = _pair(plain, facts.transport_protocol)
        at_least = len(outcomes) * sum(_split_count(dport) for _, dport, _ in pairs) + \
            sum(len(clause.pieces) for clause in mapped if isinstance(clause.pieces, list))
        left = self.expansions_left
        out = list(islice(self._expanded(facts, table, base, outcomes, pairs, mapped), left + 1)) \
            if at_least <= left else None
        if out is None or len(out) > left:
            if left >= 0:
                self.report(UNRESOLVED_VARIABLE, "portlint stops expanding set lookups at this rule: the rules "
                            "would make more declarations than the file writes out (a set looked up again and "
                            "again, or a verdict map of many verdicts); from this rule on, each port match is "
                            "checked as one match of all its ports, and a verdict map's verdicts are not followed",
                            facts.location)
            self.expansions_left = left = -1
            out = self._collapsed(facts, table, base, outcomes, pairs, mapped)
        else:
            self.expansions_left = left - len(out)
        return out

    def _expanded(self, facts: RuleFacts, table: _Table, base: dict, outcomes: list[Outcome], pairs: list,
                  mapped: list[PortClause]) -> Iterator[FirewallRule]:
        """One declaration per element of each port match and per verdict."""
        made = False
        for protocol, dport, sport in pairs:
            source = self._whole(sport)
            for outcome in outcomes:
                for ports in self._split(dport) if dport else [None]:
                    made = True
                    yield self.declaration(facts, table, base, protocol, ports, source, outcome)
        for clause in mapped:
            protocol = clause.protocol or facts.transport_protocol
            for piece in _or_none(clause.pieces):
                match = ModelPortMatch((piece.ports,) if piece else (), False,
                                       piece.location if piece else clause.location)
                for outcome in self.mapped_outcomes(clause, piece, outcomes):
                    made = True
                    yield self.declaration(facts, table, base, protocol,
                                           match if clause.direction == "dport" else None,
                                           match if clause.direction == "sport" else None, outcome)
        if not made:
            for outcome in outcomes:
                yield self.declaration(facts, table, base, _portless_protocol(facts), None, None, outcome)

    def _collapsed(self, facts: RuleFacts, table: _Table, base: dict, outcomes: list[Outcome], pairs: list,
                   mapped: list[PortClause]) -> list[FirewallRule]:
        """One declaration per port match, of all its ports, located at the match (a set
        looked up, at its ``@name``); a verdict map's verdicts, if more than one, are one
        verdict portlint does not follow."""
        outcome = outcomes[0] if len(outcomes) == 1 else Outcome(Action.OTHER, "vmap")
        out = [self.declaration(facts, table, base, protocol, self._whole(dport), self._whole(sport), outcome)
               for protocol, dport, sport in pairs]
        for clause in mapped:
            match = ModelPortMatch(self._ranges_of(clause), False, clause.location)
            out.append(self.declaration(facts, table, base, clause.protocol or facts.transport_protocol,
                                        match if clause.direction == "dport" else None,
                                        match if clause.direction == "sport" else None,
                                        Outcome(Action.OTHER, clause.mapped)))
        if not out:
            out = [self.declaration(facts, table, base, _portless_protocol(facts), None, None, outcome)]
        return out

    def _split(self, clause: PortClause) -> list[ModelPortMatch]:
        """One match per element, except for a negated match (one match of every port it
        excludes)."""
        if clause.negated or len(clause.pieces) <= 1:
            return [self._whole(clause)]
        return [ModelPortMatch((p.ports,), False, p.location) for p in clause.pieces]

    def _whole(self, clause: PortClause | None) -> ModelPortMatch | None:
        """One match of every port of ``clause``."""
        if clause is None:
            return None
        where = clause.pieces[0].location if len(clause.pieces) == 1 else clause.location
        return ModelPortMatch(self._ranges_of(clause), clause.negated, where)

    def _ranges_of(self, clause: PortClause) -> tuple:
        """The ranges of ``clause``'s pieces; for a set looked up, one tuple for every rule that
        looks it up (its pieces are one list, held until the end: see resolve_set)."""
        if clause.set_ref is None:
            return tuple(p.ports for p in clause.pieces)
        found = self._ranges.get(id(clause.pieces))
        if found is None:
            found = self._ranges[id(clause.pieces)] = tuple(p.ports for p in clause.pieces)
        return found

    def declaration(self, facts: RuleFacts, table: _Table, base: dict, protocol, dport, sport,
                    outcome: Outcome) -> FirewallRule:
        """A declaration located at its port (where it is written, an element of a set defined
        elsewhere in the file too); ``rule_line`` ties it to its statement."""
        where = (dport or sport).location if (dport or sport) else (outcome.location or facts.location)
        if where.path != facts.location.path:  # an element written in another file
            where = facts.location
        unmodeled = facts.unmodeled_for(protocol)
        if table.family in MIXED_FAMILIES:
            unmodeled += tuple(facts.implied)
        shared = self.shared.setdefault
        options = (*facts.effects, *outcome.options)
        return table.make(
            FirewallRule, where, protocol=shared(protocol, protocol), dport=dport, sport=sport,
            unmodeled=shared(unmodeled, unmodeled), action=outcome.action,
            target=shared(outcome.target, outcome.target), target_options=shared(options, options),
            to_address=shared(outcome.to_address, outcome.to_address),
            to_ports=shared(outcome.to_ports, outcome.to_ports),
            rule_line=facts.location.line if where != facts.location else None, **base)

    def outcomes(self, facts: RuleFacts, table: _Table) -> list[Outcome]:
        if facts.verdict_map is not None:
            named = table.sets.get(facts.verdict_map.name)
            if named is not None:
                if id(named) not in self._set_outcomes:  # the file is read: its elements are final
                    self._set_outcomes[id(named)] = self.reader.verdict_choices(
                        [(value, file) for _, value, file in named.elements])
                return self._set_outcomes[id(named)] or [facts.outcome]
        return facts.verdict_choices or [facts.outcome]

    def mapped_outcomes(self, clause: PortClause, piece, outcomes: list[Outcome]) -> list[Outcome]:
        """A vmap element's own verdict; for a map a translation looks up, its own target."""
        if piece is None or piece.value is None:
            return outcomes
        if clause.mapped == "vmap":
            return self.reader.verdict_choices([(piece.value, piece.value_path)]) or outcomes
        if clause.translation is not None:
            outcome = Outcome(outcomes[0].action, outcomes[0].target)
            value = unwrap(piece.value)
            address, port = (value.parts[0], value.parts[-1]) if isinstance(value, Concat) else (value, None)
            outcome.to_address = self.reader.address_text(address, piece.value_path)
            if port is not None:
                ports = self.ports.port_range(port, piece.value_path)
                outcome.to_ports = (ports,) if ports else None
            return [outcome]
        return outcomes

    def resolve_set(self, clause: PortClause, table: _Table, path: str) -> bool:
        """The ports of ``@name`` at load time: every element the file gave the set; False
        when the file never defines the set."""
        named = table.sets.get(clause.set_ref.name)
        if named is None:
            self.report(UNRESOLVED_VARIABLE, f"set @{clause.set_ref.name} is not defined in table "
                                             f"{table.family} {table.name} here; its ports are not checked",
                        location(path, clause.set_ref.span))
            clause.pieces = None
            return False
        key = (id(named), clause.component, clause.mapped is not None)
        if key not in self._set_ports:
            pieces = _MapPieces(named.elements, clause.component, self.ports)
            self._set_ports[key] = pieces if clause.mapped else list(pieces)
        clause.pieces = self._set_ports[key]
        return True


class _MapPieces:
    """The pieces of a map a rule looks up (its elements' ports, each with its value), read
    again from the packed elements each time they are gone through, a batch at a time: held as
    a list until every rule was declared, kube-proxy's service map took 13 MiB of 54 at the
    peak of its 10 MB ruleset."""

    __slots__ = ("elements", "component", "ports")

    def __init__(self, elements: PackedElements, component: int | None, ports: PortReader) -> None:
        self.elements, self.component, self.ports = elements, component, ports

    def __iter__(self) -> Iterator[Piece]:
        for element, value, file in self.elements:
            item = Mapping(element, value, element.span) if value is not None else element
            yield from self.ports.pieces(item, file, self.component)


def _report(diagnostics: list[Diagnostic], seen: set[Diagnostic], code: str, message: str, where: Location) -> None:
    """Add a diagnostic, once: a set's elements are read again for each rule that looks it up."""
    diagnostic = Diagnostic(code, message, where)
    if diagnostic not in seen:
        seen.add(diagnostic)
        diagnostics.append(diagnostic)


def _source(texts: dict[str, str], span, path: str) -> str:
    """The text under ``span`` in the file ``path``."""
    return texts[path][span[0]:span[1]]


def _set_items(value, path: str, keep_plain: bool = False):
    """The elements of a set literal (through variables and nested sets), in order, with their
    file; with ``keep_plain``, a big set of plain elements as its one PlainSet."""
    stack = [(value, path)]
    while stack:
        item, file = stack.pop()
        if isinstance(item, Bound):
            stack.append((item.value, item.path))
        elif keep_plain and isinstance(item, PlainSet):
            yield item, file
        elif isinstance(item, SetLiteral):
            stack.extend((i, file) for i in reversed(item.items))
        elif isinstance(item, (Element, Mapping)):
            yield item, file


def _pair(clauses: list[PortClause], transport: str | None):
    """Port matches grouped into declarations: per protocol, a destination and a source match
    (a rule rarely has more; extra ones get declarations of their own)."""
    slots: list[list] = []
    for clause in clauses:
        protocol = clause.protocol or transport
        index = 1 if clause.direction == "dport" else 2
        slot = next((s for s in slots if s[0] == protocol and s[index] is None), None)
        if slot is None:
            slot = [protocol, None, None]
            slots.append(slot)
        slot[index] = clause
    return [tuple(s) for s in slots]


def _or_none(pieces: Iterable[Piece]) -> Iterator[Piece | None]:
    """The pieces, or one None where there are none (an empty map: the rule matches no port),
    gone through once: a map's are read back from its packed elements."""
    empty = True
    for piece in pieces:
        empty = False
        yield piece
    if empty:
        yield None


def _portless_protocol(facts: RuleFacts) -> str | None:
    """The protocol of a rule without ports: the one it names, if just one."""
    return next(iter(facts.protocols)) if len(facts.protocols) == 1 else None


def _split_count(clause: PortClause | None) -> int:
    """How many matches ``_Ruleset._split`` makes of ``clause`` (one for none)."""
    return 1 if clause is None or clause.negated else max(1, len(clause.pieces))


def read_ruleset(text: str, path: str, options) -> Document:
    """The document of an nftables ruleset (and of the files it includes)."""
    from ..catalog import load

    document = Document(path, "nftables", text)
    includes = IncludeResolver.for_file(path, options.include_path, options.project_root)
    ruleset = _Ruleset(document, includes, load().resolve)
    ruleset.read(text, path, _Block(), os.path.realpath(path))
    ruleset.finish()
    return document
