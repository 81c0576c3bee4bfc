"""The normalised model every parser produces and every rule reads.

Parsers turn iptables, nftables and compose files into these frozen records; rules never see a
parse tree or a YAML node, so a rule written once works on every format. Lines and columns are
1-based; an end column points one past the last character, as in SARIF.
"""
from __future__ import annotations

import copyreg
import inspect
import operator
import re
from array import array
from dataclasses import FrozenInstanceError, dataclass, field
from itertools import accumulate, compress, islice, repeat
from types import CodeType, FunctionType
from typing import TYPE_CHECKING, Callable, TypeVar, Union

if TYPE_CHECKING:
    from .source_text import PackedText

MIN_PORT = 0
MAX_PORT = 65535
R = TypeVar("R")


def record(cls: type[R] | None = None, *, order: bool = False, variants: bool = False):
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
    ``dataclasses.replace``.

    With ``variants``, the class itself holds no field: calling it makes a record of a subclass
    with a slot for each, and :func:`variant` makes subclasses whose records share some of the
    values (a parser's many rules of one shape), equal to any record of the same fields."""
    if cls is None:
        return lambda cls: record(cls, order=order, variants=variants)
    names = tuple(name for name, annotation in cls.__dict__.get("__annotations__", {}).items()
                  if not str(annotation).startswith(("ClassVar", "typing.ClassVar")))  # a class attribute
    defaults = {name: cls.__dict__[name] for name in names if name in cls.__dict__}
    required = [name for name in names if name not in defaults]
    if required and names.index(required[-1]) >= len(required):
        raise TypeError(f"{cls.__qualname__}: field {required[-1]!r} without a default follows one with a default")
    namespace = {key: value for key, value in cls.__dict__.items()
                 if key not in defaults and key not in ("__dict__", "__weakref__")}
    namespace.update(__slots__=() if variants else names, __match_args__=names)
    built = type(cls)(cls.__name__, cls.__bases__, namespace)
    stored = built
    if variants:
        stored = type(cls)(cls.__name__, (built,), {"__slots__": names, "__qualname__": cls.__qualname__,
                                                   "__module__": cls.__module__})
        built.__new__ = _compiled(built, "__new__", "kind", names, defaults, "    return _new(_stored if kind is _built else kind)\n",
                                  {"_new": object.__new__, "_stored": stored, "_built": built})
    stored.__init__ = _compiled_init(stored, names, defaults)
    for method in _record_methods(built, _fields_getter(names), names, order):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"
        setattr(built, method.__name__, method)
    return built


def variant(interface: type[R], shared: dict[str, object], slots: tuple[str, ...],
            derived: dict[str, Callable] | None = None) -> type[R]:
    """A class of records of ``interface`` (a ``record(variants=True)``) whose ``shared`` field
    values are class attributes, not kept in each record: only the ``slots`` take room, and its
    constructor takes them in that order. ``derived`` fields are computed from the record by
    their function, from slots that may hold what is not a field (a line number a location is
    made of on demand). A variant pickles as itself, class and all (``--jobs`` workers send
    their documents back), when its shared values and functions pickle."""
    derived = derived or {}
    fields = interface.__match_args__
    given = [*shared, *derived, *(name for name in slots if name in fields)]
    if sorted(given) != sorted(fields):
        raise TypeError(f"{interface.__qualname__} variant: fields {sorted(set(fields) ^ set(given))} are not "
                        "each shared, derived or in a slot exactly once")
    made = _Variant(interface.__name__, (interface,), {
        **shared, **{name: property(compute) for name, compute in derived.items()}, "__slots__": slots,
        "__qualname__": interface.__qualname__, "__module__": interface.__module__, "__reduce__": _reduce_variant})
    made.__new__ = _compiled(made, "__new__", "kind", slots, {}, "    return _new(kind)\n", {"_new": object.__new__})
    made.__init__ = _compiled_init(made, slots, {})
    return made


class SparseRecords:
    """Makes records of ``interface`` (a ``record(variants=True)``) that store only the fields
    given a value other than their default, in a variant per combination of those fields; the
    ``shared`` values are every record's. A rule of an nftables ruleset sets 6 to 9 of
    FirewallRule's 25 fields: 80 to 104 bytes, where a record of its own takes 232. A value is
    told from its default by identity (None, False and the empty tuple are singletons), so
    telling them apart costs no comparison.

    A ``derived`` field not given is computed by its function from the record, whose other
    values may be slots that are not fields (see :func:`variant`): a location given as
    ``_position=packed_position(...)`` with ``derived={"location": partial(unpacked_location,
    path)}``."""

    def __init__(self, interface: type[R], derived: dict[str, Callable] | None = None, **shared) -> None:
        self.interface = interface
        self.shared = shared
        self.derived = derived or {}
        self.defaults = {name: parameter.default for name, parameter in inspect.signature(interface).parameters.items()
                         if parameter.default is not parameter.empty}
        self.kinds: dict[tuple, type[R]] = {}
        self._rows: dict[tuple[str, ...], tuple] = {}  # the defaults of the fields given, in order

    def __call__(self, **values) -> R:
        names = tuple(values)
        defaults = self._rows.get(names)
        if defaults is None:
            missing = object()  # a field without a default is always stored
            defaults = self._rows[names] = tuple(self.defaults.get(name, missing) for name in names)
        given = tuple(values.values())
        stored = tuple(map(operator.is_not, given, defaults))
        kind = self.kinds.get((names, stored))
        if kind is None:
            kind = self.kinds[names, stored] = self._variant(tuple(compress(names, stored)))
        return kind(*compress(given, stored))

    def _variant(self, slots: tuple[str, ...]) -> type[R]:
        derived = {name: compute for name, compute in self.derived.items() if name not in slots}
        fixed = {name: value for name, value in self.defaults.items() if name not in slots and name not in derived}
        return variant(self.interface, {**fixed, **self.shared}, slots, derived)


#: Bits of each part of a packed position, lowest first: end column, end line (after the
#: line), column; the line takes the rest.
_END_COLUMN_BITS, _END_LINE_BITS, _COLUMN_BITS = 14, 8, 14


def packed_position(where: Location) -> int | None:
    """``where``'s lines and columns as one int (32 bytes up to 16 million lines, where a
    Location and its line number take 100), to be made a Location again by
    :func:`unpacked_location`; None when they do not fit (a column past 16383, a location of
    more than 255 lines or without its end)."""
    line, column, end_line, end_column = where.line, where.column, where.end_line, where.end_column
    if (end_line is None or end_column is None or not 0 <= end_line - line < 1 << _END_LINE_BITS
            or not 0 <= column < 1 << _COLUMN_BITS or not 0 <= end_column < 1 << _END_COLUMN_BITS):
        return None
    return (((line << _COLUMN_BITS | column) << _END_LINE_BITS | end_line - line) << _END_COLUMN_BITS) | end_column


def unpacked_location(path: str, record) -> Location:
    """The Location of a record's ``_position`` (see :func:`packed_position`), in ``path``."""
    packed = record._position
    end_column = packed & ((1 << _END_COLUMN_BITS) - 1)
    packed >>= _END_COLUMN_BITS
    lines = packed & ((1 << _END_LINE_BITS) - 1)
    packed >>= _END_LINE_BITS
    line = packed >> _COLUMN_BITS
    return Location(path, line, packed & ((1 << _COLUMN_BITS) - 1), line + lines, end_column)


class _Variant(type):
    """The class of variants: copyreg pickles each as how to make it again, read from the class
    itself (a parser makes thousands: none keeps a copy of its recipe)."""


def _variant_recipe(kind: _Variant) -> tuple:
    interface, slots = kind.__bases__[0], kind.__slots__
    derived = {name: value.fget for name, value in kind.__dict__.items() if isinstance(value, property)}
    shared = {name: kind.__dict__[name] for name in interface.__match_args__ if name not in slots and name not in derived}
    return variant, (interface, shared, slots, derived)


def _reduce_variant(record) -> tuple:
    kind = type(record)
    return kind, tuple(getattr(record, name) for name in kind.__slots__)


copyreg.pickle(_Variant, _variant_recipe)


def _compiled_init(cls: type, slots: tuple[str, ...], defaults: dict) -> Callable:
    """An ``__init__`` storing its parameters into ``cls``'s slots through their descriptors."""
    body = "".join(f"    _set_{name}(self, {name})\n" for name in slots) or "    pass\n"
    return _compiled(cls, "__init__", "self", slots, defaults, body,
                     {f"_set_{name}": cls.__dict__[name].__set__ for name in slots})


#: The code of each method compiled, by its text: parsers make a variant per shape, and most
#: shapes' variants store the same slots.
_CODE: dict[str, CodeType] = {}


def _compiled(cls: type, name: str, first: str, parameters: tuple[str, ...], defaults: dict, body: str,
              names: dict) -> Callable:
    """The method ``name`` of ``cls`` taking ``first`` and ``parameters``, running ``body`` over
    ``names``."""
    signature = ", ".join(f"{p}=None" if p in defaults else p for p in (first, *parameters))  # defaults: below
    source = f"def {name}({signature}):\n{body}"
    code = _CODE.get(source)
    if code is None:
        compiled: dict = {}
        exec(source, {}, compiled)  # noqa: S102 - code built from field names
        code = _CODE[source] = compiled[name].__code__
    method = FunctionType(code, names, name, tuple(defaults[p] for p in parameters if p in defaults) or None)
    method.__qualname__ = f"{cls.__qualname__}.{name}"
    return method


def _fields_getter(names: tuple[str, ...]) -> Callable[[object], tuple]:
    """A function giving a record's fields as one tuple."""
    if len(names) == 1:
        return lambda self, get=operator.attrgetter(names[0]): (get(self),)
    return operator.attrgetter(*names) if names else (lambda self: ())


def _record_methods(kind: type, get: Callable[[object], tuple], names: tuple[str, ...], order: bool) -> list[Callable]:
    """What a frozen dataclass has, over ``get(self)``: its fields as a tuple. Records of
    ``kind`` and its variants compare with one another."""
    def __eq__(self, other):
        return get(self) == get(other) if isinstance(other, kind) else NotImplemented

    def __hash__(self):
        return hash(get(self))

    def __repr__(self) -> str:
        return f"{kind.__qualname__}({', '.join(f'{n}={v!r}' for n, v in zip(names, get(self)))})"

    def __setattr__(self, name, value):
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name):
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __reduce__(self):
        return kind, get(self)

    methods = [__eq__, __hash__, __repr__, __setattr__, __delattr__, __reduce__]
    if order:
        def __lt__(self, other):
            return get(self) < get(other) if isinstance(other, kind) else NotImplemented

        def __le__(self, other):
            return get(self) <= get(other) if isinstance(other, kind) else NotImplemented

        def __gt__(self, other):
            return get(self) > get(other) if isinstance(other, kind) else NotImplemented

        def __ge__(self, other):
            return get(self) >= get(other) if isinstance(other, kind) else NotImplemented

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
    kind = next(k for k in type(item).__mro__ if "__match_args__" in k.__dict__)  # the class declaring the fields
    return kind(*(changes[name] if name in changes else getattr(item, name) for name in names))


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


@record(variants=True)
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


@record(variants=True)
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
    #: A big file's text is held compressed (a ``portlint.source_text.PackedText``): use
    #: :meth:`line_text`, or ``str()`` for the whole.
    text: str | PackedText
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
        if not isinstance(self.text, str):
            found = self.text.line(line)  # held compressed (portlint.source_text.PackedText)
        else:
            starts = self._starts
            if starts is None:
                starts = self._starts = line_starts(self.text)
            found = line_text(self.text, starts, line)
        self._last_line = (line, found)
        return found


def line_text(text: str, starts: array, line: int) -> str:
    """Line ``line`` (1-based) of ``text``, whose lines start at ``starts``; "" when out of range."""
    if not 0 < line <= len(starts):
        return ""
    start = starts[line - 1]
    found = _LINE_BREAK.search(text, start)
    return text[start:found.start() if found else len(text)]


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
