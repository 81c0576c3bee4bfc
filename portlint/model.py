"""The normalised model every parser produces and every rule reads.

Parsers turn iptables, nftables and compose files into these frozen records; rules never see a
parse tree or a YAML node, so a rule written once works on every format. Lines and columns are
1-based; an end column points one past the last character, as in SARIF.
"""
from __future__ import annotations

import operator
import re
from array import array
from dataclasses import FrozenInstanceError, dataclass, field
from itertools import accumulate, islice, repeat
from typing import Callable, TypeVar, Union

MIN_PORT = 0
MAX_PORT = 65535
R = TypeVar("R")


def record(cls: type[R] | None = None, *, order: bool = False):
    """A frozen slotted record of the fields the class annotates, cheap to define, to build and
    to pickle: parsers build one or more per rule, ``--jobs`` workers send back hundreds of
    thousands, and every run defines dozens at start-up.

    ``dataclasses`` would compile half a dozen methods per class and, for a class without a
    docstring, tokenize a signature: about 0.6 ms a class, 20 ms of a pre-commit run. Here only
    ``__init__`` is compiled; it stores into the slots through their descriptors, where a frozen
    dataclass's goes through ``object.__setattr__`` (3 us against 1.5 us for FirewallRule's 25
    fields). Equality, hash and order compare the fields as one tuple, built in C; pickling
    sends the constructor's arguments. Fields with a default follow those without, as in a
    dataclass; :func:`field_names` and :func:`replace` stand for ``dataclasses.fields`` and
    ``dataclasses.replace``."""
    if cls is None:
        return lambda cls: record(cls, order=order)
    names = tuple(name for name, annotation in cls.__dict__.get("__annotations__", {}).items()
                  if not str(annotation).startswith(("ClassVar", "typing.ClassVar")))  # a class attribute
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    required = [name for name in names if name not in defaults]
    if required and names.index(required[-1]) >= len(required):
        raise TypeError(f"{cls.__qualname__}: field {required[-1]!r} without a default follows one with a default")
    namespace = {key: value for key, value in cls.__dict__.items()
                 if key not in defaults and key not in ("__dict__", "__weakref__")}
    namespace.update(__slots__=names, __match_args__=names)
    built = type(cls)(cls.__name__, cls.__bases__, namespace)
    setters = {f"_set_{name}": built.__dict__[name].__set__ for name in names}
    setters.update({f"_default_{name}": value for name, value in defaults.items()})
    parameters = ", ".join(f"{name}=_default_{name}" if name in defaults else name for name in names)
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names) or "    pass\n"
    exec(f"def __init__(self, {parameters}):\n{body}", setters)  # noqa: S102 - code built from field names
    methods = [setters["__init__"], *_record_methods(_fields_getter(names), names, order)]
    for method in methods:
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(built, method.__name__, method)
    return built


def _fields_getter(names: tuple[str, ...]) -> Callable[[object], tuple]:
    """A function giving a record's fields as one tuple."""
    if len(names) == 1:
        return lambda self, get=operator.attrgetter(names[0]): (get(self),)
    return operator.attrgetter(*names) if names else (lambda self: ())


def _record_methods(get: Callable[[object], tuple], names: tuple[str, ...], order: bool) -> list[Callable]:
    """What a frozen dataclass has, over ``get(self)``: its fields as a tuple."""
    def __eq__(self, other):
        return get(self) == get(other) if other.__class__ is self.__class__ else NotImplemented

    def __hash__(self):
        return hash(get(self))

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={v!r}' for n, v in zip(names, get(self)))})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return self.__class__, get(self)

    methods = [__eq__, __hash__, __repr__, __setattr__, __delattr__, __reduce__]
    if order:
        def __lt__(self, other):
            return get(self) < get(other) if other.__class__ is self.__class__ else NotImplemented

        def __le__(self, other):
            return get(self) <= get(other) if other.__class__ is self.__class__ else NotImplemented

        def __gt__(self, other):
            return get(self) > get(other) if other.__class__ is self.__class__ else NotImplemented

        def __ge__(self, other):
            return get(self) >= get(other) if other.__class__ is self.__class__ else NotImplemented

        methods += [__lt__, __le__, __gt__, __ge__]
    return methods


def field_names(cls_or_record) -> tuple[str, ...]:
    """A record's fields, in order."""
    return cls_or_record.__match_args__


