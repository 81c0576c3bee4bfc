"""Shell word expansion without running anything: parameters, quoting, field splitting.

Expands the ``word`` trees of ``grammars/shell.lark`` into :class:`~.shell_values.Field` s the
way the shell does (parameter expansion, then splitting of unquoted expansions on whitespace,
then brace expansion of literal words; no pathname expansion). What depends on the run (the
output of a command, an unset variable) becomes an unknown field that says why.
"""
from __future__ import annotations

import ast
import fnmatch
import operator
import re
import warnings
from typing import Protocol

from lark import Token, Tree

from .shell_values import Array, Field, HereDocument, Scalar, Segment, Span, Unknown, Value, Variable

_PARAM = re.compile(
    r"(?P<length>#)?(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(?:\[(?P<index>[^\]]*)\])?"
    r"(?P<op>:?[-=+?]|##?|%%?|//?|:|\^\^?|,,?)?(?P<arg>.*)", re.S)
_SIMPLE_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[^{}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-]))")
_ARITH_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9]+)\}?|\b([A-Za-z_][A-Za-z0-9_]*)\b")
_ARITH_TEXT = re.compile(r"[0-9\s()+\-*/%<>&|^~]*")
_ARITH_ASSIGNS = re.compile(r"(?<![=!<>])=(?!=)|\+\+|--|[-+*/%&|^]=|<<=|>>=")
_BRACE_LIST = re.compile(r"\{([^{}]*,[^{}]*)\}")
_BRACE_RANGE = re.compile(r"\{(-?[0-9]+)\.\.(-?[0-9]+)(?:\.\.(-?[0-9]+))?\}")
_IFS = re.compile(r"[ \t\n]+")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
#: Commands whose output portlint knows: the path of a program, and echo.
_LOCATORS = {("which",), ("command", "-v"), ("type", "-p"), ("type", "-P")}
MAX_BRACE_ITEMS = 4096
MAX_VALUE_LENGTH = 1 << 16  # longer values (a variable doubled in a loop) are not followed
_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b",
           "E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ARITH_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                    ast.Mod: lambda a, b: int(abs(a) % abs(b)) * (1 if a >= 0 else -1),
                    ast.FloorDiv: lambda a, b: int(a / b), ast.Pow: operator.pow,
                    ast.LShift: operator.lshift, ast.RShift: operator.rshift, ast.BitAnd: operator.and_,
                    ast.BitOr: operator.or_, ast.BitXor: operator.xor}


class Scope(Protocol):
    """The variables an expansion reads (and ``${X:=default}`` writes)."""

    def get(self, name: str) -> Variable | None: ...

    def set(self, name: str, value: Variable) -> None: ...

    @property
    def arguments(self) -> list[Scalar] | None: ...

    def unset_reason(self, name: str) -> str: ...


def first_token(tree: Tree | Token) -> Token:
    while isinstance(tree, Tree):
        tree = tree.children[0]
    return tree


class _Fields:
    """Builds the fields of one word: text, origins and whether the field is known."""

    def __init__(self, span: Span, source: str) -> None:
        self.span = span
        self.source = source
        self.fields: list[Field] = []
        self._reset()

    def _reset(self) -> None:
        self.text: list[str] = []
        self.origins: list = []
        self.unknown: str | None = None
        self.started = False
        self.pieces: list[Span | None] = []  # each contribution, with its own span if it has one

    def end(self) -> None:
        if self.started:
            span = self.pieces[0] if len(self.pieces) == 1 and self.pieces[0] is not None else self.span
            text = self.source if self.unknown else "".join(self.text)
            if len(text) > MAX_VALUE_LENGTH:
                self.unknown, text = f"a value longer than {MAX_VALUE_LENGTH} characters", self.source
            self.fields.append(Field(text, span, self.source, tuple(self.origins), self.unknown))
        self._reset()

    def literal(self, text: str, quoted: bool) -> None:
        if text or quoted:
            self.started = True
        if text:
            self.text.append(text)
            self.pieces.append(None)

    def value(self, value: Scalar, quoted: bool) -> None:
        if isinstance(value, Unknown):
            self.unknown = self.unknown or value.reason
            self.started = True
            self.pieces.append(None)
            return
        if quoted:
            self.started = True
            self.text.append(value.text)
            self.pieces.append(value.span)
            self.origins.extend(o for o in value.origins if o not in self.origins)
            return
        for number, piece in enumerate(_IFS.split(value.text)):  # field splitting
            if number:
                self.end()
            if piece:
                self.started = True
                self.text.append(piece)
                self.pieces.append(value.span)
                self.origins.extend(o for o in value.origins if o not in self.origins)

    def result(self) -> list[Field]:
        self.end()
        return self.fields


