"""The syntax of nftables files: words, the syntax tree, and recovery from syntax errors.

``grammars/nftables.lark`` follows nft's own grammar; this module gives it nft's scanner (the
keywords nft reserves everywhere, numbers told from names) and turns the parse into a small
syntax tree (:class:`Rule`, :class:`Match`, :class:`Value` ...) in the same LALR pass. What the
tree means is decided in :mod:`portlint.parsers.nftables`.

A syntax error is reported as nft reports it ("unexpected X; expected Y") and parsing goes on:
the parser is unwound to the innermost block, the rest of the statement is skipped up to its
newline or ``;``, and the next statement is read. So every bad statement is reported and the good
ones are kept.
"""
from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from lark import Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from ..model import Diagnostic, Location
from .common import MAX_SYNTAX_ERRORS, PARSE_ERROR, grammar, one_of, reading_stops
from .nftables_fast import FAST_RULE, FAST_SET, FastRule, FastRuleLexer, LineRules, PlainSets

#: Block contents an included file can be parsed as (the grammar's start symbols).
BODIES = ("start", "table_body", "chain_body", "set_body", "map_body", "flowtable_body",
          "counter_body", "quota_body", "ct_helper_body", "ct_timeout_body", "ct_expect_body",
          "limit_body", "secmark_body", "synproxy_body")

#: Words nft's scanner always reads as keywords, whatever the parser expects (so `tcp dport
#: accept` and `chain log {` are syntax errors). Other keywords (`dport`, `saddr`, `to`, ...) are
#: keywords only where the grammar expects them.
GLOBAL_KEYWORDS = frozenset("""
    eq ne lt gt le ge lshift rshift xor and or not vmap include define redefine undefine describe
    hook device devices table chain rule set element map flowtable handle ruleset socket tproxy
    accept drop continue jump goto return inet netdev add replace update create insert delete get
    list reset flush rename import export monitor position index comment constant interval dynamic
    auto-merge timeout gc-interval elements expires policy size flow offload meter counter log
    queue limit quota hour day reject snat dnat masquerade redirect random th bridge ether type
    typeof vlan arp ip ecn time icmp icmpv6 igmp ip6 priority ah esp comp flags udp udplite tcp
    dccp sctp rt rt0 rt2 srh hbh frag dst mh meta mark iif iifname iiftype oif oifname oiftype
    skuid skgid nftrace rtclassid ibriport ibrname obriport obrname pkttype cpu iifgroup oifgroup
    cgroup ct numgen jhash symhash dup fwd fib osf synproxy notrack all exists missing exthdr ipsec
    secmark xt
""".split())

_RELATIONAL_OPERATORS = ("==", "eq", "!=", "ne", "<", "lt", ">", "gt", ">=", "ge", "<=", "le", "!", "not")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
#: Terminals named for people in error messages; keywords are shown quoted.
_TERMINAL_NAMES = {
    "NUMBER": "a number", "STRING": "a name", "QUOTED": "a quoted string", "ASTERISK": "a name",
    "_NL": "end of line", "$END": "end of file",
}


class _Words:
    """Postlexer: a WORD becomes NUMBER, a name (STRING), a wildcard name (ASTERISK), or the
    keyword nft's scanner would make of it; WORD is lexed in every parser state."""

    always_accept = ("WORD",)

    def __init__(self) -> None:
        self.reserved: dict[str, str] = {}  # word -> its keyword terminal, filled once loaded

    def process(self, stream):
        reserved = self.reserved
        for token in stream:
            if token.type == "WORD":
                value = token.value
                if value in reserved:
                    token.type = reserved[value]
                elif _NUMBER.fullmatch(value):
                    token.type = "NUMBER"
                else:
                    token.type = "ASTERISK" if value.endswith("*") else "STRING"
            yield token


# ---------------------------------------------------------------------------------------------
# The syntax tree. Spans are (start offset, end offset, line, column, end line, end column).

Span = tuple[int, int, int, int, int, int]


def token_span(token: Token) -> Span:
    return (token.start_pos, token.end_pos, token.line, token.column, token.end_line, token.end_column)


def span_of(item) -> Span | None:
    if isinstance(item, Token):
        return token_span(item)
    if isinstance(item, list):
        spans = [s for s in map(span_of, item) if s]
        return _join(spans[0], spans[-1]) if spans else None
    return getattr(item, "span", None)


def _join(first: Span, last: Span) -> Span:
    return (first[0], last[1], first[2], first[3], last[4], last[5])


def _children_span(children: list) -> Span | None:
    """From the first child that has a span to the last (once per node of every rule: kept
    free of generators)."""
    for child in children:
        first = span_of(child)
        if first:
            break
    else:
        return None
    for child in reversed(children):
        last = span_of(child)
        if last:
            return (first[0], last[1], first[2], first[3], last[4], last[5])


