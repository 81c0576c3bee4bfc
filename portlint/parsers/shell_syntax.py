"""The syntax of POSIX sh / bash scripts: ``grammars/shell.lark`` and the post-lexer it needs.

:func:`parse_script` gives the parse tree and a PL001 diagnostic for each statement it could
not parse; the evaluator (:mod:`portlint.parsers.shell_eval`) gives the tree its meaning.
"""
from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree
from lark.exceptions import UnexpectedInput
from lark.lark import PostLex

from ..model import Diagnostic, Location
from .common import PARSE_ERROR, grammar, lark_error

#: Terminals that start a part of a word, and that end one (``$(`` starts, its ``)`` ends).
PART_STARTS = frozenset({"LITERAL", "ESCAPE", "SQUOTED", "ANSI_C", "DQUOTE", "VAR", "PARAM", "ARITH",
                         "CMD_OPEN", "PROCESS_OPEN", "BACKTICK", "DOLLAR"})
PART_ENDS = frozenset({"LITERAL", "ESCAPE", "SQUOTED", "ANSI_C", "DQUOTE", "VAR", "PARAM", "ARITH",
                       "BACKTICK", "DOLLAR", "ASSIGN"})
#: Contexts in which parts always join, so no _GLUE is needed (or wanted) between them.
_JOINED = ("dq", "heredoc")
#: Tokens that open a construct the end of the file can leave open, and what closes it.
OPENERS = {
    "DQUOTE": ("a double-quoted string", "'\"'"), "CMD_OPEN": ("a $( command substitution", "')'"),
    "PROCESS_OPEN": ("a process substitution", "')'"),
    "LPAR": ("a '('", "')'"), "LBRACE": ("a '{' group", "'}'"), "FOR": ("a for loop", "'done'"),
    "WHILE": ("a while loop", "'done'"), "UNTIL": ("an until loop", "'done'"), "IF": ("an if", "'fi'"),
    "CASE": ("a case", "'esac'"), "_COND_OPEN": ("a [[ condition", "']]'"),
}
#: Syntax errors after which a script is given up: each costs a parse of the whole script.
MAX_ERRORS = 20
#: Text parsed for one script, all attempts together, before it is given up (a second attempt
#: is always made): a 2 MB script of bad lines took 20 parses, 93 s; a parse costs about 2 s a MB.
MAX_PARSED = 2 * 2**20

TERMINAL_NAMES = {
    **{name: "a word" for name in PART_STARTS}, "ASSIGN": "an assignment", "_GLUE": "a word",
    "_NL": "end of line", "$END": "end of file", "SEMICOLON": "';'", "AMPERSAND": "'&'",
    "AND_IF": "'&&'", "OR_IF": "'||'", "_PIPE": "'|'", "CASE_END": "';;'", "LPAR": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "BANG": "'!'", "IN": "'in'", "REDIRECT": "a redirection",
    "HEREDOC": "a here-document", "HERESTRING": "'<<<'", "ARITH_COMMAND": "'(( ))'",
    "_COND_OPEN": "'[['", "_COND_CLOSE": "']]'", "HD_END": "the end of the here-document",
    **{kw.upper(): f"'{kw}'" for kw in ("if", "then", "elif", "else", "fi", "for", "do", "done", "while",
                                         "until", "case", "esac", "function")},
}


@dataclass
class Heredoc:
    delimiter: str
    strip_tabs: bool  # <<- strips leading tabs from the body and the delimiter line
    raw: bool  # a quoted delimiter: the body is not expanded

    @classmethod
    def from_token(cls, token: Token) -> Heredoc:
        text = token.value[2:]
        strip_tabs = text.startswith("-")
        word = text.lstrip("-").strip(" \t")
        if word[:1] in ("'", '"'):
            return cls(word[1:-1], strip_tabs, True)
        if word.startswith("\\"):
            return cls(word[1:], strip_tabs, True)
        return cls(word, strip_tabs, False)

    def ends_at(self, token: Token) -> bool:
        """Whether ``token`` (a text token of the body) is the whole delimiter line."""
        if token.column != 1 or not token.value.endswith("\n"):
            return False
        line = token.value.rstrip("\n").rstrip("\r")
        return (line.lstrip("\t") if self.strip_tabs else line) == self.delimiter


