"""The model's own behaviour (rules and parsers test the rest)."""
from __future__ import annotations

import ast
import inspect
import pickle
import random
import sys
import textwrap
from dataclasses import MISSING, FrozenInstanceError
from functools import partial
from typing import ClassVar

import pytest

from portlint import catalog, config, findings, model
from portlint.parsers import shell_values
from portlint.model import Document


def test_line_text_splits_lines_as_splitlines_does():
    # Reporters show source lines by the numbers parsers give; the line index keeps offsets
    # only, and must agree with str.splitlines on every kind of line break.
    rng = random.Random(3)
    alphabet = ["a", " ", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "é", "\t"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        document, lines = Document("f", "iptables", text), text.splitlines()
        for number in range(-1, len(lines) + 3):
            assert document.line_text(number) == (lines[number - 1] if 0 < number <= len(lines) else ""), (text, number)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_line_starts_of_text_split_by_chunks(chunk):
    # Text broken only by "\n" is split a chunk at a time: the chunks' borders must not show.
    rng = random.Random(chunk)
    for _ in range(2000):
        text = "".join(rng.choice(["a", "bc", " ", "\n", "\n\n", "é"]) for _ in range(rng.randint(0, 12)))
        expected = [0, *(m.end() for m in model._LINE_BREAK.finditer(text))]
        assert list(model.line_starts(text, chunk)) == expected, text


RECORDS = [model.PortRange, model.Location, model.PortMatch, model.FirewallRule, model.ChainPolicy,
           model.PortBinding, model.ServiceSettings, model.Diagnostic, findings.Finding, catalog.CatalogEntry,
           config.Allowance, shell_values.Field]


def _declared(cls) -> list[tuple[str, object]]:
    """The fields the class body annotates, with their defaults (MISSING for none), read from
    the source: the record itself keeps no trace of them but its ``__init__``."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    module = vars(sys.modules[cls.__module__])
    return [(node.target.id, eval(compile(ast.Expression(node.value), "<default>", "eval"), module)  # noqa: S307
             if node.value is not None else MISSING) for node in body if isinstance(node, ast.AnnAssign)]


def _example(cls):
    """An instance with every field set to a value of its own."""
    values = {"path": "a.rules", "line": 3, "column": 4, "start": 80, "end": 81, "ranges": (model.PortRange(1, 2),),
              "code": "PL101", "name": "x", "message": "m", "severity": findings.Severity.WARNING,
              "target": model.PortRange(80, 80), "service": "web"}
    arguments = {}
    for name, default in _declared(cls):
        if name in values:
            arguments[name] = values[name]
        elif name == "location":
            arguments[name] = model.Location("a.rules", 3, 4)
        elif default is MISSING:
            arguments[name] = f"{name}-value"
    return arguments


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_records_are_built_and_pickled_as_the_class_declares_them_and_stay_frozen(cls):
    declared = _declared(cls)
    assert model.field_names(cls) == tuple(name for name, _ in declared)
    signature = inspect.signature(cls)
    assert [(p.name, p.default if p.default is not p.empty else MISSING)
            for p in signature.parameters.values()] == declared
    arguments = _example(cls)
    by_keyword, by_position = cls(**arguments), cls(*(arguments.get(name, default) for name, default in declared))
    assert by_keyword == by_position and hash(by_keyword) == hash(by_position)
    assert {name: getattr(by_keyword, name) for name in arguments} == arguments
    assert pickle.loads(pickle.dumps(by_keyword)) == by_keyword
    assert repr(by_keyword) == f"{cls.__qualname__}({', '.join(f'{n}={getattr(by_keyword, n)!r}' for n, _ in declared)})"
    with pytest.raises(FrozenInstanceError):
        setattr(by_keyword, declared[0][0], None)
    with pytest.raises(FrozenInstanceError):
        delattr(by_keyword, declared[0][0])
    with pytest.raises(AttributeError):
        by_keyword.not_a_field = 1  # slotted: no instance dictionary
    with pytest.raises(TypeError):
        cls(**arguments, not_a_field=1)
    first = declared[0][0]
    changed = model.replace(by_keyword, **{first: arguments.get(first, "other")})
    assert changed == by_keyword and changed is not by_keyword
    assert getattr(model.replace(by_keyword, **{first: "other"}), first) == "other"
    with pytest.raises(TypeError):
        model.replace(by_keyword, not_a_field=1)


def test_records_compare_like_tuples_of_their_fields_and_only_with_their_own_class():
    @model.record(order=True)
    class Pair:
        """Two fields."""

        first: int
        second: str = "b"

    @model.record
    class Other:
        """The same fields, another class."""

        first: int
        second: str = "b"

    pairs = [Pair(2, "a"), Pair(1, "z"), Pair(1), Pair(2)]
    assert sorted(pairs) == [Pair(1, "b"), Pair(1, "z"), Pair(2, "a"), Pair(2, "b")]
    assert Pair(1) <= Pair(1) < Pair(2) and Pair(2) >= Pair(2) > Pair(1, "z")
    assert Pair(1) != Other(1) and Pair(1) != (1, "b")
    with pytest.raises(TypeError):
        Pair(1) < Other(1)  # noqa: B015 - the comparison itself is what raises
    with pytest.raises(TypeError):
        Other(1) < Other(2)  # noqa: B015 - unordered records do not compare
    assert {Pair(1), Pair(1, "b")} == {Pair(1)}


def test_a_record_class_variable_is_no_field():
    @model.record
    class Counted:
        """A field and a class attribute."""

        kind: ClassVar[str] = "counted"
        value: int

    assert model.field_names(Counted) == ("value",) and Counted(3).kind == "counted"


def test_a_record_field_without_a_default_cannot_follow_one_with_a_default():
    with pytest.raises(TypeError, match="'second' without a default"):
        @model.record
        class Broken:
            first: int = 1
            second: int


def _located_at_column_4(rule) -> model.Location:
    return model.Location("a.rules", rule._line, 4)


def test_a_variant_keeps_only_its_slots_and_is_the_record_of_the_same_values():
    # A parser's many rules of one shape share a class holding what they have in common.
    full = model.FirewallRule(**_example(model.FirewallRule))
    shared = {name: getattr(full, name) for name in model.field_names(model.FirewallRule)
              if name not in ("location", "chain")}
    kind = model.variant(model.FirewallRule, shared, ("_line", "chain"), {"location": _located_at_column_4})
    rule = kind(3, full.chain)
    assert isinstance(rule, model.FirewallRule) and type(full) is not kind
    assert rule == full and full == rule and hash(rule) == hash(full) and repr(rule) == repr(full)
    assert rule != model.replace(full, chain="other") and model.replace(rule, chain="other") == model.replace(full, chain="other")
    assert sys.getsizeof(rule) * 4 < sys.getsizeof(full)
    unpickled = pickle.loads(pickle.dumps(rule))
    assert unpickled == full and type(unpickled) is not type(full) and sys.getsizeof(unpickled) == sys.getsizeof(rule)
    assert pickle.loads(pickle.dumps(full)) == rule
    with pytest.raises(FrozenInstanceError):
        rule.chain = "other"
    with pytest.raises(AttributeError):
        rule.not_a_field = 1
    with pytest.raises(TypeError, match="not each shared, derived or in a slot"):
        model.variant(model.FirewallRule, shared, ("_line",), {"location": _located_at_column_4})


def test_sparse_records_store_only_the_fields_not_at_their_default():
    make = model.SparseRecords(model.FirewallRule, format="nftables", family="ip", table="t")
    where = model.Location("r.nft", 4, 3)
    values = dict(location=where, chain="c", action="accept", target="accept")
    rule = make(**values)
    full = model.FirewallRule(**values, format="nftables", family="ip", table="t")
    assert type(rule).__slots__ == ("location", "chain", "action", "target")
    assert rule == full and full == rule and hash(rule) == hash(full) and repr(rule) == repr(full)
    assert sys.getsizeof(rule) * 3 < sys.getsizeof(full)
    assert pickle.loads(pickle.dumps(rule)) == full
    assert type(make(**{**values, "chain": "d", "target": "drop"})) is type(rule)  # the same fields stored
    plain = make(**{**values, "states": (), "dport": None})  # defaults given are not stored
    assert type(plain).__slots__ == type(rule).__slots__ and plain == full
    other = make(**{**values, "protocol": "tcp", "rule_line": 4})
    assert set(type(other).__slots__) == {"location", "chain", "protocol", "action", "target", "rule_line"}
    assert other == model.FirewallRule(**values, format="nftables", family="ip", table="t", protocol="tcp", rule_line=4)
    with pytest.raises(TypeError, match="location"):
        make(chain="c")


def test_a_packed_position_makes_the_same_location_again():
    path = "r.nft"
    make = model.SparseRecords(model.FirewallRule, derived={"location": partial(model.unpacked_location, path)},
                               format="nftables", family="ip", table="t")
    for where in (model.Location(path, 1, 1, 1, 2), model.Location(path, 9_999_999, 16383, 10_000_254, 16383)):
        rule = make(_position=model.packed_position(where), chain="c")
        full = model.FirewallRule(location=where, chain="c", format="nftables", family="ip", table="t")
        assert type(rule).__slots__ == ("_position", "chain")
        assert rule.location == where and rule == full and hash(rule) == hash(full)
        assert pickle.loads(pickle.dumps(rule)) == full
    for unpackable in (model.Location(path, 3, 16384, 3, 16390), model.Location(path, 3, 1, 259, 1),
                       model.Location(path, 3, 1, 3, 16384), model.Location(path, 3, 4)):
        assert model.packed_position(unpackable) is None
        assert make(location=unpackable, chain="c").location is unpackable  # stored as it is
