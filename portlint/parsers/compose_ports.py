"""One compose ``ports:`` or ``expose:`` entry, short or long syntax, read into a PortBinding.

The short syntax is ``grammars/compose_ports.lark``; this module checks what the grammar cannot
(port numbers, addresses, protocols, range lengths) the way Docker Compose v2 does, and reports
each problem at its own column. Values are interpolated first; a port that depends on a variable
without a value is never guessed: an unknown container port drops the entry, an unknown host
port leaves the binding without one.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping

from lark.exceptions import LarkError

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
            tree = _parse(value.text, "expose")
            target = _port_range(_child(tree, "target"))
            protocol = _protocol(_child(tree, "protocol"))
        except EntryError as exc:
            self.invalid(value, exc)
            return None
        if value.unknown():
            return None
        return PortBinding(location=self.doc.location(node), service=service, target=target,
                           protocol=protocol, kind="expose")

    def short_syntax(self, value: _Value, service: str) -> PortBinding | None:
        text = value.text
        tree = _parse(text, "start")
        host_tree, published_tree = _child(tree, "host_ip"), _child(tree, "published")
        target_tree = _child(tree, "target")
        host_ip = _host_ip(host_tree) if host_tree is not None else None
        published = _port_range(published_tree) if published_tree is not None else None
        target = _port_range(target_tree)
        _check_widths(published, target, text)
        protocol = _protocol(_child(tree, "protocol"))
        if value.unknown(*_span(target_tree)):
            return None
        if published is not None and value.unknown(*_span(published_tree)) or published == ANY_FREE_PORT:
            published = None
        if host_ip is not None and value.unknown(*_span(host_tree)):
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

def _parse(text: str, start: str):
    try:
        return grammar("compose_ports", start=("start", "expose")).parse(text, start=start)
    except LarkError as exc:
        offset = error_offset(exc, text)
        syntax = SHORT_SYNTAX if start == "start" else "CONTAINER_PORT[/PROTOCOL]"
        found = f"unexpected {text[offset]!r}" if offset < len(text) else "unexpected end"
        raise EntryError(f"invalid port {text!r}: {found}; expected {syntax}", offset) from None


def _child(tree, name: str):
    for child in tree.children:
        if getattr(child, "data", None) == name:
            return child
    return None


def _span(tree) -> tuple[int, int]:
    tokens = list(tree.scan_values(lambda _: True))
    return tokens[0].start_pos, tokens[-1].end_pos


def _port_range(tree) -> PortRange:
    """The ports of a ``published`` or ``target`` subtree: numbers within 0-65535, in order."""
    tokens = list(tree.scan_values(lambda _: True))
    for token in tokens:
        if int(token) > MAX_PORT:
            raise EntryError(f"invalid port {token.value}: ports are 0-65535", token.start_pos, INVALID_PORT,
                             width=len(token))
    start, end = int(tokens[0]), int(tokens[-1])
    if start > end:
        raise EntryError(f"invalid port range {start}-{end}: the first port is greater than the last",
                         tokens[0].start_pos, INVALID_PORT, width=tokens[-1].end_pos - tokens[0].start_pos)
    return PortRange(start, end)


def _host_ip(tree) -> str:
    token = tree.children[0]
    try:
        ipaddress.ip_address(token.value)
    except ValueError:
        raise EntryError(f"invalid host IP {token.value!r}: expected an IPv4 address, [IPv6] or IPv6 "
                         "before the host and container ports", token.start_pos, width=len(token)) from None
    return token.value


def _protocol(tree) -> str:
    if tree is None:
        return "tcp"
    token = tree.children[0]
    try:
        return _protocol_name(token.value)
    except EntryError as exc:
        raise EntryError(str(exc), token.start_pos, width=len(token)) from None


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
