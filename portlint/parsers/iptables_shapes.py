"""Rules of one shape are read once: the option reader's answer, replayed for every rule that
differs from it only in its free values.

A kube-proxy dump of 200,000 rules has fewer than 3,000 shapes once the values that are only
stored are set aside: addresses (``-s``, ``-d``), interfaces (``-i``, ``-o``), comments, the
chain a rule jumps to and the address a DNAT sends to. The first rule of a shape is read by
:func:`~portlint.parsers.iptables_options.read_rule` with each free value replaced by a
placeholder; the model made of it says where each placeholder landed, and every later rule of
the shape is that model with its own values put back, made without its words being made or read.

Only what iptables-save writes takes this way (one line, words split by single spaces, at most
one double-quoted comment, no escapes); a shape whose reading reports a problem, or puts a
placeholder anywhere but a field that stores it as written, is never replayed: its rules are
read word by word, as is a rule whose target is not a chain declared so far (it may be declared
later in the table). tests/parsers/test_iptables_shapes.py proves both ways give the same model.

The rules of a shape are also stored as one: each is an instance of the shape's variant of
FirewallRule (see model.variant), which keeps only the rule's own values.
"""
from __future__ import annotations

from functools import partial
from operator import attrgetter
from typing import Callable, NamedTuple, TypeVar

from ..model import Action, FirewallRule, Location, PortMatch, field_names, variant
from .common import Word
from .iptables import Table, _fast_statement, chain_name, model_rule
from .iptables_options import TARGET_OPTIONS, action_of, read_rule

T = TypeVar("T")

#: Shapes remembered per document, at most: a kube-proxy dump has under 3,000 however big, and
#: a file whose every rule has a shape of its own (hostile, or generated with every port) must
#: not keep a model per rule, nor pay for learning each: past this, new shapes are read word by
#: word.
MAX_SHAPES = 8192
#: Options whose argument is only stored (not parsed, not used to read later options), as
#: iptables-save writes them; ``-j``/``-g`` only when they name no target with options.
FREE_VALUES = frozenset({"-s", "-d", "-i", "-o", "-j", "-g", "--comment", "--to-destination"})
_PLACEHOLDER = "\0"  # never in a line that takes this way: it is not printable

#: How a placeholder's field gets its rule's value back from the word it replaced.
_WHOLE, _UNQUOTED, _ADDRESS = range(3)
_STORED = frozenset({"saddr", "daddr", "iif", "oif", "comment", "target", "to_address"})
_PORT_FIELDS = ("dport", "sport", "either")


class Shape(NamedTuple):
    """The model of a shape's first rule, and where each of its rules' own values go."""

    values: tuple  # FirewallRule's fields, in order
    goto: bool  # -g: the target is gone to, not jumped to
    #: (field index, word index, how the value is taken from the word, "!" or "")
    free: tuple[tuple[int, int, int, str], ...]
    #: The word index and width of each port match's word, by field: its location is the rule's
    #: own word's, made when asked
    ports: dict[str, tuple[int, int]]
    #: The class of its rules in each table the shape was met in (see ShapeReader._kind).
    kinds: dict[tuple[str, str], type[FirewallRule]]


def split(line: str) -> list[str] | None:
    """The words of ``line`` when it is written as iptables-save writes a rule (the grammar's
    split is then a split on single spaces around one quoted comment); None otherwise."""
    if not line.isprintable() or "'" in line or "\\" in line:
        return None
    quotes = line.count('"')
    if quotes == 0:
        words = line.split(" ")
    elif quotes == 2:
        before, quoted, after = line.split('"')
        if not before.endswith(" ") or (after and not after.startswith(" ")):
            return None
        words = before[:-1].split(" ")
        words.append(f'"{quoted}"')
        if after:
            words.extend(after[1:].split(" "))
    else:
        return None
    return None if "" in words else words


def key(words: list[str]) -> tuple[str, ...] | None:
    """The shape of a rule (its words from the chain's name on): the chain and each free value
    replaced by its placeholder. None for a line that is not a plain ``-A CHAIN`` rule."""
    if len(words) < 2 or words[0] != "-A" or words[1][0] in '-!"':
        return None
    shape = words[1:]
    shape[0] = _PLACEHOLDER
    for index in [i for i, word in enumerate(shape, start=1) if word in FREE_VALUES]:
        if index < len(shape) and _free(shape[index - 1], word := shape[index]):
            if shape[index - 1] == "--to-destination" and word.count(":") == 1:
                shape[index] = _PLACEHOLDER + word[word.index(":"):]  # the port is read, not stored
            else:
                shape[index] = _PLACEHOLDER
    return tuple(shape)


def _free(option: str, word: str) -> bool:
    """Whether ``word``, the argument of ``option``, is stored as written whatever it is."""
    if option == "--comment":
        return word[0] == '"'
    if word[0] in '-!"':
        return False  # an option's kind, not a plain word's: the reader may treat it otherwise
    if option in ("-j", "-g"):
        return word not in TARGET_OPTIONS
    if option == "--to-destination":
        return word[0] not in "[:" and not (word.count(":") == 1 and word.endswith(":"))
    return True


class LineNumbers:
    """Line numbers held as a base that 256 lines share and an offset below 256: an int above
    256 is an object of 32 bytes, and a 100 MB dump has 850k rules and chains, where an offset
    is one of the ints Python keeps once and a base is made once per 256 lines."""

    def __init__(self) -> None:
        self.base = 0

    def split(self, number: int) -> tuple[int, int]:
        """``(base, offset)`` of line ``number``; lines come in order, mostly."""
        offset = number - self.base
        if not 0 <= offset < 256:
            offset = number & 255
            self.base = number - offset
        return self.base, offset


