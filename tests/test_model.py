"""The model's own behaviour (rules and parsers test the rest)."""
from __future__ import annotations

import random

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
