"""Rules of the common shapes, and sets of plain elements, read without the LALR parser into the
very tree it builds.

Most rules of a big ruleset are a few matches and a verdict on one line (``ip saddr 10.0.0.0/8
tcp dport { 22, 80 } counter accept``). Lark reads them token by token in Python, which is most
of the time a ruleset takes to parse. Where the grammar may start a rule, :class:`FastRuleLexer`
offers the rest of the line to :class:`LineRules`; when the line is a rule of those shapes, the
parser receives one ``FAST_RULE`` token that carries the rule's tree, built by the grammar's own
transformer from the tokens the grammar's lexer would have made. Everything else (other
statements, a rule that goes on over lines, a word the grammar reads as a keyword only in some
places) is left to the grammar, which stays the definition of the syntax:
``tests/parsers/test_nftables_fast_path.py`` proves both give the same trees.

Where a set may start, :class:`PlainSets` reads a ``{ ... }`` of plain elements (addresses,
numbers, their ranges and prefixes), over any number of lines, as one ``FAST_SET`` token. The
blocklists that make nftables files big are such sets: a regular expression checks millions of
elements in a second, where the grammar takes a minute, and a big set keeps only where it is
written (:class:`~portlint.parsers.nftables_syntax.PlainSet`) until a rule asks for its elements.
"""
from __future__ import annotations

import re
from typing import Any

from lark import Token
from lark.parsers.lalr_analysis import Shift

FAST_RULE = "FAST_RULE"
FAST_SET = "FAST_SET"

#: One token of a line (or its end: a newline, a `;` or a comment). Names and numbers are
#: the common words; the grammar's WORD is asked when a name or number is followed by a
#: character that could make it more (an address, a time, a wildcard ...). Punctuation longest
#: first, as Lark tries it.
_TOKEN = re.compile(r"""[ \t]*(?:
    (?P<name>[a-zA-Z_.][a-zA-Z0-9/\-_.]*)
  | (?P<number>[0-9]+)
  | (?P<quoted>"[^"\n]*")
  | (?P<mark>!=|==|<=|>=|<<|>>|[{},:/@$<>!-])
  | (?P<end>[\n;\#])
)""", re.VERBOSE)
#: What follows a rule read in one go: blanks, maybe a comment, then the newline or `;`.
_SEPARATOR = re.compile(r"[ \t]*(?:#[^\n]*)?(\n|;)")
#: The characters after which a name or a number is the whole word.
_AFTER = {"name": frozenset(" \t\n;#,{}$@!=<>"), "number": frozenset(" \t\n;#,}-/")}
_TERMINALS = {"name": "WORD", "number": "WORD", "quoted": "QUOTED"}
#: Fields of ``PROTOCOL FIELD`` matches read here.
_FIELDS = {
    "tcp": ("dport", "sport"), "udp": ("dport", "sport"), "udplite": ("dport", "sport"),
    "sctp": ("dport", "sport"), "dccp": ("dport", "sport"), "th": ("dport", "sport"),
    "ip": ("saddr", "daddr", "protocol"), "ip6": ("saddr", "daddr", "nexthdr"),
    "icmp": ("type",), "icmpv6": ("type",),
}
_META_KEYS = frozenset({"iifname", "oifname", "iif", "oif", "mark"})  # also written without `meta`
_CT_KEYS = frozenset({"state", "status"})
_VERDICTS = frozenset({"accept", "drop", "continue", "return"})
_JUMPS = frozenset({"jump", "goto"})
_ALL_VERDICTS = _VERDICTS | _JUMPS
_OPERATORS = frozenset({"==", "!=", "<", ">", "<=", ">="})
#: Reserved words that are values where a value is expected (the grammar's `keyword_expr`).
_VALUE_KEYWORDS = frozenset("""ether ip ip6 vlan arp dnat snat ecn reset tcp udp udplite esp ah icmp igmp
    icmpv6 comp dccp sctp redirect""".split())
_REJECT_FAMILIES = frozenset({"icmp", "icmpv6", "icmpx"})
_LOG_OPTIONS = ("prefix", "level", "group")
_TIME_UNITS = ("second", "minute", "hour", "day", "week")


