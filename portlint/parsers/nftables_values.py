"""What nftables expressions stand for: variables, and the ports of a port match.

Variables are bound where they are used, as nft binds them while it parses: ``define`` takes the
values its own variables have at that point, and a later ``redefine`` does not change the rules
read before it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from lark import Token

from ..model import MAX_PORT, Location, PortRange, record
from .common import INVALID_PORT, PARSE_ERROR, UNKNOWN_SERVICE
from .nftables_syntax import (
    Concat,
    Conntrack,
    Element,
    ListExpr,
    MapLookup,
    Mapping,
    Meta,
    Node,
    Payload,
    PlainSet,
    Prefix,
    Range,
    SetLiteral,
    SetRef,
    Span,
    Var,
    Verdict,
    span_of,
    scanned_number,
)

UNRESOLVED_VARIABLE = "PL005"
PORT_BITS = 16

Report = Callable[[str, str, Location], None]


def location(path: str, span: Span) -> Location:
    return Location(path, span[2], span[3], span[4], span[5])


@dataclass(slots=True)
class Bound:
    """A variable where it is used, with the value it has there (written in ``path``)."""

    name: str
    value: Any
    path: str
    span: Span


class Scope:
    """nft's symbol scopes: the file, then each table and chain block opened around a use."""

    def __init__(self) -> None:
        self._frames: list[dict[str, Bound]] = [{}]

    def push(self) -> None:
        self._frames.append({})

    def pop(self) -> None:
        self._frames.pop()

    def define(self, name: str, value: Bound, redefine: bool) -> bool:
        """Bind ``name`` in the innermost scope; False when ``define`` finds it already bound
        there (nft's "redefinition of symbol")."""
        frame = self._frames[-1]
        if name in frame and not redefine:
            return False
        frame[name] = value
        return True

    def undefine(self, name: str) -> None:
        self._frames[-1].pop(name, None)

    def lookup(self, name: str) -> Bound | None:
        for frame in reversed(self._frames):
            if name in frame:
                return frame[name]
        return None


def bind(expr, scope: Scope, unknown: Callable[[Var], None]):
    """``expr`` with each variable replaced by its value in ``scope`` (a :class:`Bound`);
    ``unknown`` is told about the variables that have none, which stay :class:`Var`."""
    if isinstance(expr, _LEAVES) or expr is None:
        return expr
    if isinstance(expr, Var):
        found = scope.lookup(expr.name)
        if found is None:
            unknown(expr)
            return expr
        return Bound(expr.name, found.value, found.path, expr.span)
    if isinstance(expr, list):
        return [bind(item, scope, unknown) for item in expr]
    if isinstance(expr, PlainSet):
        return expr  # addresses and numbers: no variables
    if isinstance(expr, SetLiteral):
        return SetLiteral(bind(expr.items, scope, unknown), expr.span)
    if isinstance(expr, Element):
        return Element(bind(expr.key, scope, unknown), expr.span)
    if isinstance(expr, (Mapping, Range, MapLookup)):
        first, second = (expr.key, expr.value) if isinstance(expr, Mapping) else \
            (expr.low, expr.high) if isinstance(expr, Range) else (expr.key, expr.map)
        return type(expr)(bind(first, scope, unknown), bind(second, scope, unknown), expr.span)
    if isinstance(expr, Prefix):
        return Prefix(bind(expr.value, scope, unknown), expr.length, expr.span)
    if isinstance(expr, (Concat, ListExpr)):
        return type(expr)(bind(expr.parts if isinstance(expr, Concat) else expr.items, scope, unknown), expr.span)
    if isinstance(expr, Verdict) and isinstance(expr.target, Var):
        return replace(expr, target=bind(expr.target, scope, unknown))
    if isinstance(expr, Node):
        return Node(expr.kind, bind(expr.children, scope, unknown), expr.span)
    return expr  # nothing to bind


#: Expressions without variables in them (words, packet and metadata fields, set references):
#: most of what :func:`bind` meets, so it looks for them first.
_LEAVES = (Token, str, Payload, Meta, Conntrack, SetRef)


def unwrap(expr):
    """The value behind variables and parentheses: ``$ports`` -> ``{ 22, 80 }``."""
    while isinstance(expr, Bound) or (isinstance(expr, Node) and expr.kind == "parens"):
        expr = expr.value if isinstance(expr, Bound) else expr.children[0]
    return expr


def word(expr) -> str | None:
    """The text of a single word (behind variables), without quotes; None for anything else."""
    expr = unwrap(expr)
    if isinstance(expr, Token):
        return expr.value[1:-1] if expr.type == "QUOTED" else expr.value
    return None


@record
class Piece:
    """One port or range of a match, where it is written, and what a map maps it to."""

    ports: PortRange
    location: Location
    value: Any = None
    value_path: str = ""


