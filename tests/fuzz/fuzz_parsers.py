#!/usr/bin/env python3
"""Mutation fuzzing of every parser: corpus files, mutated, linted with every rule; any internal
error (PL000) is a crash, written to the output folder as a regression input. A parser that
reads big files a block at a time (``reads_blocks``) is also given each input so, in small
blocks: a document that differs from the one of the text read whole counts as a crash too. So
does an nftables document that differs when every rule and set is read by the grammar, or when
every set of plain elements is kept as a PlainSet.

    python3 tests/fuzz/fuzz_parsers.py [--seconds 600] [--inputs N] [--format F]... [--seed 1]
                                        [--out /tmp/portlint-crashes]

Every mutated input goes to every parser, so ``--inputs 100000`` is a campaign of 100k inputs
per parser (about 80 minutes of one core on the project's machine).

Not collected by pytest; tests/robustness/test_fuzz.py runs a small fixed budget of it.
"""
from __future__ import annotations

import argparse
import pathlib
import random
import shutil
import sys
import tempfile
import time
from functools import partial

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
#: Pieces that steer mutations towards the syntax of every format.
TOKENS = ["{", "}", '"', "'", "$", "${", "#", "\n", ":", "-", "!", "[", "]", "\t", "\\", ";", 'include "x"',
          "&a", "*a", "<<: ", "\x00", "\ufeff", "-A", "--dport", "99999", "0x", "@s", "vmap", "{{{{", "ports:",
          "  - ", "${A:?", "$((", "`", "# portlint: ignore[PL201]", "\r"]


def mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(text) + 1)
        op = rng.random()
        if op < 0.4:
            text = text[:i] + rng.choice(TOKENS) + text[i:]
        elif op < 0.7:
            text = text[:i] + text[min(len(text), i + rng.randint(1, 40)):]
        else:
            j = rng.randrange(len(text) + 1)
            text = text[:i] + text[j:j + 30] + text[i:]
    return text


def campaign(seconds: float, seed: int, out: pathlib.Path | None, files: list[pathlib.Path] | None = None,
             limit: int | None = None, formats: list[str] | None = None,
             progress: int = 0) -> tuple[int, list[tuple[str, str, str]]]:
    """Lint mutated inputs as every format until the time or ``limit`` inputs (per parser) run
    out; returns the number of inputs per parser and the crashes ``(format, input, message)``."""
    from portlint.catalog import load
    from portlint.linter import Linter, Selection
    from portlint.plugins import load_registry
    from portlint.rules import Settings

    registry = load_registry(entry_points=False)
    unknown = sorted(set(formats or ()) - set(registry.parsers))
    if unknown:
        raise SystemExit(f"unknown parser {', '.join(unknown)} (known: {', '.join(registry.parsers)})")
    linter = Linter(registry, load(), Settings(), Selection(registry.rules.values(), ["ALL"], None))
    files = files or sorted(p for p in CORPUS.rglob("*") if p.is_file() and "LICENSES" not in p.parts
                            and p.suffix not in (".jsonl", ".md"))
    rng = random.Random(seed)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="portlint-fuzz-"))
    deadline = time.monotonic() + seconds
    count, crashes = 0, []
    while time.monotonic() < deadline and (limit is None or count < limit):
        text = mutate(rng.choice(files).read_text(encoding="utf-8", errors="replace"), rng)
        count += 1
        if progress and count % progress == 0:
            print(f"{count} inputs, {len(crashes)} crashes", file=sys.stderr, flush=True)
        for fmt in formats or registry.parsers:
            _, findings = linter.lint_text(text, "fuzz", fmt)
            problems = [finding.message for finding in findings if finding.code == "PL000"]
            if getattr(registry.parsers[fmt], "reads_blocks", False):
                problems.append(read_in_blocks_differs(registry.parsers[fmt], text, scratch / "input", rng))
            if fmt == "nftables":
                problems.append(fast_path_differs(registry.parsers[fmt], text))
            for message in filter(None, problems):
                crashes.append((fmt, text, message))
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    (out / f"crash-{fmt}-{len(crashes)}.txt").write_text(text, encoding="utf-8")
    shutil.rmtree(scratch)
    return count, crashes


def read_in_blocks_differs(parser, text: str, path: pathlib.Path, rng: random.Random) -> str | None:
    """How the document of ``text`` differs when the file is read in blocks of a few bytes
    (portlint.source_text.PackedText); None when it is the same, line for line."""
    from portlint import source_text

    data = text.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    whole = parser.parse(source_text.decode(data, str(path))[0], str(path))
    block, source_text.BLOCK = source_text.BLOCK, rng.choice([1, 16, 100, 4096])
    try:
        packed = source_text.PackedText.open(str(path))
        in_blocks = parser.parse(packed, str(path))
    finally:
        source_text.BLOCK = block
    differs = documents_differ(in_blocks, whole, "read in blocks")
    if differs:
        return differs
    lines = len(str(packed).splitlines()) + 2
    if any(in_blocks.line_text(n) != whole.line_text(n) for n in range(lines)):
        return "read in blocks, its lines differ"
    return None


def fast_path_differs(parser, text: str) -> str | None:
    """How the nftables document of ``text`` differs when the grammar reads every rule and set,
    or when every set of plain elements is a PlainSet read again when asked; None when it is
    the same."""
    from portlint.parsers import nftables_fast, nftables_ruleset, nftables_syntax

    usual = parser.parse(text, "fuzz")
    with_grammar = nftables_ruleset.parse
    nftables_ruleset.parse = partial(nftables_syntax.parse, fast_path=False)
    try:
        by_grammar = parser.parse(text, "fuzz")
    finally:
        nftables_ruleset.parse = with_grammar
    lazy_above, nftables_fast.PlainSets.LAZY_ABOVE = nftables_fast.PlainSets.LAZY_ABOVE, -1
    try:
        lazy = parser.parse(text, "fuzz")
    finally:
        nftables_fast.PlainSets.LAZY_ABOVE = lazy_above
    return documents_differ(by_grammar, usual, "read by the grammar") or \
        documents_differ(lazy, usual, "with every plain set a PlainSet")


def documents_differ(document, expected, how: str) -> str | None:
    for part in ("declarations", "policies", "diagnostics"):
        if getattr(document, part) != getattr(expected, part):
            return f"{how}, its {part} differ"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs per parser")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", action="append", dest="formats", help="fuzz this parser only (repeatable)")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("/tmp/portlint-crashes"))
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}", file=sys.stderr)
        return 2
    started = time.monotonic()
    count, crashes = campaign(args.seconds, args.seed, args.out, limit=args.inputs, formats=args.formats,
                              progress=1000)
    for fmt, _, message in crashes:
        print(f"crash ({fmt}): {message}")
    print(f"{count} inputs to each parser, {len(crashes)} crashes, {time.monotonic() - started:.0f} s")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