class Expander:
    """Expands words against a scope; ``text`` is the script (for spans and messages)."""

    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope

    # -- words -------------------------------------------------------------------------------

    def span(self, tree: Tree | Token, source: str | None = None) -> Span:
        first = first_token(tree)
        source = self.source(tree) if source is None else source
        line_end = source.find("\n")
        return Span(first.line, first.column, first.column + (len(source) if line_end < 0 else max(line_end, 1)))

    def source(self, tree: Tree | Token) -> str:
        return self.text[first_token(tree).start_pos:self.end(tree)]

    def end(self, tree: Tree | Token) -> int:
        """Where a word ends in the text: after its last token, and after the ``)`` of each
        command substitution it ends with (the grammar keeps no closing parenthesis)."""
        closing = 0
        while isinstance(tree, Tree):
            closing += tree.data in ("command_substitution", "process_substitution")
            tree = tree.children[-1]
        end = tree.end_pos
        for _ in range(closing):
            found = self.text.find(")", end)
            end = end if found < 0 else found + 1
        return end

    def fields(self, word: Tree, split: bool = True) -> list[Field]:
        """The fields of a word; ``split=False`` for assignments (no splitting, one field)."""
        only = word.children[0]
        if len(word.children) == 1 and isinstance(only, Token) and only.type == "LITERAL" and "{" not in only.value:
            return [Field(only.value, Span(only.line, only.column, only.end_column), only.value)]  # most words
        source = self.source(word)
        span = self.span(word, source)
        if split and all(isinstance(p, Token) and p.type == "LITERAL" for p in word.children):
            words = braces(source)
            if len(words) > 1:
                return [Field(text, span, source) for text in words]
        out = _Fields(span, source)
        for part in word.children:
            self.part(part, out, quoted=not split)
        return out.result()

    def scalar(self, word: Tree) -> Scalar:
        """A word as one value (an assignment's value, a case subject); a value that is exactly
        a function's argument keeps the place it was written at."""
        fields = self.fields(word, split=False)
        if not fields:
            return Value("")
        found = fields[0]
        if found.unknown:
            return Unknown(found.unknown)
        return Value(found.text, found.origins, found.span if found.span != self.span(word) else None)

    def assignment(self, word: Tree) -> tuple[str, Scalar] | None:
        """``NAME=value`` written as an argument (of ``local``, ``export``, ...): as the shell
        does, the value is expanded like an assignment's."""
        first = word.children[0]
        match = _ASSIGNMENT.match(first.value) if isinstance(first, Token) and first.type == "LITERAL" else None
        if match is None:
            return None
        rest = first.value[match.end():]
        parts = ([Token.new_borrow_pos("LITERAL", rest, first)] if rest else []) + word.children[1:]
        return match[1], self.scalar(Tree("word", parts)) if parts else Value("")

    def part(self, part: Tree | Token, out: _Fields, quoted: bool) -> None:
        if isinstance(part, Tree):
            if part.data == "dquoted":
                self.dquoted(part, out)
            elif part.data == "command_substitution":
                out.value(self.substitution(part), quoted)
            else:  # process_substitution: the path of a pipe
                out.value(Unknown(f"the process substitution {_short(self.source(part))}"), quoted)
            return
        kind, value = part.type, part.value
        if kind in ("LITERAL", "DQ_TEXT", "HD_TEXT", "HD_RAW"):
            out.literal(value, quoted)
        elif kind in ("ESCAPE", "DQ_ESCAPE", "HD_ESCAPE"):
            out.literal(value[1:], True)
        elif kind == "SQUOTED":
            out.literal(value[1:-1], True)
        elif kind == "ANSI_C":
            out.literal(ansi_c(value[2:-1]), True)
        elif kind == "DOLLAR":
            out.literal("$", quoted)
        elif kind == "VAR":
            self.parameter(value[1:], None, None, "", out, quoted)
        elif kind == "PARAM":
            self.braced(part, out, quoted)
        elif kind == "ARITH":
            out.value(self.arithmetic(value[3:-2]), quoted)
        elif kind == "BACKTICK":
            out.value(self.backticks(part), quoted)

    def dquoted(self, tree: Tree, out: _Fields) -> None:
        items = [c for c in tree.children if not (isinstance(c, Token) and c.type == "DQUOTE")]
        if len(items) == 1 and isinstance(items[0], Token) and items[0].value in ("$@", "${@}"):
            args = self.scope.arguments
            if args is not None and not args:
                return  # "$@" without arguments is no field at all
        out.literal("", True)
        for item in items:
            self.part(item, out, quoted=True)

    # -- parameters ----------------------------------------------------------------------------

    def braced(self, token: Token, out: _Fields, quoted: bool) -> None:
        inside = token.value[2:-1]
        match = _PARAM.fullmatch(inside)
        if match is None or (match["op"] is None and match["arg"]):
            out.value(Unknown(f"${{{inside}}}, a form of parameter expansion portlint does not evaluate"), quoted)
        elif match["length"]:
            out.value(self.length(match["name"], match["index"]), quoted)
        else:
            self.parameter(match["name"], match["index"], match["op"], match["arg"], out, quoted)

    def parameter(self, name: str, index: str | None, op: str | None, arg: str, out: _Fields,
                  quoted: bool) -> None:
        if name not in ("@", "*") and index not in ("@", "*"):
            out.value(self.operate(name, self.value_of(name, index), op, arg), quoted)
            return
        items = self.items(name)
        if items is None:
            out.value(Unknown("the arguments the script is run with"), quoted)
        elif quoted and "@" in (name, index):
            for number, item in enumerate(items):
                if number:
                    out.end()
                out.value(item, True)
        else:
            out.value(_join(items), quoted)

    def items(self, name: str) -> list[Scalar] | None:
        """``$@`` (None: the script's own arguments) or the elements of an array."""
        if name in ("@", "*"):
            return self.scope.arguments
        found = self.scope.get(name)
        if isinstance(found, Array):
            return list(found.items)
        return [self.unset(name) if found is None else found]

    def length(self, name: str, index: str | None) -> Scalar:
        if index in ("@", "*") or name in ("@", "*"):
            items = self.items(name)
            return Unknown("the arguments the script is run with") if items is None else Value(str(len(items)))
        found = self.value_of(name, index)
        if found is None:
            return Value("0")
        return Value(str(len(found.text))) if isinstance(found, Value) else found

    def value_of(self, name: str, index: str | None = None) -> Scalar | None:
        """``$name`` or ``${name[index]}``; None when it is not set."""
        if name.isdigit():
            number, args = int(name), self.scope.arguments
            if number == 0:
                return Unknown("$0, the path the script is run as")
            if args is None:
                return Unknown(f"${name}, an argument the script is run with")
            return args[number - 1] if number <= len(args) else None
        if name == "#":
            args = self.scope.arguments
            return Unknown("$#, the number of arguments of the script") if args is None else Value(str(len(args)))
        if name in "?$!-":
            return Unknown(f"${name}, known only when the script runs")
        found = self.scope.get(name)
        if not isinstance(found, Array):
            return found if index in (None, "0") else None
        position = self.scalar_text(index or "0")
        if isinstance(position, Unknown) or not position.text.lstrip("-").isdigit():
            return Unknown(f"{name}[{index}], an element portlint cannot tell")
        number = int(position.text)
        return found.items[number] if -len(found.items) <= number < len(found.items) else None

    def unset(self, name: str) -> Unknown:
        if name.isdigit():
            return Unknown(f"${name}, an argument this call does not pass")
        return Unknown(self.scope.unset_reason(name))

    def operate(self, name: str, found: Scalar | None, op: str | None, arg: str) -> Scalar:
        """``${name OP arg}``: defaults, alternatives, trimming, substitution, slices, case."""
        if op in ("-", ":-", "=", ":=", "+", ":+", "?", ":?"):
            if isinstance(found, Unknown):
                return found
            empty = found is None or (op.startswith(":") and not found.text)
            if op.endswith("+"):
                return Value("") if empty else self.scalar_text(arg)
            if not empty:
                return found
            if op.endswith("?"):
                return Unknown(f"{name}, which the script requires (${{{name}{op}...}}) but does not set")
            default = self.scalar_text(arg)
            if op.endswith("=") and not name.isdigit():
                self.scope.set(name, default)
            return default
        if found is None:
            return self.unset(name)
        if op is None or isinstance(found, Unknown):
            return found
        pattern = self.scalar_text(arg.split("/", 1)[0] if op.startswith("/") else arg)
        if isinstance(pattern, Unknown):
            return pattern
        text = found.text
        if op in ("#", "##", "%", "%%"):
            return Value(_trim(text, pattern.text, op), found.origins)
        if op in ("/", "//"):
            replacement = self.scalar_text(arg.split("/", 1)[1] if "/" in arg else "")
            if isinstance(replacement, Unknown) or any(c in pattern.text for c in "*?["):
                return Unknown(f"${{{name}{op}{arg}}}, a substitution portlint does not evaluate")
            return Value(text.replace(pattern.text, replacement.text, -1 if op == "//" else 1), found.origins)
        if op == ":":
            offset, _, count = arg.partition(":")
            try:
                start = int(offset.strip().strip("()"))
                end = start + int(count) if count else None
            except ValueError:
                return Unknown(f"${{{name}:{arg}}}, a slice portlint does not evaluate")
            return Value(text[start:end] if start >= 0 else text[len(text) + start:end], found.origins)
        return Value(text.upper() if op.startswith("^") else text.lower(), found.origins)

    def scalar_text(self, text: str) -> Scalar:
        """A word written inside ``${...}``: quotes and ``$name`` / ``${...}`` references."""
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return Value(text[1:-1])
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if "`" in text or "$(" in text or "\\" in text:
            return Unknown(f"{text!r}, a default portlint does not evaluate")
        out, origins, at = [], [], 0
        for match in _SIMPLE_REFERENCE.finditer(text):
            out.append(text[at:match.start()])
            at = match.end()
            inner = match["braced"]
            found = _PARAM.fullmatch(match["name"] if inner is None else inner)
            if found is None or found["length"] or found["index"] or found["name"] in ("@", "*"):
                return Unknown(f"{match[0]}, a form of parameter expansion portlint does not evaluate")
            value = self.operate(found["name"], self.value_of(found["name"]), found["op"], found["arg"])
            if isinstance(value, Unknown):
                return value
            out.append(value.text)
            origins.extend(value.origins)
        out.append(text[at:])
        return Value("".join(out), tuple(origins))

    # -- commands whose output is known, and arithmetic ------------------------------------------

    def substitution(self, tree: Tree) -> Scalar:
        """``$(which iptables)``, ``$(command -v ip6tables)``, ``$(echo 22 80)``; else unknown."""
        commands = [c for c in tree.children if isinstance(c, Tree)]
        body = commands[0].children if commands else []
        unknown = Unknown(f"the output of `{_short(self.source(tree)[2:-1])}`")
        if len(body) != 1 or not isinstance(body[0], Tree) or body[0].data != "simple_command":
            return unknown
        words = [c for c in body[0].children if c.data == "word"]
        others = [c for c in body[0].children if c.data != "word"]
        fields = [f for w in words for f in self.fields(w)]
        if any(not _quiet(c) for c in others) or any(f.unknown for f in fields):
            return unknown
        return _known_output([f.text for f in fields]) or unknown

    def backticks(self, token: Token) -> Scalar:
        words = token.value[1:-1].split()
        found = _known_output(words) if all(re.fullmatch(r"[\w./+-]+", w) for w in words) else None
        return found or Unknown(f"the output of `{_short(token.value[1:-1])}`")

    def arithmetic(self, expression: str) -> Scalar:
        """``$((BASE + 1))`` with known integers; assignments and unknowns are not evaluated."""
        unknown = Unknown(f"the arithmetic $(({_short(expression)}))")
        if _ARITH_ASSIGNS.search(expression):
            return unknown
        origins = []

        def substitute(match: re.Match) -> str:
            name = match[1] or match[2]
            value = self.value_of(name) or Value("0")  # an unset variable is 0 in arithmetic
            if isinstance(value, Unknown) or not value.text.strip().lstrip("-").isdigit():
                raise ValueError(name)
            origins.extend(value.origins)
            return f"({value.text.strip()})"

        try:
            integers = _ARITH_NAME.sub(substitute, expression)
            if not _ARITH_TEXT.fullmatch(integers):
                return unknown
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(integers.replace("/", "//"), mode="eval")
            result = _arith(tree.body)
        except (ValueError, SyntaxError, ZeroDivisionError, TypeError, OverflowError, RecursionError):
            return unknown
        return Value(str(result), tuple(origins))

    # -- here-documents --------------------------------------------------------------------------

    def here_document(self, body: Tree, strip_tabs: bool) -> HereDocument:
        """A here-document's text (expanded unless its delimiter is quoted) and its segments."""
        text: list[str] = []
        segments: list[Segment] = []
        at = 0
        for part in body.children:
            if isinstance(part, Token) and part.type in ("HD_START", "HD_RAW_START", "HD_END"):
                continue
            if isinstance(part, Token) and part.type in ("HD_TEXT", "HD_RAW", "HD_ESCAPE"):
                chunk = part.value[1:] if part.type == "HD_ESCAPE" else part.value
                column = part.column
                if strip_tabs and part.column == 1:
                    stripped = chunk.lstrip("\t")
                    column += len(chunk) - len(stripped)
                    chunk = stripped
                if chunk:
                    segments.append(Segment(at, Span(part.line, column, column + len(chunk)), True))
                    text.append(chunk)
                    at += len(chunk)
                continue
            out = _Fields(self.span(part), self.source(part))
            self.part(part, out, quoted=True)
            found = out.result()
            value = found[0] if found else Field("", out.span, out.source)
            segments.append(Segment(at, self.span(part), False, value.unknown, value.origins))
            chunk = "?" if value.unknown else value.text
            text.append(chunk)
            at += len(chunk)
        return HereDocument("".join(text), segments)


