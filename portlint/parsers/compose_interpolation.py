"""Compose variable interpolation (``${VAR:-default}`` ...) and the ``.env`` files it reads.

Values come from the project's ``.env`` file and, only when the user opts in, the process
environment, which wins as in Compose. A variable that is unset and has no default becomes the
empty string, as in Compose, and is reported: the caller is told where it stood in the result so
that no port is read from it.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Mapping

from ..discovery import open_regular
from ..model import record
from .common import error_offset, grammar

_DOTENV_LINE = re.compile(r"\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s*(?P<value>.*?)\s*$")
_BRACES = re.compile(r"\$\$|\$\{|\}")
#: Defaults within defaults (``${A:-${B:-...}}``) read before a value is refused: real files nest
#: one or two, and each level is three frames of Python's stack (5,000 overflowed it).
MAX_NESTING = 32


@record
class Unresolved:
    """A variable without a value: its name, its offset in the source text and in the result."""

    name: str
    source_offset: int
    result_offset: int
    message: str


@dataclass
class Interpolated:
    """A value with its variables substituted, and those that had no value."""

    value: str
    unresolved: list[Unresolved] = field(default_factory=list)

    def depends_on_unresolved(self, start: int, end: int) -> bool:
        """Whether the result characters ``start:end`` touch a variable that had no value."""
        return any(start <= u.result_offset <= end for u in self.unresolved)


class InterpolationError(ValueError):
    """A ``$`` construct Compose rejects; ``offset`` is where it starts in the source text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def interpolate(text: str, environment: Mapping[str, str]) -> Interpolated:
    """``text`` with its variables replaced, or ``text`` itself when it has none."""
    if "$" not in text:
        return Interpolated(text)
    from lark.exceptions import LarkError  # only for values with variables

    _check_nesting(text)
    try:
        tree = grammar("compose_interpolation").parse(text)
    except LarkError as exc:
        raise _bad_template(text, error_offset(exc, text)) from None
    out = Interpolated("")
    out.value = _Evaluator(environment, out.unresolved).parts(tree.children, 0)
    return out


def _check_nesting(text: str) -> None:
    """Refuse ``${...}`` nested more than MAX_NESTING deep (``$$`` is a literal ``$``)."""
    depth = 0
    for match in _BRACES.finditer(text):
        if match.group() == "${":
            depth += 1
            if depth > MAX_NESTING:
                raise InterpolationError(f"interpolation nested more than {MAX_NESTING} deep: portlint does not "
                                         "read it", match.start())
        elif match.group() == "}" and depth:
            depth -= 1


def _bad_template(text: str, offset: int) -> InterpolationError:
    start = text.rfind("${", 0, offset + 1)
    start = start if start >= 0 else offset
    return InterpolationError(
        f"invalid interpolation {text[start:offset + 1]!r}: expected ${{NAME}}, ${{NAME:-default}}, "
        "${NAME:?error} or $$ for a literal $", start)


class _Evaluator:
    """Evaluates the parse tree left to right, tracking each unresolved variable's offset."""

    def __init__(self, environment: Mapping[str, str], unresolved: list[Unresolved]) -> None:
        self.env = environment
        self.unresolved = unresolved

    def parts(self, children, offset: int) -> str:
        out: list[str] = []
        for child in children:
            out.append(self.part(child, offset + sum(map(len, out))))
        return "".join(out)

    def part(self, child, offset: int) -> str:
        if isinstance(child, str):  # a lark Token
            return "$" if child.type == "ESCAPED" else child.value
        if child.data == "named":
            token = child.children[0]
            return self.lookup(token.value[1:], None, [], token.start_pos, offset)
        name_token, *rest = child.children
        if len(rest) == 1:  # ${NAME}
            return self.lookup(name_token.value, None, [], name_token.start_pos - 2, offset)
        operator, inner = rest[0].value, rest[1:-1]
        return self.lookup(name_token.value, operator, inner, name_token.start_pos - 2, offset)

    def lookup(self, name: str, operator: str | None, inner: list, source_offset: int, offset: int) -> str:
        value = self.env.get(name)
        is_set = value is not None
        if operator is None:
            if is_set:
                return value
            return self.missing(name, source_offset, offset, f"variable {name} is not set and has no default")
        strict = operator.startswith(":")
        present = bool(value) if strict else is_set
        if operator.endswith("-"):
            return value if present else self.parts(inner, offset)
        if operator.endswith("+"):
            return self.parts(inner, offset) if present else ""
        if present:  # "?": required
            return value
        detail = self.parts(inner, offset)
        state = "empty or not set" if strict else "not set"
        return self.missing(name, source_offset, offset,
                            f"required variable {name} is {state}" + (f": {detail}" if detail else ""))

    def missing(self, name: str, source_offset: int, offset: int, message: str) -> str:
        self.unresolved.append(Unresolved(name, source_offset, offset, message))
        return ""


def read_dotenv(path: str, environment: Mapping[str, str]) -> dict[str, str]:
    """The variables of a ``.env`` file (``NAME=value`` lines; quotes, ``export`` and comments as
    Compose reads them); empty when there is no such file. Later values may use earlier ones."""
    try:
        with io.TextIOWrapper(open_regular(path), encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            continue
        raw = match["value"]
        if raw[:1] == "'" and raw.endswith("'") and len(raw) > 1:
            values[match["name"]] = raw[1:-1]
            continue
        if raw[:1] == '"' and raw.endswith('"') and len(raw) > 1:
            raw = raw[1:-1].replace("\\n", "\n").replace('\\"', '"')
        else:
            raw = re.split(r"\s+#", raw, maxsplit=1)[0]
        try:
            values[match["name"]] = interpolate(raw, {**values, **environment}).value
        except InterpolationError:
            values[match["name"]] = raw
    return values