class PortReader:
    """Reads the ports an expression stands for (numbers, service names, ranges, prefixes,
    sets), reporting what nft would reject: PL002 for a bad port, PL003 for an unknown service,
    PL005 for an unknown variable."""

    def __init__(self, resolve_service: Callable[[str, str | None], int | None], report: Report) -> None:
        self.resolve_service = resolve_service
        self.report = report

    def pieces(self, expr, path: str, component: int | None = None) -> list[Piece]:
        """The ports of ``expr`` (of its ``component`` when it is a concatenation), element by
        element; what cannot be read is reported and left out."""
        out: list[Piece] = []
        self._collect(expr, path, component, out, None)
        return out

    def _collect(self, expr, path: str, component: int | None, out: list[Piece], value) -> None:
        if isinstance(expr, Bound):
            self._collect(expr.value, expr.path, component, out, value)
        elif isinstance(expr, SetLiteral):
            for item in expr.items:
                self._collect(item, path, component, out, None)
        elif isinstance(expr, Element):
            self._collect(expr.key, path, component, out, value)
        elif isinstance(expr, Mapping):
            self._collect(expr.key, path, component, out, (expr.value, path))
        elif component is not None:
            parts = _concat_parts(expr)
            if parts is not None and component < len(parts):
                self._collect(parts[component], path, None, out, value)
        elif isinstance(expr, Var):
            pass  # a variable without a value: reported where it was bound
        elif isinstance(expr, ListExpr):
            self.report(INVALID_PORT, "a comma-separated list is not a set of ports (nft rejects it): "
                                      "write it as a set, { 22, 80 }", location(path, expr.span))
        else:
            ports = self.port_range(expr, path)
            if ports is not None:
                mapped, mapped_path = value if value else (None, "")
                out.append(Piece(ports, location(path, span_of(expr)), mapped, mapped_path))

    def port_range(self, expr, path: str) -> PortRange | None:
        """A single port, ``a-b`` or ``port/bits``."""
        expr = unwrap(expr)
        if isinstance(expr, Range):
            low, high = self.port(expr.low, path), self.port(expr.high, path)
            if low is None or high is None:
                return None
            if low > high:
                self.report(INVALID_PORT, f"invalid port range {low}-{high}: the first port is greater than the "
                                          "last (nft: range has zero or negative size)", location(path, expr.span))
                return None
            return PortRange(low, high)
        if isinstance(expr, Prefix):
            base = self.port(expr.value, path)
            if base is None:
                return None
            if not 0 <= expr.length <= PORT_BITS:
                self.report(INVALID_PORT, f"invalid port prefix /{expr.length}: ports have {PORT_BITS} bits",
                            location(path, expr.span))
                return None
            host = (1 << (PORT_BITS - expr.length)) - 1
            return PortRange(base & ~host, base | host)
        port = self.port(expr, path)
        return None if port is None else PortRange.single(port)

    def port(self, expr, path: str) -> int | None:
        """A port number or a service name (resolved for any protocol, as nft does)."""
        if isinstance(expr, Bound):
            return self.port(expr.value, expr.path)
        if isinstance(expr, Var):
            return None  # a variable without a value: reported where it was bound
        value = unwrap(expr)
        if not isinstance(value, Token) or value.type not in ("NUMBER", "STRING", "QUOTED"):
            self.report(INVALID_PORT, f"{_describe(value)} is not a port", location(path, span_of(expr)))
            return None
        text = word(value)
        if value.type == "NUMBER" or text.isdigit():
            number = scanned_number(text)
            if number > MAX_PORT:
                self.report(INVALID_PORT, f"invalid port {text}: ports are 0-{MAX_PORT} (nft: service out of range)",
                            location(path, span_of(expr)))
                return None
            return number
        port = self.resolve_service(text, None)
        if port is None:
            self.report(UNKNOWN_SERVICE, f"unknown service name {text!r} (nft could not resolve it)",
                        location(path, span_of(expr)))
        return port

    def unknown_variable(self, var: Var, path: str) -> None:
        self.report(UNRESOLVED_VARIABLE, f"unknown variable ${var.name}: no define gives it a value here, "
                                         "so what it holds is not checked", location(path, var.span))


def _concat_parts(expr):
    expr = unwrap(expr)
    if isinstance(expr, Concat):
        return expr.parts
    return None


def _describe(expr) -> str:
    expr = unwrap(expr)
    if isinstance(expr, Token):
        return repr(expr.value)
    if isinstance(expr, SetRef):
        return f"@{expr.name}"
    return "this expression"


def mapping_outside_map(path: str, span: Span, report: Report) -> None:
    report(PARSE_ERROR, "mapping outside of map context: a set holds keys, only a map or vmap maps "
                        "them (`key : value`)", location(path, span))