class ShapeReader:
    """Reads plain rule lines through their shapes, for one document."""

    def __init__(self, path: str, resolve: Callable, share: Callable[[T], T]) -> None:
        self.path = path
        self.resolve = resolve
        self.share = share  # one copy of each repeated value (see Ruleset._share)
        self.shapes: dict[tuple[str, ...], Shape | None] = {}
        self.lines = LineNumbers()

    def rule(self, line: str, number: int, table: Table) -> FirewallRule | None:
        """The model of the rule ``line`` (line ``number``) of ``table``; None when it is not a
        plain rule of one of the table's chains with a shape that can be replayed, or when its
        target is not yet known to be a chain (decided when the table is complete)."""
        words = split(line)
        shape_key = key(words) if words is not None else None
        if shape_key is None or words[1] not in table.chains:
            return None
        shape = self.shapes.get(shape_key, False)
        if shape is False:
            if len(self.shapes) >= MAX_SHAPES:
                return None
            shape = self.shapes[shape_key] = self._learn(shape_key, line, number)
        if shape is None:
            return None
        share = self.share
        target = shape.values[_TARGET]
        own: list = [chain_name(table, words[1]), None]  # the chain, the action (below), the free values
        for field, index, how, bang in shape.free:
            word = words[index]
            if how == _UNQUOTED:
                word = word[1:-1]
            elif how == _ADDRESS:
                word = word[:word.index(":")]
            if field == _TARGET:
                own.append(target := chain_name(table, word) if word in table.chains else share(word))
            else:
                own.append(share(bang + word if bang else word))
        for index, _ in shape.ports.values():
            own.append(index + sum(map(len, words[:index])) + 1)  # the column of the match's word
        own[1] = action_of(target, shape.goto, table.chains)
        if own[1] == Action.OTHER:
            return None
        kind = shape.kinds.get((table.family, table.name)) or self._kind(shape, table)
        return kind(*self.lines.split(number), *own)

    def _kind(self, shape: Shape, table: Table) -> type[FirewallRule]:
        """The class of the shape's rules in ``table``: every field but the rule's own values is
        its class's, so that a rule takes 56 to 100 bytes where a FirewallRule of its own takes
        232 and its Location 72 (a 100 MB dump has 625k rules); its location and port matches
        are made when asked."""
        own = ("chain", "action", *(_RULE_FIELDS[field] for field, *_ in shape.free))
        derived: dict[str, Callable] = {"location": partial(_rule_location, self.path)}
        columns = []
        for name, (_, width) in shape.ports.items():
            columns.append(f"_{name}_column")
            derived[name] = partial(_port_match, shape.values[_RULE_FIELDS.index(name)], self.path,
                                    attrgetter(columns[-1]), width)
        shared = {name: value for name, value in zip(_RULE_FIELDS, shape.values) if name not in own and name not in derived}
        shared.update(family=table.family, table=table.name)
        kind = shape.kinds[table.family, table.name] = variant(
            FirewallRule, shared, ("_base", "_offset", *own, *columns), derived)
        return kind

    def _learn(self, shape_key: tuple[str, ...], line: str, number: int) -> Shape | None:
        """Read the shape's first rule with placeholders for its free values."""
        statement = _fast_statement(line, number)
        if not statement or statement[0] != "rule" or len(statement[1]) != len(shape_key) + 1:
            return None
        real = statement[1]
        placed = [Word(f"{_PLACEHOLDER}{index}" + text[1:], w.line, w.column, w.end_column, w.kind)
                  if text[0] == _PLACEHOLDER else w
                  for index, (text, w) in enumerate(zip(shape_key, real[1:]), start=1)]
        facts, diagnostics = read_rule(placed[1:], self.path, self.resolve)
        if diagnostics:
            return None
        values = _RULE_VALUES(model_rule(None, "", "", "", facts, None))
        free, ports = [], {}
        for field, (name, value) in enumerate(zip(_RULE_FIELDS, values)):
            if name in _PORT_FIELDS and value is not None:
                index = next((i for i, w in enumerate(real) if w.column == value.location.column), None)
                if index is None:
                    return None
                ports[name] = (index, len(real[index].text))
            elif name in _STORED and isinstance(value, str) and _PLACEHOLDER in value:
                bang = "!" if value[0] == "!" else ""
                written_at = value[len(bang) + 1:]
                index = int(written_at) if written_at.isdigit() else 0
                if not 0 < index <= len(shape_key) or shape_key[index - 1][0] != _PLACEHOLDER:
                    return None
                written = shape_key[index - 1]
                how = _ADDRESS if written != _PLACEHOLDER else _UNQUOTED if real[index].kind == "STRING" else _WHOLE
                free.append((field, index, how, bang))
            elif _holds_placeholder(value):
                return None  # a free value read into something that does not store it as written
        return Shape(values, facts.goto, tuple(free), ports, {})


_RULE_FIELDS = field_names(FirewallRule)
_RULE_VALUES = attrgetter(*_RULE_FIELDS)
_TARGET = _RULE_FIELDS.index("target")


def _rule_location(path: str, rule: FirewallRule) -> Location:
    return Location(path, rule._base + rule._offset, 1)


def _port_match(match: PortMatch, path: str, column_of: Callable[[FirewallRule], int], width: int,
                rule: FirewallRule) -> PortMatch:
    """The port match of a shape's rule, where it is in the rule's line."""
    line, column = rule._base + rule._offset, column_of(rule)
    return PortMatch(match.ranges, match.negated, Location(path, line, column, line, column + width))


def _holds_placeholder(value) -> bool:
    if isinstance(value, str):
        return _PLACEHOLDER in value
    return isinstance(value, tuple) and any(isinstance(v, str) and _PLACEHOLDER in v for v in value)