def replace(item: R, **changes) -> R:
    """A copy of the record ``item`` with ``changes`` made."""
    names = item.__match_args__
    unknown = changes.keys() - set(names)
    if unknown:
        raise TypeError(f"{type(item).__qualname__} has no field {sorted(unknown)[0]!r}")
    return item.__class__(*(changes[name] if name in changes else getattr(item, name) for name in names))


@record(order=True)
class PortRange:
    """An inclusive port range as written: ``start > end`` is kept (it matches no port)."""

    start: int
    end: int

    @classmethod
    def single(cls, port: int) -> PortRange:
        return cls(port, port)

    @property
    def is_empty(self) -> bool:
        return self.start > self.end

    @property
    def width(self) -> int:
        return 0 if self.is_empty else self.end - self.start + 1

    def __contains__(self, port: int) -> bool:
        return self.start <= port <= self.end

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start}-{self.end}"


FULL_RANGE = PortRange(MIN_PORT, MAX_PORT)


def normalise(ranges: tuple[PortRange, ...] | list[PortRange]) -> tuple[PortRange, ...]:
    """Sorted, merged, non-empty ranges covering the same ports."""
    if len(ranges) == 1 and not ranges[0].is_empty:  # most matches: one port or range
        return tuple(ranges)
    merged: list[PortRange] = []
    for r in sorted(r for r in ranges if not r.is_empty):
        if merged and r.start <= merged[-1].end + 1:
            if r.end > merged[-1].end:
                merged[-1] = PortRange(merged[-1].start, r.end)
        else:
            merged.append(r)
    return tuple(merged)


def complement(ranges: tuple[PortRange, ...]) -> tuple[PortRange, ...]:
    """The ports 0-65535 that ``ranges`` does not contain."""
    out: list[PortRange] = []
    nxt = MIN_PORT
    for r in normalise(ranges):
        if r.start > nxt:
            out.append(PortRange(nxt, r.start - 1))
        nxt = r.end + 1
    if nxt <= MAX_PORT:
        out.append(PortRange(nxt, MAX_PORT))
    return tuple(out)


def port_count(ranges: tuple[PortRange, ...]) -> int:
    return sum(r.width for r in normalise(ranges))


def format_ranges(ranges: tuple[PortRange, ...]) -> str:
    return ", ".join(str(r) for r in ranges)


@record
class Location:
    path: str
    line: int
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None


@record
class PortMatch:
    """One port match of a rule: the ranges as written, and whether the match is negated."""

    ranges: tuple[PortRange, ...]
    negated: bool = False
    location: Location | None = None


class Action:
    """What a firewall rule does with the packets it matches (normalised verbs)."""

    ACCEPT = "accept"
    DROP = "drop"
    REJECT = "reject"
    JUMP = "jump"
    GOTO = "goto"
    RETURN = "return"
    DNAT = "dnat"
    REDIRECT = "redirect"
    TPROXY = "tproxy"
    SNAT = "snat"
    MASQUERADE = "masquerade"
    OTHER = "other"  # LOG, MARK, counters and every other non-terminal target

    TRANSLATIONS = frozenset({DNAT, REDIRECT, TPROXY})
    CLOSING = frozenset({DROP, REJECT})


@record
class FirewallRule:
    """A rule of an iptables or nftables ruleset that matches on ports (or may: every rule is kept
    so that chain reachability can be computed)."""

    location: Location
    format: str
    family: str
    table: str
    chain: str
    protocol: str | None = None
    protocol_negated: bool = False
    dport: PortMatch | None = None
    sport: PortMatch | None = None
    either: PortMatch | None = None  # multiport --ports: source or destination
    saddr: str | None = None
    daddr: str | None = None
    iif: str | None = None
    oif: str | None = None
    states: tuple[str, ...] = ()
    action: str | None = None  # an Action verb, None when the rule has no target
    target: str | None = None  # the target as written (ACCEPT, LOG, a chain name, ...)
    to_address: str | None = None
    to_ports: tuple[PortRange, ...] | None = None
    comment: str | None = None
    #: A rate limit on the matched packets ("5/second"), None when unlimited.
    rate_limit: str | None = None
    #: Match conditions the fields above do not represent, as canonical text ("-m recent
    #: --rcheck --seconds 60"): they make the rule narrower. None when the parser cannot tell.
    unmodeled: tuple[str, ...] | None = None
    #: The target's own options ("--log-prefix x", "--reject-with tcp-reset").
    target_options: tuple[str, ...] = ()
    #: First line of the rule statement when ``location`` points inside it (an element of a
    #: multi-line nftables set or map); None when the rule starts at ``location``.
    rule_line: int | None = None
    #: Where the values of a rule produced by evaluation came from, for people ("from the loop
    #: variable $p = 443"): a shell script's loop variables and function arguments.
    origin: str | None = None