def scanned_number(text: str) -> int:
    """A number as nft's scanner reads it (C's strtoull, base 0): 0x1f, 017 (octal), 22."""
    if text[:2].lower() == "0x":
        return int(text, 16)
    if len(text) > 1 and text.startswith("0"):
        digits = len(text) - len(text.lstrip("01234567"))
        return int(text[:digits], 8)
    return int(text)


@dataclass(slots=True)
class Node:
    """A construct whose parts portlint does not read (a log statement, a hash expression)."""

    kind: str
    children: list
    span: Span | None


@dataclass(slots=True)
class Include:
    path: str
    span: Span


@dataclass(slots=True)
class Define:
    name: str
    value: Any
    span: Span
    redefine: bool = False


@dataclass(slots=True)
class Undefine:
    name: str
    span: Span


@dataclass(slots=True)
class TableSpec:
    family: str
    name: str | None  # None when given by handle
    span: Span


@dataclass(slots=True)
class ObjectSpec:
    """A chain, set or object named within a table: ``[family] table name``."""

    family: str
    table: str
    name: str | None
    span: Span
    name_span: Span | None = None


@dataclass(slots=True)
class Command:
    """A one-line command: ``add rule ...``, ``delete table ...``, ``flush ruleset``."""

    verb: str  # add, insert, replace, delete, flush
    object: str  # table, chain, rule, set, map, element, ruleset
    spec: TableSpec | ObjectSpec | str | None
    body: Any
    span: Span


@dataclass(slots=True, eq=False)
class BlockHead:
    """The head of a table or chain block (``table ip t {``, ``chain c {``), reduced before the
    block's statements so that a sink can run each of them as it is read."""

    spec: TableSpec | ObjectSpec | str  # a chain of the enclosing table is named by a str
    span: Span


@dataclass(slots=True)
class ChainDef:
    name: str
    body: list
    span: Span


@dataclass(slots=True)
class SetDef:
    name: str
    body: list
    is_map: bool
    span: Span


@dataclass(slots=True)
class Hook:
    type: Token
    hook: Token
    priority: Any
    span: Span


@dataclass(slots=True)
class Policy:
    value: Any  # a Token (accept/drop) or a Var
    span: Span


@dataclass(slots=True)
class Elements:
    value: Any
    span: Span


@dataclass(slots=True)
class Comment:
    text: str
    span: Span


@dataclass(slots=True)
class Rule:
    statements: list
    comment: str | None
    span: Span


@dataclass(slots=True)
class Verdict:
    kind: str  # accept, drop, continue, return, jump, goto
    target: Any  # the chain of jump/goto: a Token or a Var
    span: Span


@dataclass(slots=True)
class AnonymousChain:
    kind: str  # jump or goto
    rules: list
    span: Span


@dataclass(slots=True)
class VerdictMap:
    key: Any
    map: Any  # SetLiteral of Mappings, SetRef or Var
    span: Span


@dataclass(slots=True)
class Match:
    left: Any
    op: str | None  # None for the implicit comparison
    right: Any
    span: Span
    op_span: Span | None = None
    flags: bool = False  # `expr value / mask`


@dataclass(slots=True)
class Nat:
    kind: str  # snat, dnat, masquerade, redirect, tproxy
    address: Any = None
    port: Any = None
    span: Span | None = None
    family: str | None = None  # `dnat ip6 to ...`: only packets of that family
    port_map: bool = False  # `dnat ip addr . port to ...`: the address maps to address and port


@dataclass(slots=True)
class _NatPart:
    role: str  # address, port or family
    value: Any
    span: Span | None


@dataclass(slots=True)
class Terminal:
    """A statement that ends the rule without a verdict of its own: reject, queue, fwd, ..."""

    kind: str
    span: Span


@dataclass(slots=True)
class Unsupported:
    """A statement nft's parser itself refuses (``xt``)."""

    message: str
    span: Span


@dataclass(slots=True)
class Var:
    name: str
    span: Span


@dataclass(slots=True)
class SetRef:
    name: str
    span: Span


@dataclass(slots=True)
class SetLiteral:
    items: list
    span: Span | None


class PlainSet(SetLiteral):
    """A big set of plain elements (a blocklist of addresses) read by the fast path: it keeps
    only where it is written, and reads its elements again each time they are asked for. A
    million addresses no rule looks into cost nothing; a rule that does gets every element."""

    __slots__ = ("_text", "_read", "_deleted")

    def __init__(self, text: str, span: Span, read, deleted: frozenset[str] = frozenset()) -> None:
        self._text, self.span, self._read, self._deleted = text, span, read, deleted

    @property
    def items(self) -> list:
        items = self._read(self._text, self.span).items
        if self._deleted:
            text = self._text
            items = [item for item in items if text[item.span[0]:item.span[1]] not in self._deleted]
        return items

    def without(self, texts: set[str]) -> PlainSet:
        """The set without the elements written as one of ``texts`` (`delete element`), still
        unread."""
        return PlainSet(self._text, self.span, self._read, self._deleted | texts)

    def __repr__(self) -> str:
        return f"PlainSet(span={self.span!r})"


