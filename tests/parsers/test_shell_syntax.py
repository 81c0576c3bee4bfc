"""The shell grammar and its post-lexer: words, keywords, here-documents, error recovery."""
from __future__ import annotations

import logging

import pytest
from lark import Lark, Token, Tree

from portlint.parsers.shell_syntax import parse_script
from portlint.resources import data_dir


def test_the_grammar_is_lalr_without_conflicts(caplog):
    """lark resolves a shift/reduce conflict silently (as a shift): a new rule must not add one."""
    text = (data_dir("grammars") / "shell.lark").read_text(encoding="utf-8")
    with caplog.at_level(logging.DEBUG, logger="lark"):
        Lark(text, parser="lalr", debug=True)
    assert not [r.message for r in caplog.records if "conflict" in r.message.lower()]


def words(text: str) -> list[list[str]]:
    """The words of each simple command, each as its parts (token types or tree names)."""
    tree, errors = parse_script(text, "t.sh")
    assert errors == []
    return [[" ".join(p.type if isinstance(p, Token) else p.data for p in w.children)
             for w in command.children if isinstance(w, Tree) and w.data == "word"]
            for command in tree.iter_subtrees_topdown() if command.data == "simple_command"]


def test_parts_written_together_make_one_word():
    assert words('iptables --dport="$p"x ${A}0 "a"\'b\'\\c d\n') == [
        ["LITERAL", "LITERAL dquoted LITERAL", "PARAM LITERAL", "dquoted SQUOTED ESCAPE", "LITERAL"]]


@pytest.mark.parametrize("text", [
    "echo done in esac fi then do { } ! ]] function\n",
    "iptables -A INPUT ! -s 10.0.0.1 -j ACCEPT\n",
    "case x in\nfi) echo;;\ndone|in) echo;;\nskip=*) echo;;\nesac\n",
    "X=1 Y=a\"b\"$c Z=$(echo \"$(date)\") cmd arg=1 ./x\n",
])
def test_keywords_and_assignments_only_where_the_shell_reads_them(text):
    tree, errors = parse_script(text, "t.sh")
    assert errors == [] and tree is not None


def test_here_document_bodies_follow_their_line():
    tree, errors = parse_script("cat <<A <<'B'; echo after\none $x\nA\ntwo $x\nB\necho end\n", "t.sh")
    assert errors == []
    bodies = [b for b in tree.iter_subtrees_topdown() if b.data == "heredoc"]
    assert [[c.type for c in b.children if isinstance(c, Token)] for b in bodies] == [
        ["HD_START", "HD_TEXT", "VAR", "HD_TEXT", "HD_END"], ["HD_RAW_START", "HD_RAW", "HD_END"]]
    assert [w[0] for w in words("cat <<A <<'B'; echo after\none $x\nA\ntwo $x\nB\necho end\n")] == [
        "LITERAL", "LITERAL", "LITERAL"]


def test_errors_name_what_was_expected_and_recovery_goes_on():
    tree, errors = parse_script("if true; then\n  echo a\ndone\necho b\n", "t.sh")
    assert [(e.location.line, e.location.column, e.message.split(";")[0]) for e in errors] == [
        (3, 1, "unexpected 'done'")]
    assert "expected" in errors[0].message and "'fi'" in errors[0].message
    assert tree is not None


@pytest.mark.parametrize("budget, parses", [(10**9, 20), (6000, 4), (100, 2)])
def test_a_script_is_parsed_again_within_a_budget(monkeypatch, budget, parses):
    """Each syntax error costs a parse of the whole script: 20 at most, and MAX_PARSED
    characters in all (at least two, so that one error is always recovered from). 40,000 bad
    lines (1.7 MB) took 20 parses, 80 s."""
    from portlint.parsers import shell_syntax

    parser = shell_syntax.grammar("shell", postlex=shell_syntax._POSTLEX)
    calls = []
    real = type(parser).parse
    monkeypatch.setattr(type(parser), "parse", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    monkeypatch.setattr(shell_syntax, "MAX_PARSED", budget)
    text = "iptables -A INPUT -p tcp --dport $((( -j ACCEPT\n" * 30  # 1,410 characters
    tree, errors = parse_script(text, "f.sh")
    assert tree is None and len(calls) == parses
    assert errors[-1].message.startswith("portlint gives up the script")
