"""One compose ``ports:`` or ``expose:`` entry, short or long syntax, read into a PortBinding.

The short syntax is ``grammars/compose_ports.lark``; its common shapes (no address, an IPv4 one
or a bracketed IPv6 one, ports and ranges, a protocol) are split by a regular expression
instead, which a test proves gives what the grammar gives, so most files never load lark. This
module checks what the grammar cannot (port numbers, addresses, protocols, range lengths) the
way Docker Compose v2 does, and reports each problem at its own column. Values are interpolated
first; a port that depends on a variable without a value is never guessed: an unknown container
port drops the entry, an unknown host port leaves the binding without one.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Mapping, NamedTuple

from ..model import MAX_PORT, Diagnostic, Location, PortBinding, PortRange
from .common import INVALID_PORT, PARSE_ERROR, UNRESOLVED_VARIABLE, error_offset, grammar
from .compose_interpolation import Interpolated, InterpolationError, interpolate
from .compose_yaml import YamlFile, is_mapping, is_scalar, items, kind, scalar

PROTOCOLS = ("tcp", "udp", "sctp")
MODES = ("host", "ingress")
#: Host port 0 asks Docker for any free port, as an omitted host port does.
ANY_FREE_PORT = PortRange(0, 0)
LONG_SYNTAX_KEYS = ("target", "published", "host_ip", "protocol", "mode", "app_protocol", "name")
SHORT_SYNTAX = "[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]"


class EntryError(ValueError):
    """A problem in one entry: ``offset`` is its position in the (interpolated) text, if known."""

    def __init__(self, message: str, offset: int | None = None, code: str = PARSE_ERROR, node=None,
                 width: int = 1) -> None:
        super().__init__(message)
        self.offset = offset
        self.code = code
        self.node = node  # the YAML value it is in, when not the entry itself
        self.width = width


@dataclass
class _Value:
    """A scalar read from YAML: the interpolated text and the node it came from."""

    text: str
    node: object
    interpolated: Interpolated

    def unknown(self, start: int = 0, end: int | None = None) -> bool:
        return self.interpolated.depends_on_unresolved(start, len(self.text) if end is None else end)


class EntryReader:
    """Reads the entries of one YAML file, reporting problems into its diagnostics."""

    def __init__(self, doc: YamlFile, environment: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = environment

    # -- locations --------------------------------------------------------------------------

    def at(self, node, offset: int | None = None, width: int = 1) -> Location:
        """The location of ``node``, or of the character ``offset`` of its value when the value
        is written on one line without escapes (so that columns can be counted)."""
        whole = self.doc.location(node)
        if offset is None or node.start_mark.line != node.end_mark.line:
            return whole
        source = self.doc.composed[node.start_mark.index:node.end_mark.index]
        quote = 1 if getattr(node, "style", None) in ('"', "'") else 0
        if source[quote:len(source) - quote] != node.value:
            return whole
        column = whole.column + quote + offset
        return Location(whole.path, whole.line, column, whole.line, column + max(width, 1))

    def report(self, code: str, message: str, location: Location) -> None:
        self.doc.diagnostics.append(Diagnostic(code, message, location))

    def invalid(self, value: _Value, exc: EntryError) -> None:
        """Report an invalid entry, unless a variable without a value made it so (already
        reported as such)."""
        if not value.interpolated.unresolved:
            self.report(exc.code, str(exc), self.at(exc.node or value.node, exc.offset, exc.width))

    # -- values -----------------------------------------------------------------------------

    def value(self, node, what: str, numbers: bool = True) -> _Value | None:
        """The interpolated text of a scalar (numbers as written when ``numbers``), reporting
        a wrong type, a bad interpolation and each variable without a value."""
        raw = scalar(node) if is_scalar(node) else node
        if isinstance(raw, bool) or not isinstance(raw, (str, int)) or (isinstance(raw, int) and not numbers):
            wanted = "a string or an integer" if numbers else "a string"
            self.report(PARSE_ERROR, f"{what} must be {wanted}, not {kind(node)}", self.doc.location(node))
            return None
        if isinstance(raw, int):
            return _Value(str(raw), node, Interpolated(str(raw)))
        try:
            result = interpolate(raw, self.env)
        except InterpolationError as exc:
            self.report(PARSE_ERROR, str(exc), self.at(node, exc.offset, 2))
            return None
        for missing in result.unresolved:
            self.report(UNRESOLVED_VARIABLE, f"{missing.message}: Compose reads an empty string; no {what} is read from it",
                        self.at(node, missing.source_offset, len(missing.name) + 1))
        return _Value(result.value, node, result)

    # -- entries ----------------------------------------------------------------------------

    def port(self, node, service: str) -> PortBinding | None:
        """A ``ports:`` entry: a string or number in the short syntax, or a mapping."""
        if is_mapping(node):
            return self.long_syntax(node, service)
        value = self.value(node, "port")
        if value is None:
            return None
        try:
            return self.short_syntax(value, service)
        except EntryError as exc:
            self.invalid(value, exc)
            return None

    def expose(self, node, service: str) -> PortBinding | None:
        """An ``expose:`` entry: ``PORT[-PORT][/PROTOCOL]``, open to other containers only."""
        value = self.value(node, "exposed port")
        if value is None:
            return None
        try:
            fields = entry_fields(value.text, "expose")
            target = _port_range(fields.target)
            protocol = _protocol(fields.protocol)
        except EntryError as exc:
            self.invalid(value, exc)
            return None
        if value.unknown():
            return None
        return PortBinding(location=self.doc.location(node), service=service, target=target,
                           protocol=protocol, kind="expose")

    def short_syntax(self, value: _Value, service: str) -> PortBinding | None:
        text = value.text
        fields = entry_fields(text, "start")
        host_ip = _host_ip(fields.host_ip) if fields.host_ip is not None else None
        published = _port_range(fields.published) if fields.published is not None else None
        target = _port_range(fields.target)
        _check_widths(published, target, text)
        protocol = _protocol(fields.protocol)
        if value.unknown(*_span(fields.target)):
            return None
        if published is not None and value.unknown(*_span(fields.published)) or published == ANY_FREE_PORT:
            published = None
        if host_ip is not None and value.unknown(*_span((fields.host_ip,))):
            host_ip = None
        return PortBinding(location=self.doc.location(value.node), service=service, target=target,
                           published=published, host_ip=host_ip, protocol=protocol)

    def long_syntax(self, node, service: str) -> PortBinding | None:
        fields: dict[str, _Value] = {}
        first_key = None
        for name, key, value_node in items(node):
            first_key = first_key or key
            if name.startswith("x-"):
                continue
            if name not in LONG_SYNTAX_KEYS:
                self.report(PARSE_ERROR, f"unknown key {name!r} in a port mapping: expected "
                            f"{', '.join(LONG_SYNTAX_KEYS[:-1])} or {LONG_SYNTAX_KEYS[-1]}", self.doc.location(key))
                continue
            numbers = name in ("target", "published")
            value = self.value(value_node, name.replace("_", " "), numbers=numbers)
            if value is None:
                return None
            fields[name] = value
        if "target" not in fields:
            self.report(PARSE_ERROR, "a port mapping needs a target (the container port)",
                        self.doc.location(first_key or node))
            return None
        try:
            target = self.field(fields["target"], _number_range, "target")
            published = self.field(fields.get("published"), _number_range, "published")
            host_ip = self.field(fields.get("host_ip"), _plain_ip, "host_ip")
            protocol = self.field(fields.get("protocol"), _protocol_name, "protocol") or "tcp"
            mode = self.field(fields.get("mode"), _mode, "mode")
            _check_widths(published, target, None)
        except EntryError as exc:
            self.report(exc.code, str(exc), self.at(exc.node or node, exc.offset, exc.width))
            return None
        if target is None or fields["target"].unknown():
            return None
        if published is not None and fields["published"].unknown() or published == ANY_FREE_PORT:
            published = None
        if host_ip is not None and fields["host_ip"].unknown():
            host_ip = None
        return PortBinding(location=self.doc.location(first_key or node), service=service, target=target,
                           published=published, host_ip=host_ip, protocol=protocol, mode=mode)

    @staticmethod
    def field(value: _Value | None, read, name: str):
        """``read(text)`` for a long-syntax field; errors carry the field's node. An empty
        string (an unset variable) is no value."""
        if value is None or value.text == "":
            return None
        try:
            return read(value.text)
        except EntryError as exc:
            raise EntryError(str(exc), exc.offset, exc.code, value.node, exc.width) from None


# -- the short syntax ---------------------------------------------------------------------------

#: A token of an entry: its text and its offset in the entry.
Token = tuple[str, int]


class EntryFields(NamedTuple):
    """The tokens of a short-syntax (or ``expose:``) entry, as the grammar splits it."""

    host_ip: Token | None
    published: tuple[Token, ...] | None  # one port, or the first and last of a range
    target: tuple[Token, ...]
    protocol: Token | None


_PORTS = r"(?P<{0}>[0-9]+)(?:-(?P<{0}_last>[0-9]+))?"
_HOST_IP = r"(?:(?P<host_ip>[0-9]+(?:\.[0-9]+){3})|\[(?P<bracketed_ip>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\])"
_PROTOCOL = r"(?:/(?P<protocol>[A-Za-z]+))?"
#: The shapes of ``start`` and ``expose`` in grammars/compose_ports.lark but a bare IPv6 address
#: (whose lexing needs the grammar's lookahead; without brackets there are never three colons
#: here, which a bare IPv6 address needs), and nothing the grammar rejects.
_PLAIN = {
    "start": re.compile(f"(?:(?:{_HOST_IP}?:)?(?:{_PORTS.format('published')})?:)?"
                        f"{_PORTS.format('target')}{_PROTOCOL}"),
    "expose": re.compile(_PORTS.format("target") + _PROTOCOL),
}


def entry_fields(text: str, start: str) -> EntryFields:
    """The tokens of ``text``, a ``start`` (ports) or ``expose`` entry; EntryError if the
    grammar rejects it."""
    return plain_fields(text, start) or grammar_fields(text, start)


def plain_fields(text: str, start: str) -> EntryFields | None:
    """The tokens of ``text`` when it has one of the common shapes, else None: what
    :func:`grammar_fields` gives, without loading lark."""
    match = _PLAIN[start].fullmatch(text)
    if match is None:
        return None
    groups = match.groupdict()

    def token(name: str) -> Token | None:
        return None if groups.get(name) is None else (groups[name], match.start(name))

    def ports(name: str) -> tuple[Token, ...] | None:
        first, last = token(name), token(name + "_last")
        return None if first is None else (first,) if last is None else (first, last)

    host_ip = token("host_ip") or token("bracketed_ip")
    return EntryFields(host_ip, ports("published"), ports("target"), token("protocol"))


def grammar_fields(text: str, start: str) -> EntryFields:
    """The tokens of ``text`` as ``grammars/compose_ports.lark`` splits it."""
    from lark.exceptions import LarkError

    try:
        tree = grammar("compose_ports", start=("start", "expose")).parse(text, start=start)
    except LarkError as exc:
        offset = error_offset(exc, text)
        syntax = SHORT_SYNTAX if start == "start" else "CONTAINER_PORT[/PROTOCOL]"
        found = f"unexpected {text[offset]!r}" if offset < len(text) else "unexpected end"
        raise EntryError(f"invalid port {text!r}: {found}; expected {syntax}", offset) from None

    def tokens(name: str) -> tuple[Token, ...] | None:
        for child in tree.children:
            if getattr(child, "data", None) == name:
                return tuple((token.value, token.start_pos) for token in child.scan_values(lambda _: True))
        return None

    host_ip, protocol = tokens("host_ip"), tokens("protocol")
    return EntryFields(host_ip[0] if host_ip else None, tokens("published"), tokens("target"),
                       protocol[0] if protocol else None)


def _span(tokens: tuple[Token, ...]) -> tuple[int, int]:
    """Where ``tokens`` start and end in the entry."""
    last_text, last_offset = tokens[-1]
    return tokens[0][1], last_offset + len(last_text)


def _port_range(tokens: tuple[Token, ...]) -> PortRange:
    """The ports of a ``published`` or ``target`` part: numbers within 0-65535, in order."""
    for text, offset in tokens:
        if int(text) > MAX_PORT:
            raise EntryError(f"invalid port {text}: ports are 0-65535", offset, INVALID_PORT, width=len(text))
    start, end = int(tokens[0][0]), int(tokens[-1][0])
    if start > end:
        first, last = _span(tokens)
        raise EntryError(f"invalid port range {start}-{end}: the first port is greater than the last",
                         first, INVALID_PORT, width=last - first)
    return PortRange(start, end)


def _host_ip(token: Token) -> str:
    text, offset = token
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise EntryError(f"invalid host IP {text!r}: expected an IPv4 address, [IPv6] or IPv6 "
                         "before the host and container ports", offset, width=len(text)) from None
    return text


def _protocol(token: Token | None) -> str:
    if token is None:
        return "tcp"
    text, offset = token
    try:
        return _protocol_name(text)
    except EntryError as exc:
        raise EntryError(str(exc), offset, width=len(text)) from None


def _check_widths(published: PortRange | None, target: PortRange, text: str | None) -> None:
    """A container range needs a host range of the same length (a single container port may
    take a host range: Docker picks one port of it). ``text`` is the short syntax, if any."""
    if published is not None and target.width > 1 and published.width != target.width:
        raise EntryError(f"host ports {published} and container ports {target} differ in length",
                         0 if text else None, INVALID_PORT, width=len(text or ""))


# -- long-syntax fields -------------------------------------------------------------------------

def _number_range(text: str) -> PortRange:
    if text.isdigit():
        number = int(text)
        if number > MAX_PORT:
            raise EntryError(f"invalid port {text}: ports are 0-65535", 0, INVALID_PORT)
        return PortRange(number, number)
    start, dash, end = text.partition("-")
    if dash and start.isdigit() and end.isdigit():
        for part in (start, end):
            if int(part) > MAX_PORT:
                raise EntryError(f"invalid port {part}: ports are 0-65535", text.index(part), INVALID_PORT)
        if int(start) > int(end):
            raise EntryError(f"invalid port range {text}: the first port is greater than the last", 0, INVALID_PORT)
        return PortRange(int(start), int(end))
    raise EntryError(f"invalid port {text!r}: expected a number 0-65535 or a range such as 8000-8010",
                     0, INVALID_PORT)


def _plain_ip(text: str) -> str:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise EntryError(f"invalid host_ip {text!r}: expected an IPv4 or IPv6 address", 0) from None
    return text


def _protocol_name(text: str) -> str:
    if text.lower() not in PROTOCOLS:
        raise EntryError(f"unknown protocol {text!r}: expected tcp, udp or sctp", 0)
    return text.lower()


def _mode(text: str) -> str:
    if text not in MODES:
        raise EntryError(f"unknown mode {text!r}: expected host or ingress", 0)
    return text