class _FastToken(Token):
    """A token that carries the tree read in one go."""

    __slots__ = ()


class FastRule(_FastToken):
    """The ``FAST_RULE`` token: a rule read in one go, its tree in ``rule``."""

    __slots__ = ("rule",)


class FastSet(_FastToken):
    """The ``FAST_SET`` token: a set of plain elements read in one go, its node in ``set``."""

    __slots__ = ("set",)


class FastRuleLexer:
    """Lark's contextual lexer and the postlexer (the frontend's lexer), with the fast path tried
    wherever the parser may shift a ``FAST_RULE`` or a ``FAST_SET``."""

    def __init__(self, lexer, rules: LineRules, sets: PlainSets) -> None:
        self.lexer = lexer
        self.rules = rules
        self.sets = sets
        self.enabled = True

    def lex(self, lexer_state, parser_state):
        tokens = self.lexer.lex(lexer_state, parser_state)
        states = parser_state.parse_conf.states
        read_rule, read_set = self.rules.read, self.sets.read
        while True:
            expected = states[parser_state.position] if self.enabled else ()
            if FAST_RULE in expected:
                token = read_rule(lexer_state)
                if token is not None and _shifts(states, parser_state.state_stack, FAST_RULE):
                    lexer_state.line_ctr.feed(token, test_newline=False)
                    lexer_state.last_token = token
                    yield token
                    yield self.separator(lexer_state)
                    continue
            if FAST_SET in expected:
                token = read_set(lexer_state)
                if token is not None and _shifts(states, parser_state.state_stack, FAST_SET):
                    _skip_to(lexer_state.line_ctr, _source(lexer_state), token.end_pos)
                    lexer_state.last_token = token
                    yield token
                    continue
            token = next(tokens, None)
            if token is None:
                return
            yield token

    def separator(self, lexer_state) -> Token:
        """The newline or `;` that ends a rule read in one go, as the lexer makes it (after the
        blanks and the comment it skips)."""
        text = _source(lexer_state)
        counter = lexer_state.line_ctr
        end = _SEPARATOR.match(text, counter.char_pos)
        counter.feed(text[counter.char_pos:end.start(1)], test_newline=False)
        value = end.group(1)
        token = Token("_NL" if value == "\n" else self.rules.keywords[value], value, counter.char_pos, counter.line,
                      counter.column)
        counter.feed(value)
        token.end_line, token.end_column, token.end_pos = counter.line, counter.column, counter.char_pos
        lexer_state.last_token = token
        return token


def _source(lexer_state) -> str:
    text = lexer_state.text
    return text if isinstance(text, str) else text.text  # Lark >= 1.3 lexes a TextSlice


def _skip_to(counter, text: str, end: int) -> None:
    """Moves Lark's line counter to ``end``, over the newlines on the way."""
    newline = text.rfind("\n", counter.char_pos, end)
    if newline >= 0:
        counter.line += text.count("\n", counter.char_pos, end)
        counter.line_start_pos = newline + 1
    counter.char_pos = end
    counter.column = end - counter.line_start_pos + 1


def _shifts(states, state_stack: list[int], terminal: str) -> bool:
    """Whether the parser, fed ``terminal`` now, would shift it (after the reductions it makes
    first) rather than fail: LALR tables list some terminals a state cannot really go on with."""
    stack = list(state_stack)
    while True:
        action = states[stack[-1]].get(terminal)
        if action is None:
            return False
        kind, arg = action
        if kind is Shift:
            return True
        size = len(arg.expansion)
        if size:
            del stack[-size:]
        stack.append(states[stack[-1]][arg.origin.name][1])