def _known_output(argv: list[str]) -> Value | None:
    if len(argv) == 2 and (argv[0],) in _LOCATORS or len(argv) == 3 and tuple(argv[:2]) in _LOCATORS:
        return Value(argv[-1])
    if argv and argv[0] == "echo" and not any(a.startswith("-") for a in argv[1:2]):
        return Value(" ".join(argv[1:]))
    return None


def _quiet(node: Tree) -> bool:
    """A redirection that leaves standard output alone (``2>/dev/null``, ``2>&1``)."""
    operator = node.children[0]
    return node.data == "redirect" and operator.type == "REDIRECT" and operator.value[:1] == "2"


def _join(items: list[Scalar]) -> Scalar:
    for item in items:
        if isinstance(item, Unknown):
            return item
    return Value(" ".join(i.text for i in items), tuple(o for i in items for o in i.origins))


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _trim(text: str, pattern: str, op: str) -> str:
    """``${x#p}`` and friends: remove the shortest/longest prefix/suffix matching a glob."""
    cuts = range(len(text) + 1)
    if op.startswith("#"):
        for cut in (reversed(cuts) if op == "##" else cuts):
            if fnmatch.fnmatchcase(text[:cut], pattern):
                return text[cut:]
    else:
        for cut in (cuts if op == "%%" else reversed(cuts)):
            if fnmatch.fnmatchcase(text[cut:], pattern):
                return text[:cut]
    return text