@dataclass(slots=True)
class Element:
    key: Any
    span: Span


@dataclass(slots=True)
class Mapping:
    key: Any
    value: Any
    span: Span


@dataclass(slots=True)
class Range:
    low: Any
    high: Any
    span: Span


@dataclass(slots=True)
class Prefix:
    value: Any
    length: int
    span: Span


@dataclass(slots=True)
class Concat:
    parts: list
    span: Span


@dataclass(slots=True)
class ListExpr:
    items: list
    span: Span


@dataclass(slots=True)
class MapLookup:
    key: Any
    map: Any
    span: Span


@dataclass(slots=True)
class Payload:
    protocol: str  # tcp, udp, ip, ether, ... (raw for @base,offset,length)
    field: str
    span: Span


@dataclass(slots=True)
class Meta:
    key: str
    span: Span
    qualified: bool = True  # written `meta KEY`


@dataclass(slots=True)
class Conntrack:
    key: str
    direction: str | None
    span: Span



def _tokens(children) -> list[Token]:
    return [c for c in children if isinstance(c, Token)]


def _nodes(children) -> list:
    return [c for c in children if c is not None and not isinstance(c, Token)]


def _keep(children) -> list:
    return [c for c in children if c is not None]


class _ToSyntaxTree(Transformer):
    """Builds the syntax tree bottom-up while the parser reduces (Lark's inline transformer).
    Rules without a method become :class:`Node`."""

    #: What runs the statements of a file as they are read (see :func:`parse`), or None to
    #: build them into lists.
    sink: Sink | None = None

    def __getattr__(self, name: str):
        if name[:1].islower():
            return lambda children: Node(name, _keep(children), _children_span(children))
        raise AttributeError(name)

    # -- statements every block accepts, and block bodies -------------------------------------

    def start(self, children):
        """A file, table or chain body, one statement at a time (left-recursive in the
        grammar): the list so far, and at most one new statement."""
        if not children:
            return []
        items, sink = children[0], self.sink
        for item in children[1:]:
            if item is not None and not isinstance(item, Token):
                if sink is None:
                    items.append(item)
                else:
                    sink.statement(item)
        return items

    table_body = chain_body = start

    def set_body(self, children):
        return [c for c in children if c is not None and not isinstance(c, Token)]

    map_body = flowtable_body = counter_body = quota_body = ct_helper_body = ct_timeout_body = set_body
    ct_expect_body = limit_body = secmark_body = synproxy_body = subchain_body = set_body

    def include(self, children):
        return Include(children[0][1:-1], token_span(children[0]))

    def define(self, children):
        return Define(children[0].value, children[1], _children_span(children))

    def redefine(self, children):
        return Define(children[0].value, children[1], _children_span(children), redefine=True)

    def undefine(self, children):
        return Undefine(children[0].value, token_span(children[0]))

    def recovered(self, children):
        return None

    # -- commands ------------------------------------------------------------------------------

    def table_spec(self, children):
        family = children[0].value if len(children) == 2 else "ip"
        return TableSpec(family, children[-1].value, _children_span(children))

    def tableid_spec(self, children):
        family = children[0].value if len(children) == 2 else "ip"
        return TableSpec(family, None, _children_span(children))

    def chain_spec(self, children):
        table, name = children
        return ObjectSpec(table.family, table.name, name.value, _join(table.span, token_span(name)), token_span(name))

    set_spec = flowtable_spec = obj_spec = chain_spec

    def chainid_spec(self, children):
        table = children[0]
        return ObjectSpec(table.family, table.name, None, _children_span(children))

    setid_spec = flowtableid_spec = objid_spec = chainid_spec

    def ruleset_spec(self, children):
        return children[0].value if children else None

    def rule_position(self, children):
        return children[0]

    ruleid_spec = rule_position

    @staticmethod
    def _command(verb: str, obj: str):
        def build(self, children):
            spec = children[0] if children else None
            body = children[1] if len(children) > 1 else None
            return Command(verb, obj, spec, body, _children_span(children))
        return build

    @staticmethod
    def _block_command(obj: str):
        """``add table``/``add chain``, with a block or without; a sink has run the block."""
        def build(self, children):
            head = children[0]
            if not isinstance(head, BlockHead):
                return Command("add", obj, head, None, _children_span(children))
            if self.sink is not None:
                self.sink.close(head)
                return None
            return Command("add", obj, head.spec, children[1], _children_span(children))
        return build

    add_table = _block_command("table")
    add_chain = _block_command("chain")
    add_rule = _command("add", "rule")
    insert_rule = _command("insert", "rule")
    replace_rule = _command("replace", "rule")
    add_set = _command("add", "set")
    add_map = _command("add", "map")
    add_element = _command("add", "element")
    delete_table = _command("delete", "table")
    delete_chain = _command("delete", "chain")
    delete_set = _command("delete", "set")
    delete_element = _command("delete", "element")
    flush_table = _command("flush", "table")
    flush_chain = _command("flush", "chain")
    flush_set = _command("flush", "set")
    flush_ruleset = _command("flush", "ruleset")

    def _ignored(self, children):
        """Commands that change nothing portlint models (objects, listings, monitors)."""
        return None

    add_flowtable = add_object = delete_rule = delete_object = flush_object = _ignored
    get_element = list_cmd = reset_cmd = rename_chain = markup_cmd = monitor_cmd = _ignored
    describe = object_def = table_option = set_type = map_type = set_flag = _ignored
    dev_spec = set_elem_stmt = set_elem_option = _ignored

    # -- blocks --------------------------------------------------------------------------------

    def table_head(self, children):
        return self._opened(BlockHead(children[0], children[0].span))

    chain_head = table_head

    def chain_def_head(self, children):
        return self._opened(BlockHead(children[0].value, token_span(children[0])))

    def _opened(self, head: BlockHead) -> BlockHead:
        if self.sink is not None:
            self.sink.open(head)
        return head

    def chain_def(self, children):
        head, body = children
        if self.sink is not None:
            self.sink.close(head)
            return None
        return ChainDef(head.spec, body, head.span)

    def set_block(self, children):
        return children[0]

    map_block = flowtable_block = counter_block = quota_block = ct_helper_block = ct_timeout_block = set_block
    ct_expect_block = limit_block = secmark_block = synproxy_block = set_block

    def set_def(self, children):
        return SetDef(children[0].value, children[1], False, token_span(children[0]))

    def map_def(self, children):
        return SetDef(children[0].value, children[1], True, token_span(children[0]))

    def hook_spec(self, children):
        parts = _keep(children)
        return Hook(parts[0], parts[1], parts[-1], _children_span(parts))

    def policy_spec(self, children):
        return Policy(children[1], _children_span(children))

    def elements(self, children):
        return Elements(children[0], _children_span(children))

    def comment_spec(self, children):
        return Comment(children[0].value.strip('"'), token_span(children[0]))

    # -- rules and statements --------------------------------------------------------------------

    def rule(self, children):
        if isinstance(children[0], FastRule):
            return children[0].rule
        comment = children[-1] if isinstance(children[-1], Comment) else None
        statements = children[:-1] if comment else children
        return Rule(statements, comment.text if comment else None, _children_span(children))

    def verdict(self, children):
        target = children[1] if len(children) > 1 else None
        return Verdict(children[0].value, target, _children_span(children))

    def chain_stmt(self, children):
        return AnonymousChain(children[0].value, children[2], _children_span(children))

    def vmap_stmt(self, children):
        return VerdictMap(children[0], children[2], _children_span(children))

    def verdict_map_expr(self, children):
        if len(children) == 1:  # @name or $name
            return children[0]
        return SetLiteral(children[1], _children_span(children))

    def verdict_map_list(self, children):
        return _flatten(children)

    def vmap_element(self, children):
        key, verdict = _nodes(children)
        return Mapping(key, verdict, _join(key.span, verdict.span))

    def match_stmt(self, children):
        left, right = children[0], children[-1]
        op = children[1] if len(children) == 3 else None
        return Match(left, op.value if op else None, right, _children_span(children),
                     token_span(op) if op else None)

    def flag_match(self, children):
        match = self.match_stmt(children[:-1])
        match.flags = True
        return match

    def relational_op(self, children):
        return children[0]

    def nat_stmt(self, children):
        nat = children[1]
        nat.kind = children[0].value
        nat.span = _children_span(children)
        return nat

    def nat_args(self, children):
        if children and isinstance(children[0], Nat):  # `... random,persistent`
            return children[0]
        nat = Nat("", span=_children_span(children))
        for child in children:
            if isinstance(child, _NatPart):
                setattr(nat, child.role, child.value)
            elif isinstance(child, Token) and child.value == "port":
                nat.port_map = True
        return nat

    def nat_addr(self, children):
        return _NatPart("address", children[0], span_of(children[0]))

    def nf_key_proto(self, children):
        return _NatPart("family", children[0].value, token_span(children[0]))

    def nat_port(self, children):
        return _NatPart("port", children[0], span_of(children[0]))

    def masq_stmt(self, children):
        nat = self.nat_args(children[1:])
        nat.kind, nat.span = children[0].value, _children_span(children)
        return nat

    redir_stmt = tproxy_stmt = masq_stmt

    def reject_stmt(self, children):
        return Terminal(children[0].value, _children_span(children))

    queue_stmt = fwd_stmt = synproxy_stmt = reject_stmt

    def xt_stmt(self, children):
        return Unsupported("unsupported xtables compat expression, use iptables-nft with this ruleset",
                           _children_span(children))

    # -- expressions ---------------------------------------------------------------------------

    def concat(self, children):
        parts = _nodes_or_tokens(children)
        left = parts[0]
        rest = parts[1:]
        items = left.parts + rest if isinstance(left, Concat) else parts
        return Concat(items, _children_span(parts))

    def prefix(self, children):
        return Prefix(children[0], scanned_number(children[1].value), _children_span(children))

    def range(self, children):
        return Range(children[0], children[1], _children_span(children))

    def list_rhs_expr(self, children):
        return _flatten_list(children)

    list_stmt_expr = list_rhs_expr

    def set_expr(self, children):
        inner = [c for c in children if not (isinstance(c, Token) and c.type in ("LBRACE", "RBRACE"))]
        items = inner[0] if inner and isinstance(inner[0], list) else inner
        return SetLiteral(items, _children_span(children))

    def fast_set(self, children):
        return children[0].set

    def set_list(self, children):
        return _flatten(children)

    def mapping(self, children):
        key, value = _nodes_or_tokens(children)
        return Mapping(key, value, _join(span_of(key), span_of(value)))

    def set_elem_expr(self, children):
        key = children[0]
        return Element(key, span_of(key))

    def empty_set(self, children):
        return SetLiteral([], None)

    def variable(self, children):
        return Var(children[0].value, token_span(children[0]))

    def set_ref_symbol_expr(self, children):
        return SetRef(children[1].value, _children_span(children))

    def map_expr(self, children):
        key, table = _nodes_or_tokens([c for c in children if not (isinstance(c, Token) and c.value == "map")])
        return MapLookup(key, table, _children_span(children))

    def parens(self, children):
        return Node("parens", [children[1]], _children_span(children))

    rhs_parens = stmt_parens = parens

    def keyword_expr(self, children):
        return children[0]

    boolean_expr = keyword_expr

    def payload_expr(self, children):
        words = _tokens(children)
        if words[0].value == "@":
            return Payload("raw", "", _children_span(children))
        field = words[1].value if len(words) > 1 else ""
        return Payload(words[0].value, field, _children_span(children))

    def meta_expr(self, children):
        key = children[-1]
        return Meta(key.value, _children_span(children), qualified=len(children) == 2)

    def meta_key_qualified(self, children):
        return children[0]

    meta_key_unqualified = ct_dir = ct_key_dir_optional = meta_key_qualified

    def ct_key(self, children):
        return children[0]

    ct_key_dir = ct_key

    def ct_expr(self, children):
        words = _tokens(children)
        direction = words[1].value if len(words) > 2 and words[1].value in ("original", "reply") else None
        return Conntrack(" ".join(w.value for w in words[1 + (direction is not None):]), direction,
                         _children_span(children))