class LineRules:
    """Reads the rest of a line as a rule, or declines (None) whenever the line holds anything
    beyond the shapes below, however valid: the grammar reads those.

    A rule here is statements on one line, then optionally ``comment "..."``: a match
    (``tcp|udp|udplite|sctp|dccp|th dport|sport``, ``ip|ip6 saddr|daddr``, ``ip protocol``, ``ip6
    nexthdr``, ``icmp|icmpv6 type``, ``[meta] iifname|oifname|iif|oif|mark``, ``meta KEY``, ``ct
    state|status``) with an optional ``==`` ``!=`` ``<`` ``>`` ``<=`` ``>=`` and a value, range,
    prefix, list, ``{ set }``, ``@set`` or ``$variable``; a verdict map (``KEY vmap { v : verdict,
    ... }`` or ``vmap @map``); ``counter [packets N bytes N]``; ``log`` with a prefix, level or
    group; ``limit rate [over] N/UNIT [burst N packets]``; a verdict; ``reject [with ...]``.
    """

    def __init__(self, transformer, keywords: dict[str, str], reserved: dict[str, str], word: re.Pattern,
                 number: re.Pattern) -> None:
        self.build = transformer
        self.keywords = keywords  # each keyword of the grammar -> its terminal
        self.reserved = reserved  # the words nft reserves everywhere -> their terminal
        self.word = word  # the grammar's WORD
        self.number = number
        self.starts = frozenset(_FIELDS) | _META_KEYS | _ALL_VERDICTS | {"meta", "ct", "counter", "log", "limit",
                                                                          "reject"}

    def read(self, lexer_state) -> FastRule | None:
        text = _source(lexer_state)
        counter = lexer_state.line_ctr
        if counter.char_pos >= len(text):
            return None
        tokens = self.tokens(text, counter.char_pos, counter.line, counter.line_start_pos)
        if not tokens:
            return None
        rule = _Reader(self, tokens).rule()
        if rule is None:
            return None
        start, end = counter.char_pos, tokens[-1].end_pos
        token = FastRule(FAST_RULE, text[start:end], start, counter.line, counter.column, counter.line,
                         counter.column + end - start, end)
        token.rule = rule
        return token

    def tokens(self, text: str, position: int, line: int, line_start: int,
               set_lines: bool = False) -> list[Token] | None:
        """The tokens of the rest of the line, as the grammar's lexer makes them (words still
        WORD: their terminal depends on where they are); None when the line does not start
        with a statement the reader knows, or holds what it does not split. With ``set_lines``,
        the tokens of a set up to its closing brace, over its lines and comments."""
        tokens: list[Token] = []
        while True:
            match = _TOKEN.match(text, position)
            if match is None:
                return None  # a backslash, an unterminated or multi-line string, a stray character
            kind = match.lastgroup
            if kind == "end" and set_lines and match.group(kind) != ";":
                position = text.find("\n", match.start(kind))
                line, line_start = line + 1, position + 1
                position += 1
                continue
            if kind == "end":
                return None if set_lines else tokens
            start, end = match.span(kind)
            if kind in _AFTER and text[end] not in _AFTER[kind]:
                end = self.word.match(text, start).end()  # maybe more than a name or a number
            elif kind == "mark" and text[start] == ":":
                word = self.word.match(text, start)  # an IPv6 address (::1)?
                if word is not None:
                    kind, end = "name", word.end()
            value = text[start:end]
            if not tokens and value not in self.starts and not set_lines:
                return None
            column = start - line_start + 1
            terminal = _TERMINALS.get(kind) or value
            tokens.append(Token(terminal, value, start, line, column, line, column + end - start, end))
            if set_lines and value == "}":
                return tokens
            position = end