class Hook:
    """Netfilter hooks a base chain can be attached to."""

    PREROUTING = "prerouting"
    INPUT = "input"
    FORWARD = "forward"
    OUTPUT = "output"
    POSTROUTING = "postrouting"
    INGRESS = "ingress"


@record
class ChainPolicy:
    """A chain declaration: base chains have a hook, a type and a policy; user chains have none."""

    location: Location
    format: str
    family: str
    table: str
    chain: str
    hook: str | None = None  # a Hook value for a base chain
    type: str | None = None  # filter / nat / route (iptables: from the table)
    policy: str | None = None  # accept / drop


@record
class PortBinding:
    """A compose ``ports:`` entry (published) or an ``expose:`` entry (container only)."""

    location: Location
    service: str
    target: PortRange
    published: PortRange | None = None
    host_ip: str | None = None
    protocol: str = "tcp"
    kind: str = "ports"  # "ports" or "expose"
    mode: str | None = None
    format: str = "compose"


Declaration = Union[FirewallRule, PortBinding]


@record
class ServiceSettings:
    """How a compose service reaches the network, beside its PortBindings (joined by ``service``).

    ``network_mode: host`` shares the host's network: every port the container listens on is
    open on the host and its ``ports:`` are discarded; ``service:NAME`` / ``container:NAME`` share
    another container's network. A service with ``profiles`` only starts when one is enabled.
    """

    location: Location  # the service's name under ``services:``
    service: str
    network_mode: str | None = None  # as written (interpolated): host, none, bridge, service:NAME, ...
    network_mode_location: Location | None = None
    profiles: tuple[str, ...] = ()
    format: str = "compose"


@record
class Diagnostic:
    """A problem a parser met in the input; the rule with this code turns it into a finding."""

    code: str
    message: str
    location: Location


@dataclass(slots=True)
class Document:
    """Everything a parser understood in one file."""

    path: str
    format: str
    text: str
    declarations: list[Declaration] = field(default_factory=list)
    policies: list[ChainPolicy] = field(default_factory=list)
    services: list[ServiceSettings] = field(default_factory=list)  # compose services
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: Where each line starts, found on first use: 4 bytes a line, where a list of the lines
    #: would double a 100 MB dump.
    _starts: array | None = field(default=None, repr=False, compare=False)
    #: The line last asked for, as (number, text): findings come sorted, several to a line, and
    #: a megabyte-long line would be copied again for each.
    _last_line: tuple[int, str] = field(default=(0, ""), repr=False, compare=False)

    @property
    def is_firewall(self) -> bool:
        """Whether the document holds chains or firewall rules (an empty compose file holds
        neither)."""
        return bool(self.policies) or any(isinstance(d, FirewallRule) for d in self.declarations)

    def line_text(self, line: int) -> str:
        """The source line ``line`` (1-based) without its line break, lines split as
        ``str.splitlines`` splits them; "" when out of range."""
        if self._last_line[0] == line:
            return self._last_line[1]
        starts = self._starts
        if starts is None:
            starts = self._starts = line_starts(self.text)
        if not 0 < line <= len(starts):
            return ""
        start = starts[line - 1]
        found = _LINE_BREAK.search(self.text, start)
        self._last_line = (line, self.text[start:found.start() if found else len(self.text)])
        return self._last_line[1]


_LINE_BREAK = re.compile("\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_OTHER_BREAK = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def line_starts(text: str, chunk: int = 1 << 20) -> array:
    """Where each line of ``text`` starts, lines split as ``str.splitlines`` splits them. Text
    with no break but "\n" (nearly all) is split a chunk at a time and summed in C: 0.04 s for
    a 200k-rule dump, where a match per line took 0.31 s."""
    starts = array("L", [0])
    if _OTHER_BREAK.search(text):
        starts.extend(m.end() for m in _LINE_BREAK.finditer(text))
        return starts
    begin, size = 0, len(text)
    while begin < size:
        end = text.find("\n", min(begin + chunk, size) - 1)
        end = size if end < 0 else end + 1
        lengths = map(len, text[begin:end].split("\n")[:-1])
        starts.extend(islice(accumulate(map(operator.add, lengths, repeat(1)), initial=begin), 1, None))
        begin = end
    return starts