def _nodes_or_tokens(children) -> list:
    """The operands of an operator rule: every child but the operator's own token."""
    return [c for c in children if c is not None and not (isinstance(c, Token) and c.type in _OPERATOR_TOKENS)]


_OPERATOR_TOKENS = frozenset({"DOT", "COLON", "MINUS", "SLASH", "COMMA", "LBRACE", "RBRACE"})


def _flatten(children) -> list:
    """Left-recursive lists (`a, b, c`) without recursion: the left part is already a list."""
    head = children[0]
    items = head if isinstance(head, list) else [head]
    items.extend(c for c in children[1:] if c is not None and not isinstance(c, Token))
    return items


def _flatten_list(children) -> ListExpr:
    head = children[0]
    items = head.items if isinstance(head, ListExpr) else [head]
    items.extend(c for c in children[1:] if not (isinstance(c, Token) and c.type == "COMMA"))
    return ListExpr(items, _children_span(items))


# ---------------------------------------------------------------------------------------------
# Parsing with recovery

_TRANSFORMER = _ToSyntaxTree()
_WORDS = _Words()
_SKIP = re.compile(r'"[^"]*"|#[^\n]*|\\\n|[{};\n]|[^"#\\{};\n]+|["\\]')


@lru_cache(maxsize=None)
def _parser():
    """The parser, the names of its keyword terminals for messages, and its lexer (which has
    the fast path for common rules)."""
    parser = grammar("nftables", start=BODIES, transformer=_TRANSFORMER, postlex=_WORDS)
    keywords = {t.pattern.value: t.name for t in parser.terminals if t.pattern.type == "str"}
    _WORDS.reserved = {word: keywords.get(word, word.upper()) for word in GLOBAL_KEYWORDS}
    _WORDS.reserved["."] = keywords["."]
    global _COMPARISONS
    _COMPARISONS = frozenset(keywords[op] for op in _RELATIONAL_OPERATORS)
    word = re.compile(parser.get_terminal("WORD").pattern.to_regexp())
    frontend = parser.parser
    rules = LineRules(_TRANSFORMER, keywords, _WORDS.reserved, word, _NUMBER)
    lexer = frontend.lexer = FastRuleLexer(frontend.lexer, rules, PlainSets(rules, PlainSet))
    return parser, {name: f"'{value}'" for value, name in keywords.items()}, lexer