class _TokenStream:
    """The state of the post-lexer over one text."""

    def __init__(self) -> None:
        self.contexts: list[str] = []  # "dq", "cmd" ($( ), "paren", "heredoc"
        self.pending: list[Heredoc] = []  # the <<s of the current line, in order
        self.body: Heredoc | None = None  # the here-document whose body is being read
        self.glue_after = -1  # end position of the last token when it ended a word part

    @property
    def top(self) -> str | None:
        return self.contexts[-1] if self.contexts else None

    def run(self, stream):
        last = None
        for token in stream:
            last = token
            kind = token.type
            if self.body is not None and kind in ("HD_TEXT", "HD_RAW") and self.body.ends_at(token):
                yield Token.new_borrow_pos("HD_END", token.value, token)
                self.contexts.pop()
                self.body = None
                yield from self.start_body(token)
                continue
            opens_part = kind in PART_STARTS and not (kind == "DQUOTE" and self.top == "dq")
            if opens_part and token.start_pos == self.glue_after and self.top not in _JOINED:
                yield Token.new_borrow_pos("_GLUE", "", token)
            yield token
            self.glue_after = self.track(token)
            if kind == "HEREDOC":
                self.pending.append(Heredoc.from_token(token))
            elif kind == "_NL":
                yield from self.start_body(token)
        if self.body is not None and last is not None:
            yield Token.new_borrow_pos("HD_END", "", last)  # unterminated: the evaluator says so

    def start_body(self, token: Token):
        if self.pending:
            self.body = self.pending.pop(0)
            self.contexts.append("heredoc")
            self.glue_after = -1
            yield Token.new_borrow_pos("HD_RAW_START" if self.body.raw else "HD_START", "", token)

    def track(self, token: Token) -> int:
        """Follow quotes and parentheses; the end of ``token`` when it ends a word part."""
        kind = token.type
        if kind == "DQUOTE":
            if self.top == "dq":
                self.contexts.pop()
                return token.end_pos
            self.contexts.append("dq")
        elif kind in ("CMD_OPEN", "PROCESS_OPEN"):
            self.contexts.append("cmd")
        elif kind == "LPAR":
            self.contexts.append("paren")
        elif kind == "RPAR":
            if self.top in ("cmd", "paren"):
                return token.end_pos if self.contexts.pop() == "cmd" else -1
        elif kind in PART_ENDS:
            return token.end_pos
        return -1


class ShellPostLex(PostLex):
    """Glues word parts and delimits here-document bodies (see the top of ``shell.lark``).

    Word parts are lexable in every parser state, so a part glued to a word where no further word
    may follow (``case "$1"x in``) is still lexed as a part, not rejected by the contextual lexer.
    """

    always_accept = tuple(sorted(PART_STARTS))

    def process(self, stream):
        return _TokenStream().run(stream)


_POSTLEX = ShellPostLex()


def parse_script(text: str, path: str) -> tuple[Tree | None, list[Diagnostic]]:
    """The parse tree of a script, and a PL001 for each statement that could not be parsed.

    When parsing fails, the line to blame (the bad token's, or the line of the construct the end
    of the file left open) is blanked and the text parsed again, so every other statement is
    still read; after ``MAX_ERRORS`` errors, or ``MAX_PARSED`` characters parsed, the script is
    given up, and a last PL001 says so.
    """
    parser = grammar("shell", postlex=_POSTLEX)
    lines = text.split("\n")
    if lines[-1]:
        lines.append("")  # a delimiter on the last line still ends its here-document
    errors: list[Diagnostic] = []
    blanked: list[int] = []
    attempts = max(2, min(MAX_ERRORS, MAX_PARSED // max(len(text), 1)))
    for _ in range(attempts):
        try:
            return parser.parse("\n".join(lines)), errors
        except UnexpectedInput as exc:
            error, line = _blame(exc, path)
            # A construct left open because its closing line was blanked is no new error.
            if not (error.message.endswith("before the end of the file") and line is not None
                    and any(b > line for b in blanked)):
                errors.append(error)
            if line is None or not lines[line - 1].strip():
                return None, errors
            lines[line - 1] = " " * len(lines[line - 1])  # keeps every offset: words are sliced from the text
            blanked.append(line)
    errors.append(Diagnostic(PARSE_ERROR, "portlint gives up the script after these syntax errors: none of its "
                                          "commands are checked", Location(path, 1, 1)))
    return None, errors


def _blame(exc: UnexpectedInput, path: str) -> tuple[Diagnostic, int | None]:
    """The diagnostic of a parse error and the line to blank before parsing again."""
    token = getattr(exc, "token", None)
    if token is None or token.type != "$END":
        error = lark_error(exc, path, TERMINAL_NAMES)
        return error, error.location.line
    opener = _innermost_opener(exc)
    if opener is None:
        return lark_error(exc, path, TERMINAL_NAMES), None
    what, closer = OPENERS[opener.type]
    location = Location(path, opener.line, opener.column, opener.line, opener.column + len(opener.value))
    return Diagnostic(PARSE_ERROR, f"{what} is never closed: expected {closer} before the end of the file",
                      location), opener.line


def _innermost_opener(exc: UnexpectedInput) -> Token | None:
    parser = getattr(exc, "interactive_parser", None)
    if parser is None:
        return None
    for value in reversed(parser.parser_state.value_stack):
        if isinstance(value, Token) and value.type in OPENERS:
            return value
    return None
