"""A small fixed budget of the mutation fuzzer (tests/fuzz/fuzz_parsers.py): mutated corpus
files, read as every format with every rule, never raise anything but a finding."""
from __future__ import annotations

import importlib.util
from pathlib import Path

FUZZER = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_parsers.py"


def test_mutated_corpus_files_never_crash_a_parser_or_rule(shared):
    spec = importlib.util.spec_from_file_location("fuzz_parsers", FUZZER)
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    count, crashes = fuzz.campaign(seconds=60, seed=20261126, out=None, limit=150)
    assert count >= 150
    assert crashes == [], crashes[0][2]