class Sink(Protocol):
    """Runs a file's statements as the parser reads them."""

    def open(self, head: BlockHead) -> None:
        """A table or chain block starts: the statements that follow are in it."""

    def close(self, head: BlockHead) -> None:
        """The block ``head`` opened has ended (or was dropped by error recovery)."""

    def statement(self, item) -> None:
        """A statement of the innermost open block (or of the file)."""


@dataclass
class SyntaxResult:
    items: list
    diagnostics: list[Diagnostic] = field(default_factory=list)


def parse(text: str, path: str, start: str = "start", fast_path: bool = True, sink: Sink | None = None,
          diagnostics: list[Diagnostic] | None = None) -> SyntaxResult:
    """The statements of ``text`` as ``start`` (the whole file, or a block's contents for an
    included file), and a PL001 diagnostic for each syntax error (appended to ``diagnostics``
    if given, as they are met). Without ``fast_path``, every rule is read by the grammar (the
    tests compare both).

    With a ``sink``, the statements of the file and of its table and chain blocks go to the sink
    as each is read, and are not in the result: a 10 MB ruleset's statements, held until the end
    of the file, took 236 MiB. Parsing is reentrant (a sink may parse an included file)."""
    parser, keyword_names, lexer = _parser()
    result = SyntaxResult([], [] if diagnostics is None else diagnostics)
    carriage_return = text.find("\r")
    if carriage_return >= 0:
        line = text.count("\n", 0, carriage_return) + 1
        column = carriage_return - text.rfind("\n", 0, carriage_return)
        result.diagnostics.append(Diagnostic(
            PARSE_ERROR, "carriage return (Windows line ending): nft rejects it; save the file with Unix line endings",
            Location(path, line, column, line, column + 1)))
        text = text.replace("\r", " ")
    last_line = text.count("\n") + 1
    if not text.endswith("\n"):
        text += "\n"
    recovery = _Recovery(text, path, keyword_names, result.diagnostics, last_line, sink)
    outer = lexer.enabled, _TRANSFORMER.sink
    lexer.enabled, _TRANSFORMER.sink = fast_path, sink
    try:
        items = parser.parse(text, start=start, on_error=recovery)
    except LarkError:
        items = []  # an error nothing could recover from (reported by the recovery)
    finally:
        lexer.enabled, _TRANSFORMER.sink = outer
    result.items = items or []
    return result