class PlainSets:
    """Reads ``{ ... }`` of plain elements where a set may start, or declines (None): anything
    else, however valid, is left to the grammar.

    A plain element is an IPv4 address, a word with a colon as the grammar's WORD reads it (an
    IPv6 or MAC address), a decimal number, or a range (``a-b``) or prefix (``a/n``) of those,
    written without blanks: never a keyword, so its terminal is known. Elements are separated by
    commas, and the last may be followed by one; a comment and a newline may stand on either side
    of a comma, as the grammar allows.
    """

    #: A set written over more characters than this keeps only where it is written
    #: (:class:`~portlint.parsers.nftables_syntax.PlainSet`); a shorter one is read at once.
    LAZY_ABOVE = 4096

    def __init__(self, rules: LineRules, lazy_set) -> None:
        self.rules = rules
        self.lazy_set = lazy_set  # PlainSet(text, span, read)
        values = []
        for copy in ("a", "b"):  # the grammar's WORD twice in one pattern: its group renamed
            word = rules.word.pattern.replace("WORD_BRACKET", f"WORD_BRACKET_{copy}")
            value = rf"[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}|(?=[0-9a-fA-F]*:)(?:{word})|[0-9]+"
            # Atomic, as the lexer takes the first match: a lookahead's group, then that text.
            values.append(rf"(?=(?P<value_{copy}>{value}))(?P=value_{copy})")
        element = rf"{values[0]}(?:-{values[1]}|/[0-9]+)?(?=[ \t\n,}}#])"
        blank = r"[ \t]*(?:\#[^\n]*(?=\n))?(?:\n[ \t]*)?"  # a comment runs to the end of its line
        self.opening = re.compile(rf"[ \t]*(\{{){blank}{element}")
        self.more = re.compile(rf"(?:{blank},{blank}{element}){{1,1024}}")  # bounded: no deep backtracking
        self.closing = re.compile(rf"{blank}(?:,{blank})?\}}")

    def read(self, lexer_state) -> FastSet | None:
        text = _source(lexer_state)
        counter = lexer_state.line_ctr
        opening = self.opening.match(text, counter.char_pos)
        if opening is None:
            return None
        end, more = opening.end(), self.more.match
        while (found := more(text, end)) is not None:
            end = found.end()
        closing = self.closing.match(text, end)
        if closing is None:
            return None
        start, end = opening.start(1), closing.end()
        line, column = counter.line, counter.column + start - counter.char_pos
        last_newline = text.rfind("\n", start, end)
        end_line = line + text.count("\n", start, end) if last_newline >= 0 else line
        end_column = end - last_newline if last_newline >= 0 else column + end - start
        span = (start, end, line, column, end_line, end_column)
        token = FastSet(FAST_SET, "{ ... }", start, line, column, end_line, end_column, end)
        token.set = self.lazy_set(text, span, self.elements) if end - start > self.LAZY_ABOVE \
            else self.elements(text, span)
        return token

    def elements(self, text: str, span) -> Any:
        """The set literal written at ``span``, as the grammar reads it."""
        start, _, line, column, _, _ = span
        tokens = self.rules.tokens(text, start, line, start - column + 1, set_lines=True)
        literal = _Reader(self.rules, tokens).set_literal() if tokens else None
        if literal is None:  # the pattern and the reader disagree: a bug, never the file's fault
            raise RuntimeError(f"the plain set at line {line} cannot be read again")
        return literal


