"""The model's own behaviour (rules and parsers test the rest)."""
from __future__ import annotations

import dataclasses
import inspect
import pickle
import random

import pytest

from portlint import findings, model
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
           model.PortBinding, model.ServiceSettings, model.Diagnostic, findings.Finding]


def _example(cls):
    """An instance with every field set to a value of its own."""
    values = {"path": "a.rules", "line": 3, "column": 4, "start": 80, "end": 81, "ranges": (model.PortRange(1, 2),),
              "code": "PL101", "name": "x", "message": "m", "severity": findings.Severity.WARNING,
              "target": model.PortRange(80, 80), "service": "web"}
    arguments = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            arguments[f.name] = values[f.name]
        elif f.name == "location":
            arguments[f.name] = model.Location("a.rules", 3, 4)
        elif f.default is dataclasses.MISSING:
            arguments[f.name] = f"{f.name}-value"
    return arguments


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_records_are_built_and_pickled_as_the_dataclass_declares_them_and_stay_frozen(cls):
    declared = [(f.name, f.default) for f in dataclasses.fields(cls)]
    signature = inspect.signature(cls)
    assert [(p.name, p.default if p.default is not p.empty else dataclasses.MISSING)
            for p in signature.parameters.values()] == declared
    arguments = _example(cls)
    by_keyword, by_position = cls(**arguments), cls(*(arguments.get(name, default) for name, default in declared))
    assert by_keyword == by_position and hash(by_keyword) == hash(by_position)
    assert {name: getattr(by_keyword, name) for name in arguments} == arguments
    assert pickle.loads(pickle.dumps(by_keyword)) == by_keyword
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(by_keyword, declared[0][0], None)
    with pytest.raises(TypeError):
        cls(**arguments, unknown=1)