def _set_continues(text: str, newline: int) -> bool:
    """Whether the set being written goes on after the newline at ``newline``: the last line
    written ends with `,` or `{`, or the next one starts with `,` or `}`."""
    before = text[:newline].rstrip(" \t\n")
    last_line = before[before.rfind("\n") + 1:].split("#", 1)[0].rstrip()
    following = text[newline + 1:].lstrip(" \t\n")
    return last_line.endswith((",", "{")) or following.startswith((",", "}"))


def _advance(line_ctr, text: str, end: int) -> None:
    """Move Lark's line counter to offset ``end`` of ``text``, as feeding it the text up to
    there would, without copying that text (the rest of a 100 MB file where reading stops)."""
    start = line_ctr.char_pos
    newlines = text.count("\n", start, end)
    if newlines:
        line_ctr.line += newlines
        line_ctr.line_start_pos = text.rindex("\n", start, end) + 1
    line_ctr.char_pos = end
    line_ctr.column = end - line_ctr.line_start_pos + 1


class _Recovery:
    """Lark's on_error callback: report the error, then resume after the bad statement, as nft's
    grammar does with its `error stmt_separator` rule (here: the RECOVERY token)."""

    def __init__(self, text: str, path: str, keyword_names: dict[str, str], diagnostics: list,
                 last_line: int, sink: Sink | None) -> None:
        self.text = text
        self.sink = sink
        self.last_line = last_line
        self.path = path
        self.names = {**_TERMINAL_NAMES, **keyword_names}
        self.diagnostics = diagnostics
        self.last_position = -1
        self.skipped_to_end = False
        self.errors = 0

    def __call__(self, error: UnexpectedInput) -> bool:
        parser = error.interactive_parser
        lexer = parser.lexer_thread.state
        if isinstance(error, UnexpectedToken) and error.token.type == "$END":
            if not self.skipped_to_end:
                self.diagnostics.append(self.describe(error))
            return self._close_blocks(parser)
        position = lexer.line_ctr.char_pos
        if position <= self.last_position:  # no progress since the last error: give up
            return False
        self.last_position = position
        self.diagnostics.append(self.describe(error))
        depth = self._resume_point(parser)
        if depth is None:
            return False
        self.errors += 1
        if self.errors == MAX_SYNTAX_ERRORS:  # read no further: the end of the file closes the blocks
            self.diagnostics.append(reading_stops(self.path, error.line + 1))
            self.skipped_to_end = True
            _advance(lexer.line_ctr, self.text, len(self.text))
            return True
        opened = 0
        if isinstance(error, UnexpectedToken):
            token = error.token
            if depth == 0 and token.type in ("_NL", "SEMICOLON", "RBRACE"):
                if token.type == "RBRACE":  # the statement ends where its block does
                    parser.feed_token(Token("_NL", "\n"))
                    if not self._accepts(parser, token):
                        return True  # a `}` that closes no block: skip it, as nft does
                parser.feed_token(token)
                return True
            if token.type == "LBRACE":
                opened = 1
            elif token.type == "RBRACE":
                depth -= 1
        if self._skip(lexer, depth, opened):
            parser.feed_token(Token("_NL", "\n"))
        return True

    def _resume_point(self, parser) -> int | None:
        """Unwind the parser to a block where a statement may start and feed it the RECOVERY
        token there; the number of braces left open by what was popped, which the skip must
        close. None when no enclosing block takes it.

        A state that lists RECOVERY may only reduce on it (LALR merges lookaheads), and the
        state the reductions lead to may refuse it: the token is tried on a copy first, and
        refused, the unwinding goes on (regression: ``this is no rule`` in a chain, failing at
        the keyword ``rule``, lost the whole table)."""
        state = parser.parser_state
        depth, pop = 0, False
        while True:
            popped = self._unwind(state, pop)
            if popped is None:
                return None
            depth += popped
            trial = _trial(parser)
            try:
                trial.feed_token(Token("RECOVERY", ""))
            except UnexpectedToken:
                pop = True
                continue
            parser.feed_token(Token("RECOVERY", ""))
            return depth

    def _unwind(self, state, pop: bool = False) -> int | None:
        """Pop the parser's stacks back to a state that lists the RECOVERY token (past the
        current one with ``pop``), never into a block whose `}` was already read; the braces
        popped, opening ones counted +1."""
        states = state.parse_conf.states
        depth = 0
        while pop or depth < 0 or "RECOVERY" not in states[state.state_stack[-1]]:
            pop = False
            if len(state.state_stack) == 1:
                return None
            if self._pop(state):  # a block's head, with its `{`
                depth += 1
                continue
            state.state_stack.pop()
            value = state.value_stack.pop()
            if isinstance(value, Token):
                depth += {"LBRACE": 1, "RBRACE": -1}.get(value.type, 0)
        return depth

    def _pop(self, state) -> bool:
        """Pop the parser's stacks once if they end with a block's head, which the sink is
        told has ended; whether they did."""
        if not isinstance(state.value_stack[-1], BlockHead):
            return False
        state.state_stack.pop()
        head = state.value_stack.pop()
        if self.sink is not None:
            self.sink.close(head)
        return True

    def _skip(self, lexer, unclosed: int, opened: int = 0) -> bool:
        """Move the lexer to the newline or `;` that ends the bad statement, over quoted
        strings, comments and the blocks the statement opens (``opened``); True when it stops
        before the `}` of the block the statement is in instead.

        ``unclosed`` braces were opened before the error (a set being written). A multi-line
        set is skipped to its end; otherwise the statement ends at the end of the line, as in
        nft, which does not count braces when it skips."""
        text = self.text
        start = lexer.line_ctr.char_pos
        position, before_brace = len(text), False
        for match in _SKIP.finditer(text, start):
            piece = match.group()
            if piece == "{":
                opened += 1
            elif piece == "}":
                if opened:
                    opened -= 1
                elif unclosed:
                    unclosed -= 1
                else:
                    position, before_brace = match.start(), True
                    break
            elif piece in ("\n", ";") and not opened:
                if not unclosed or piece == ";" or not _set_continues(text, match.start()):
                    position = match.start()
                    break
        self.skipped_to_end = position == len(text)
        _advance(lexer.line_ctr, text, position)
        return before_brace

    def _close_blocks(self, parser) -> bool:
        """At the end of the file inside open blocks: close them so what was read is kept."""
        state = parser.parser_state
        states = state.parse_conf.states
        newline = Token("_NL", "\n")
        for _ in range(len(state.state_stack) * 4 + 4):
            actions = states[state.position]
            # "$END" in the actions is not enough: a block's contents are also a start symbol of
            # the grammar, so the states inside a block accept the end of an included file.
            if "$END" in actions and self._can_end(parser):
                return True
            try:
                if "RBRACE" in actions:
                    parser.feed_token(Token("RBRACE", "}"))
                elif "_NL" in actions:
                    parser.feed_token(newline)
                elif "RECOVERY" in actions:  # inside an unfinished statement: drop it
                    parser.feed_token(Token("RECOVERY", ""))
                    parser.feed_token(newline)
                elif len(state.state_stack) > 1:
                    if not self._pop(state):
                        state.state_stack.pop()
                        state.value_stack.pop()
                else:
                    return False
            except UnexpectedToken:
                return False
        return False

    @staticmethod
    def _accepts(parser, token: Token) -> bool:
        """Whether ``token`` may come next (a state may reduce on a token it then rejects)."""
        try:
            _trial(parser).feed_token(token)
        except LarkError:
            return False
        return True

    @staticmethod
    def _can_end(parser) -> bool:
        """Whether the file may end here, for the start symbol being parsed."""
        try:
            _trial(parser).feed_eof()
        except LarkError:
            return False
        return True

    # -- messages ------------------------------------------------------------------------------

    def describe(self, error: UnexpectedInput) -> Diagnostic:
        line, column = error.line, error.column
        if isinstance(error, UnexpectedCharacters):
            char = error.char
            found = ("an unterminated quoted string" if char == '"'
                     else f"unexpected character {char!r}" + self._expected(error))
            return Diagnostic(PARSE_ERROR, found, Location(self.path, line, column, line, column + 1))
        token = error.token
        if token.type == "$END":
            line, column = self.last_line, 1
            state = error.interactive_parser.parser_state
            actions = state.parse_conf.states[state.position]
            # Between the statements of a block, what is missing is its end, not one more statement.
            expected = "; expected '}'" if {"RECOVERY", "RBRACE"} <= actions.keys() else self._expected(error)
            return Diagnostic(PARSE_ERROR, "unexpected end of file" + expected, Location(self.path, line, column))
        if token.type == "_NL":
            found, end = "unexpected end of line", column + 1
        elif token.type == "QUOTED":
            found, end = f"unexpected quoted string {token.value}", token.end_column
        else:
            found, end = f"unexpected {token.value!r}", token.end_column
        return Diagnostic(PARSE_ERROR, found + self._expected(error), Location(self.path, line, column, line, end))

    def _expected(self, error: UnexpectedInput) -> str:
        """What the parser expected, summarised: values, sets and comparisons by kind, at most a
        few keywords by name."""
        state = error.interactive_parser.parser_state
        expected = {t for t in state.parse_conf.states[state.position] if t.isupper()}
        wanted: list[str] = []
        if {"NUMBER", "STRING"} <= expected:
            wanted.append("a value")
        else:
            wanted += [self.names[t] for t in ("NUMBER", "STRING", "QUOTED") if t in expected]
        keywords, others = [], []
        for terminal in expected - _HIDDEN:
            name = self.names.get(terminal, terminal)
            if terminal in _COMPARISONS or name in _OPERATORS:
                continue
            (keywords if name[1:2].isalpha() else others).append(name)
        wanted += sorted(others, key=lambda n: (_PUNCTUATION_ORDER.find(n[1:-1]) % 100, n))
        if expected & _COMPARISONS:
            wanted.append("a comparison such as '==' or '!='")
        if "_NL" in expected:
            wanted.append("end of line")
        if keywords:
            wanted += sorted(keywords) if len(keywords) <= _MAX_KEYWORDS else ["a keyword"]
        return "; expected " + one_of(wanted) if wanted else ""


def _trial(parser):
    """A copy of the interactive ``parser`` to try tokens on: it runs no callbacks (they would
    run statements on the sink) and shares the values it does not change."""
    state = parser.parser_state
    conf = copy(state.parse_conf)
    conf.callbacks = {}
    trial_state = type(state)(conf, state.lexer, list(state.state_stack), list(state.value_stack))
    return type(parser)(parser.parser, trial_state, copy(parser.lexer_thread))


_HIDDEN = frozenset({"RECOVERY", "WORD", "NUMBER", "STRING", "QUOTED", "ASTERISK", "_NL", "$END", FAST_RULE, FAST_SET})
_COMPARISONS = frozenset({"__ANON_0"})  # replaced once the grammar is loaded
#: Operators that may continue an expression: true but unhelpful in "expected ...".
_OPERATORS = frozenset({"'.'", "'('", "')'", "'&'", "'|'", "'^'", "'<<'", "'>>'", "'and'", "'or'",
                        "'xor'", "'lshift'", "'rshift'"})
_PUNCTUATION_ORDER = "{}@$;,:-/*[]=+"
_MAX_KEYWORDS = 4
