"""Helpers every parser shares: loading grammars, reading port numbers, building diagnostics."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..model import MAX_PORT, Diagnostic, Location
from ..resources import data_dir

PARSE_ERROR = "PL001"
INVALID_PORT = "PL002"
UNKNOWN_SERVICE = "PL003"
UNRESOLVED_VARIABLE = "PL005"

#: Syntax errors after which a parser stops reading a file, as compilers stop after so many
#: errors: past that the file is garbage, another format or hostile, and each further bad line
#: cost time and memory (10 MB of bad lines took 50-90 s and 700 MiB, one PL001 each).
MAX_SYNTAX_ERRORS = 200

#: IP protocol numbers of the transport protocols that have ports.
PROTOCOL_NUMBERS = {"6": "tcp", "17": "udp", "33": "dccp", "132": "sctp", "136": "udplite"}


@lru_cache(maxsize=None)
def grammar(name: str, start: tuple[str, ...] = ("start",), transformer=None, postlex=None):
    """The LALR parser of ``grammars/<name>.lark`` with these start symbols (and this lark
    post-lexer), built once per process (and cached on disk by lark between processes)."""
    from lark import Lark
    from lark.parsers.lalr_analysis import IntParseTable

    IntParseTable.deserialize = classmethod(_parse_table)
    path = data_dir("grammars") / f"{name}.lark"
    return Lark(path.read_text(encoding="utf-8"), parser="lalr", cache=True, start=list(start),
                transformer=transformer, postlex=postlex)


def _parse_table(cls, data: dict, memo: dict):
    """Lark's ``IntParseTable.deserialize`` (lark 1.1.9 to 1.3), each distinct action made once:
    lark deserializes the rule of every reduce action again, a dict built per call, which took
    0.24 s of the 0.4 s the nftables grammar (1,945 states, 113k actions, 99k of them reduces)
    took to load from lark's cache: the start of every run on a small ruleset."""
    from lark.grammar import Rule
    from lark.parsers.lalr_analysis import Reduce, Shift

    tokens, shifts, reduces = data["tokens"], {}, {}
    states = {}
    for state, actions in data["states"].items():
        row = states[state] = {}
        for token, (kind, argument) in actions.items():
            if kind == 1:  # a reduce by a rule, written as a reference to it in the memo
                reference = argument.get("@")
                action = reduces.get(reference)
                if action is None:
                    action = (Reduce, Rule.deserialize(argument, memo))
                    if reference is not None:
                        reduces[reference] = action
            else:  # a shift to a state
                action = shifts.get(argument)
                if action is None:
                    action = shifts[argument] = (Shift, argument)
            row[tokens[token]] = action
    return cls(states, data["start_states"], data["end_states"])


@dataclass(slots=True)
class Word:
    """One word of a rule with its position; ``quoted`` words are never options."""

    text: str
    line: int
    column: int
    end_column: int
    kind: str = "WORD"  # OPTION, BANG, WORD or STRING

    def location(self, path: str) -> Location:
        return Location(path, self.line, self.column, self.line, self.end_column)


class PortSyntaxError(ValueError):
    """A port or range that no tool accepts; ``code`` says which rule reports it."""

    def __init__(self, message: str, code: str = INVALID_PORT) -> None:
        super().__init__(message)
        self.code = code


def port_number(text: str, protocol: str | None, resolve) -> int:
    """A port written as a number or a service name (resolved by ``resolve(name, proto)``)."""
    if text.isdigit():
        value = int(text)
        if value > MAX_PORT:
            raise PortSyntaxError(f"invalid port {text!r}: ports are 0-65535")
        return value
    if text and (text[0].isalpha()) and all(c.isalnum() or c in "-_." for c in text):
        port = resolve(text, protocol)
        if port is None:
            raise PortSyntaxError(f"unknown service name {text!r} for {protocol or 'any protocol'}", UNKNOWN_SERVICE)
        return port
    raise PortSyntaxError(f"invalid port {text!r}: expected a number 0-65535 or a service name")


def diagnostic(code: str, message: str, path: str, word: Word) -> Diagnostic:
    return Diagnostic(code, message, word.location(path))


def error_offset(exc, text: str) -> int:
    """Where in ``text`` a lark parse error is (``len(text)`` at the end of the text)."""
    token = getattr(exc, "token", None)
    if token is not None and token.type == "$END":
        return len(text)
    offset = getattr(exc, "pos_in_stream", None)
    return len(text) if offset is None or offset < 0 else min(offset, len(text))


def reading_stops(path: str, line: int) -> Diagnostic:
    """The PL001 of a parser that stops reading at ``line`` after MAX_SYNTAX_ERRORS errors (what
    it read before is still linted)."""
    return Diagnostic(PARSE_ERROR, f"{MAX_SYNTAX_ERRORS} syntax errors: portlint stops reading the file here, "
                                   "and lints what it read before", Location(path, line, 1))


def one_of(items: list[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b or c"``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def lark_error(exc, path: str, names: dict[str, str], line_offset: int = 0) -> Diagnostic:
    """A PL001 diagnostic for a lark parse error: where, what was found, what was expected
    (terminals named for people by ``names``)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    line = (getattr(exc, "line", 1) or 1) + line_offset
    column = getattr(exc, "column", 1) or 1
    expected = sorted({names.get(t, t) for t in (getattr(exc, "expected", None) or ())})
    wanted = f"; expected {one_of(expected)}" if expected else ""
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        found = "an unterminated quoted string" if char in "\"'" else f"unexpected character {char!r}"
        return Diagnostic(PARSE_ERROR, found + wanted, Location(path, line, column, line, column + 1))
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "$END":
            text = "unexpected end of file"
        elif token.type == "_NL":
            text = "unexpected end of line"
        else:
            text = f"unexpected {str(token)!r}"
        end = column + max(len(str(token)), 1) if token.type not in ("$END", "_NL") else column + 1
        return Diagnostic(PARSE_ERROR, text + wanted, Location(path, line, column, line, end))
    if isinstance(exc, UnexpectedEOF):
        return Diagnostic(PARSE_ERROR, "unexpected end of file" + wanted, Location(path, line, column))
    return Diagnostic(PARSE_ERROR, str(exc).splitlines()[0], Location(path, line, column))