def _arith(node: ast.AST) -> int:
    """Integer arithmetic on 64-bit values, as the shell's (anything larger is not evaluated)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        value = node.value
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        value = _arith(node.operand)
        value = -value if isinstance(node.op, ast.USub) else value if isinstance(node.op, ast.UAdd) else ~value
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH_OPERATORS:
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, (ast.Pow, ast.LShift)) and not 0 <= right < 64:
            raise OverflowError("exponent or shift out of range")
        value = _ARITH_OPERATORS[type(node.op)](left, right)
    else:
        raise ValueError("not integer arithmetic")
    if not -2 ** 63 <= value < 2 ** 63:
        raise OverflowError("beyond 64 bits")
    return value


def ansi_c(text: str) -> str:
    """The value of ``$'...'``: C escapes (octal and hex included)."""
    out, at = [], 0
    while at < len(text):
        char = text[at]
        if char != "\\" or at + 1 == len(text):
            out.append(char)
            at += 1
            continue
        nxt = text[at + 1]
        octal = re.match(r"[0-7]{1,3}", text[at + 1:])
        hexa = re.match(r"x([0-9A-Fa-f]{1,2})", text[at + 1:])
        if nxt in _ANSI_C:
            out.append(_ANSI_C[nxt])
            at += 2
        elif octal:
            out.append(chr(int(octal[0], 8)))
            at += 1 + len(octal[0])
        elif hexa:
            out.append(chr(int(hexa[1], 16)))
            at += 1 + len(hexa[0])
        else:
            out.append(char + nxt)
            at += 2
    return "".join(out)


def braces(text: str) -> list[str]:
    """Brace expansion of a literal word: ``{80,443}``, ``{1..3}``, ``port{1,2}x``."""
    match = _BRACE_LIST.search(text) or _BRACE_RANGE.search(text)
    if match is None:
        return [text]
    if match.re is _BRACE_LIST:
        items = match[1].split(",")
    else:
        start, stop, step = int(match[1]), int(match[2]), abs(int(match[3] or 1)) or 1
        count = abs(stop - start) // step + 1
        if count > MAX_BRACE_ITEMS:
            return [text]
        items = [str(n) for n in range(start, stop + (1 if stop >= start else -1), step if stop >= start else -step)]
    words: list[str] = []
    for item in items:
        words.extend(braces(text[:match.start()] + item + text[match.end():]))
        if len(words) > MAX_BRACE_ITEMS:
            return [text]
    return words