class _Reader:
    """Recursive descent over one line's tokens, building each node with the transformer's own
    method from the children Lark would hand it; every method returns None to decline."""

    def __init__(self, rules: LineRules, tokens: list[Token]) -> None:
        self.rules = rules
        self.keywords = rules.keywords
        self.build = rules.build
        self.tokens = tokens
        self.index = 0
        self.token = tokens[0]  # the next token; _END after the last

    # -- tokens --------------------------------------------------------------------------------

    def take(self, terminal: str | None = None) -> Token:
        """The next token, given its terminal (a word's keyword, or NUMBER/STRING)."""
        token = self.token
        if terminal is not None:
            token.type = terminal
        self.index += 1
        self.token = self.tokens[self.index] if self.index < len(self.tokens) else _END
        return token

    def word(self) -> str | None:
        return self.token.value if self.token.type == "WORD" else None

    def keyword(self, *words: str) -> Token | None:
        """The next word as a keyword, if it is one of ``words``."""
        value = self.word()
        return self.take(self.keywords[value]) if value in words else None

    def punctuation(self, mark: str) -> Token | None:
        return self.take(self.keywords[mark]) if self.token.type == mark else None

    def number(self) -> str | None:
        """The next word, if it is a number (NUMBER)."""
        value = self.word()
        return value if value is not None and self._terminal(value) == "NUMBER" else None

    def name(self) -> Token | None:
        """A name (STRING): a word that is no keyword anywhere, nor a number."""
        value = self.word()
        return self.take("STRING") if value is not None and self._terminal(value) == "STRING" else None

    def _terminal(self, value: str) -> str | None:
        """The terminal of a word wherever the grammar expects a value; None for a keyword
        (its terminal would depend on the parser's state) or a wildcard."""
        rules = self.rules
        if value in rules.reserved:
            return rules.reserved[value] if value in _VALUE_KEYWORDS else None
        if value in self.keywords or value.endswith("*"):
            return None
        return "NUMBER" if rules.number.fullmatch(value) else "STRING"

    # -- rules and statements ------------------------------------------------------------------

    def rule(self) -> Any:
        children = []
        while self.token is not _END:
            if self.word() == "comment":
                self.take(self.keywords["comment"])
                if self.token.type != "QUOTED" or self.index + 1 != len(self.tokens):
                    return None
                children.append(self.build.comment_spec([self.take()]))
                break
            statement = self.statement()
            if statement is None:
                return None
            children.append(statement)
        return self.build.rule(children)

    def statement(self) -> Any:
        value = self.word()
        if value in _ALL_VERDICTS:
            return self.verdict()
        if value == "counter":
            return self.counter()
        if value == "log":
            return self.log()
        if value == "limit":
            return self.limit()
        if value == "reject":
            return self.reject()
        left = self.packet_field()
        if left is None:
            return None
        if self.word() == "vmap":
            return self.verdict_map(left)
        children = [left]
        if self.token.type in _OPERATORS:
            children.append(self.build.relational_op([self.take(self.keywords[self.token.type])]))
        right = self.right_hand_side()
        if right is None:
            return None
        children.append(right)
        return self.build.match_stmt(children)

    def verdict(self) -> Any:
        kind = self.keyword(*_ALL_VERDICTS)
        if kind is None or kind.value not in _JUMPS:
            return None if kind is None else self.build.verdict([kind])
        target = self.name()
        return None if target is None else self.build.verdict([kind, target])

    def counter(self) -> Any:
        """``counter``, with the values ``nft list ruleset`` shows (``packets 3 bytes 180``)."""
        children = [self.keyword("counter")]
        while self.word() in ("packets", "bytes"):
            children.append(self.keyword("packets", "bytes"))
            if self.number() is None:
                return None
            children.append(self.take("NUMBER"))
        return self.build.counter_stmt(children)

    def log(self) -> Any:
        """``log`` with a prefix, a level or a group."""
        children = [self.keyword("log")]
        while self.word() in _LOG_OPTIONS:
            option = self.keyword(*_LOG_OPTIONS)
            if option.value == "group":
                value = None if self.number() is None else self.take("NUMBER")
            elif self.token.type == "QUOTED":
                value = self.take()
            else:
                value = self.name()
            if value is None:
                return None
            children.append(self.build.log_arg([option, value]))
        return self.build.log_stmt(children)

    def limit(self) -> Any:
        """``limit rate [over] N/UNIT [burst N packets]``."""
        children = [self.keyword("limit"), self.keyword("rate")]
        if children[1] is None:
            return None
        if self.word() in ("over", "until"):
            children.append(self.build.limit_mode([self.keyword("over", "until")]))
        if self.number() is None:
            return None
        rate = [self.take("NUMBER"), self.punctuation("/"), self.keyword(*_TIME_UNITS)]
        if rate[1] is None or rate[2] is None:
            return None
        children.append(self.build.limit_rate_pkts([rate[0], rate[1], self.build.time_unit([rate[2]])]))
        if self.word() == "burst":
            burst = [self.keyword("burst")]
            if self.number() is None:
                return None
            burst += [self.take("NUMBER"), self.keyword("packets")]
            if burst[2] is None:
                return None
            children.append(self.build.limit_burst_pkts(burst))
        return self.build.limit_stmt(children)

    def reject(self) -> Any:
        children = [self.keyword("reject")]
        if self.word() == "with":
            children.append(self.keyword("with"))
            if self.word() == "tcp":
                options = [self.keyword("tcp"), self.keyword("reset")]
                if options[1] is None:
                    return None
            else:
                options = [self.keyword(*_REJECT_FAMILIES)]
                if options[0] is None:
                    return None
                if self.word() == "type":
                    options.append(self.keyword("type"))
                value = self.word()
                terminal = None if value is None else self._terminal(value)
                if terminal not in ("STRING", "NUMBER"):
                    return None
                options.append(self.take(terminal))
            children.append(self.build.reject_with(options))
        return self.build.reject_stmt(children)

    def packet_field(self) -> Any:
        """The left side of a match: a header field, a meta key or a conntrack key."""
        value = self.word()
        if value in _FIELDS:
            protocol = self.keyword(value)
            field = self.keyword(*_FIELDS[value])
            return None if field is None else self.build.payload_expr([protocol, field])
        if value in _META_KEYS:
            return self.build.meta_expr([self.keyword(value)])
        if value == "meta":
            meta = self.keyword("meta")
            key = self.keyword(*_META_KEYS) or self.name()
            return None if key is None else self.build.meta_expr([meta, key])
        if value == "ct":
            ct = self.keyword("ct")
            key = self.keyword(*_CT_KEYS)
            return None if key is None else self.build.ct_expr([ct, key])
        return None

    def verdict_map(self, key) -> Any:
        vmap = self.keyword("vmap")
        if self.token.type == "@":
            reference = self.set_reference()
            table = None if reference is None else self.build.verdict_map_expr([reference])
        else:
            table = self.verdict_map_literal()
        return None if table is None else self.build.vmap_stmt([key, vmap, table])

    def verdict_map_literal(self) -> Any:
        opening = self.punctuation("{")
        if opening is None:
            return None
        elements = None
        while True:
            element = self.element()
            if element is None or self.punctuation(":") is None:
                return None
            verdict = self.verdict()
            if verdict is None:
                return None
            mapping = self.build.vmap_element([element, verdict])
            elements = self.build.verdict_map_list([mapping] if elements is None else [elements, mapping])
            if self.punctuation(",") is None:
                break
        closing = self.punctuation("}")
        return None if closing is None else self.build.verdict_map_expr([opening, elements, closing])

    # -- values --------------------------------------------------------------------------------

    def right_hand_side(self) -> Any:
        kind = self.token.type
        if kind == "{":
            return self.set_literal()
        if kind == "@":
            return self.set_reference()
        if kind == "$":
            self.take()
            name = self.name()
            return None if name is None else self.build.variable([name])
        value = self.value()
        if value is None or self.token.type != ",":
            return None if value is None else self.multiton(value)
        items = value
        while self.punctuation(",") is not None:
            item = self.value()
            if item is None:
                return None
            items = self.build.list_rhs_expr([items, item])
        return items

    def multiton(self, value) -> Any:
        """``value``, or the range or prefix it starts."""
        if self.punctuation("-") is not None:
            high = self.value()
            return None if high is None else self.build.range([value, high])
        if self.punctuation("/") is not None:
            length = self.word()
            if length is None or self._terminal(length) != "NUMBER":
                return None
            return self.build.prefix([value, self.take("NUMBER")])
        return value

    def value(self) -> Any:
        """A single value: a number, a name, a quoted string or a keyword that is a value."""
        kind = self.token.type
        if kind == "QUOTED":
            return self.take()
        terminal = self._terminal(self.token.value) if kind == "WORD" else None
        if terminal is None:
            return None
        value = self.take(terminal)
        return value if terminal in ("NUMBER", "STRING") else self.build.keyword_expr([value])

    def set_reference(self) -> Any:
        at = self.punctuation("@")
        name = self.name()
        return None if name is None else self.build.set_ref_symbol_expr([at, name])

    def element(self) -> Any:
        value = self.value()
        key = None if value is None else self.multiton(value)
        return None if key is None else self.build.set_elem_expr([key])

    def set_literal(self) -> Any:
        opening = self.punctuation("{")
        members = None
        while True:
            element = self.element()
            if element is None:
                return None
            members = element if members is None else self.build.set_list([members, element])
            comma = self.punctuation(",")
            if comma is None:
                break
            if self.token.type == "}":  # a trailing comma
                members = self.build.set_list([members, comma])
                break
        closing = self.punctuation("}")
        return None if closing is None else self.build.set_expr([opening, members, closing])


_END = Token("$END", "")
