"""A static evaluator of shell scripts: what a script does that can be known without running it.

It walks the tree of ``grammars/shell.lark`` in execution order: assignments, ``for`` loops over
known words, functions called with their arguments, ``if`` / ``case`` / ``&&`` / ``||`` decided
where the condition is known (string tests, ``true``, the status the caller gives a command).
Where it is not, every branch may run: each runs from the same state, and afterwards a variable
the branches left different is unknown ("set in only some branches"). ``while`` loops run once
as such a branch, except ``while read`` over a known here-document, which runs once per line.

Every command that is not a shell builtin or function is handed, expanded, to ``run_command``,
with the branches it runs in (none: it runs whenever the script gets there); its answer (True,
False, None for unknown) is the command's exit status.
"""
from __future__ import annotations

import fnmatch
import itertools
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from lark import Token, Tree

from ..model import Diagnostic, Location
from .common import PARSE_ERROR, UNRESOLVED_VARIABLE
from .shell_syntax import Heredoc
from .shell_values import Array, Field, HereDocument, Origin, Scalar, Segment, Unknown, Value, Variable
from .shell_words import Expander, first_token

#: Commands that run the command that follows them (their own options are skipped).
WRAPPERS = {"sudo": "ugpCDrtUTh", "doas": "uC", "command": "", "exec": "a", "env": "uCS", "nice": "n",
            "nohup": "", "time": "", "timeout": "ks", "stdbuf": "ioe"}
DECLARATIONS = ("export", "readonly", "declare", "typeset", "local")
MAX_CALL_DEPTH = 16
MAX_COMMANDS = 200_000
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=")
_TEST_UNARY = {"-z", "-n"}
_TEST_FILES = {"-a", "-b", "-c", "-d", "-e", "-f", "-g", "-h", "-k", "-p", "-r", "-s", "-t", "-u",
               "-w", "-x", "-G", "-L", "-N", "-O", "-S", "-v", "-o", "-R"}
_NUMERIC = {"-eq": lambda a, b: a == b, "-ne": lambda a, b: a != b, "-lt": lambda a, b: a < b,
            "-le": lambda a, b: a <= b, "-gt": lambda a, b: a > b, "-ge": lambda a, b: a >= b}


#: The branches a command runs in: (branch point, alternative) from the outermost.
Branches = tuple[tuple[int, int], ...]


@dataclass
class Command:
    """A command with its arguments expanded, as the evaluator hands it over."""

    fields: list[Field]
    stdin: HereDocument | None  # a here-document or here-string, or what `cat`/`echo` pipes in
    branches: Branches = ()

    @property
    def certain(self) -> bool:
        """It runs whenever the script gets here (not only in some branches)."""
        return not self.branches


def exclusive(a: Branches, b: Branches) -> bool:
    """Whether commands in these branches never both run: other alternatives of one branch point
    (the ``start)`` and ``restart)`` items of one case)."""
    for first, second in zip(a, b):
        if first != second:
            return first[0] == second[0]
    return False


class _Exit(Exception):
    pass


class _Budget(Exception):
    """The evaluation ran ``MAX_COMMANDS`` commands: the rest of the script is not read."""


class _Return(Exception):
    def __init__(self, status: bool | None) -> None:
        self.status = status


class _LoopControl(Exception):
    def __init__(self, levels: int, again: bool) -> None:
        self.levels = levels
        self.again = again  # continue (True) or break (False)


@dataclass
class _Frame:
    """A function call: its arguments and its ``local`` variables (bash scopes them dynamically)."""

    arguments: list[Scalar] | None  # None: the script's own arguments, not known
    locals: dict[str, Variable] = field(default_factory=dict)


@dataclass
class _State:
    variables: dict[str, Variable] = field(default_factory=dict)
    frames: list[_Frame] = field(default_factory=lambda: [_Frame(None)])
    functions: dict[str, Tree] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(dict(self.variables),
                      [_Frame(None if f.arguments is None else list(f.arguments), dict(f.locals)) for f in self.frames],
                      dict(self.functions))


class Evaluator:
    """Evaluates one parsed script; ``run_command`` receives every external command."""

    def __init__(self, text: str, path: str, run_command: Callable[[Command], bool | None]) -> None:
        self.text = text
        self.path = path
        self.run_command = run_command
        self.state = _State()
        self.alternatives: list[tuple[int, int]] = []  # the branches being run, outermost first
        self.branch_points = itertools.count()
        self.depth = 0
        self.loops = 0  # loops being run (break and continue end their iterations)
        self.calling: set[str] = set()  # the functions being run
        self.commands = 0
        self.current: Tree | None = None  # the command being run, where a stop is reported
        self.diagnostics: list[Diagnostic] = []
        self.expander = Expander(text, self)
        self.heredocs: dict[int, tuple[Heredoc, Tree | None]] = {}
        self.assigned: set[str] = set()

    @property
    def certain(self) -> bool:
        return not self.alternatives

    # -- the scope the expander reads ----------------------------------------------------------

    def get(self, name: str) -> Variable | None:
        for frame in reversed(self.state.frames):
            if name in frame.locals:
                return frame.locals[name]
        return self.state.variables.get(name)

    def set(self, name: str, value: Variable) -> None:
        for frame in reversed(self.state.frames):
            if name in frame.locals:
                frame.locals[name] = value
                return
        self.state.variables[name] = value

    @property
    def arguments(self) -> list[Scalar] | None:
        return self.state.frames[-1].arguments

    def unset_reason(self, name: str) -> str:
        if name in self.assigned:
            return f"{name}, which is not set yet when this command runs"
        return f"{name}, which this script never sets (it may come from the environment)"

    # -- entry -----------------------------------------------------------------------------------

    def run(self, tree: Tree) -> None:
        self._prepare(tree)
        try:
            self.sequence(tree.children)
        except (_Exit, _Return, _LoopControl):
            pass  # the script ends here
        except _Budget:
            self.stop(f"it runs more than {MAX_COMMANDS:,} commands")
        except RecursionError:
            self.stop("its commands or words nest deeper than portlint follows")

    def stop(self, why: str) -> None:
        """Report that evaluation ends at the current command: the commands after it are not
        checked, which a clean report must not hide."""
        token = first_token(self.current) if self.current is not None else None
        line, column = (token.line, token.column) if token is not None and token.line else (1, 1)
        self.diagnostics.append(Diagnostic(UNRESOLVED_VARIABLE, f"portlint stops evaluating the script here: {why}; "
                                           "the commands from here on are not checked", Location(self.path, line, column)))

    def _prepare(self, tree: Tree) -> None:
        """Pair every ``<<`` with its body (they come in the same order) and note the names the
        script assigns (``NAME=``, ``local NAME=``, ``for NAME``), for messages about unset
        variables."""
        operators, bodies = [], []
        for node in tree.iter_subtrees_topdown():
            if node.data == "heredoc":
                bodies.append(node)
            for child in node.children:
                if isinstance(child, Token):
                    if child.type == "HEREDOC":
                        operators.append(child)
                    elif child.type in ("ASSIGN", "LITERAL") and _ASSIGNED.match(child.value):
                        self.assigned.add(_ASSIGNED.match(child.value)[1])
            if node.data == "for_clause":
                self.assigned.add(node.children[0].value)
        operators.sort(key=lambda t: t.start_pos)
        bodies.sort(key=lambda b: first_token(b).start_pos)
        for number, operator in enumerate(operators):
            heredoc, body = Heredoc.from_token(operator), bodies[number] if number < len(bodies) else None
            self.heredocs[operator.start_pos] = (heredoc, body)
            if body is None or body.children[-1].value == "":
                self.diagnostics.append(Diagnostic(
                    PARSE_ERROR, f"the here-document is never ended by a line {heredoc.delimiter!r}",
                    Location(self.path, operator.line, operator.column, operator.line, operator.end_column)))

    # -- lists and control flow ------------------------------------------------------------------

    def sequence(self, nodes) -> bool | None:
        status: bool | None = True
        for node in nodes:
            if isinstance(node, Tree) and node.data != "heredoc":
                status = self.command(node)
        return status

    def command(self, node: Tree, stdin: HereDocument | None = None) -> bool | None:
        self.current = node
        if node.data == "simple_command":
            return self.on_simple_command(node, stdin)
        return getattr(self, "on_" + node.data)(node)

    def on_body(self, node: Tree) -> bool | None:
        return self.sequence(node.children)

    def on_and_or(self, node: Tree) -> bool | None:
        """``a && b || c``: each command runs when the status before it says so; an unknown
        status makes the command a branch that may run."""
        items = [c for c in node.children if not (isinstance(c, Tree) and c.data == "heredoc")]
        status = self.command(items[0])
        for operator, right in zip(items[1::2], items[2::2]):
            runs = status if operator.type == "AND_IF" else (None if status is None else not status)
            if runs is True:
                status = self.command(right)
            elif runs is None:
                where = f"a {operator.value} list"
                status = self.branches([lambda right=right: self.command(right), lambda: None], where)
        return status

    def on_pipe(self, node: Tree) -> bool | None:
        """Each command of a pipeline runs in a subshell; what ``cat <<EOF`` or ``echo`` writes
        is the next command's input."""
        status, piped = None, None
        for item in node.children:
            if isinstance(item, Tree) and item.data != "heredoc":
                status = self.subshell(lambda: self.command(item, piped))
                piped = self.output(item)
        return status

    def on_negated(self, node: Tree) -> bool | None:
        inner = Tree("pipe", node.children[1:]) if len(node.children) > 2 else node.children[1]
        status = self.command(inner)
        return None if status is None else not status

    def on_redirected(self, node: Tree) -> bool | None:
        compound, redirects = node.children[0], node.children[1:]
        if compound.data == "while_clause":
            document = self.stdin(redirects)
            if document is not None:
                return self.while_read(compound, document)
        return self.command(compound)

    def on_brace_group(self, node: Tree) -> bool | None:
        return self.command(node.children[0])

    def on_subshell(self, node: Tree) -> bool | None:
        return self.subshell(lambda: self.command(node.children[0]))

    def subshell(self, run: Callable[[], bool | None]) -> bool | None:
        saved = self.state.copy()
        try:
            return run()
        except _Exit:
            return None
        finally:
            self.state = saved

    def on_function_def(self, node: Tree) -> bool | None:
        name = node.children[0]
        name = name.value if isinstance(name, Token) else self.expander.source(name)
        self.state.functions[name] = node.children[1]
        return True

    def on_if_clause(self, node: Tree) -> bool | None:
        clauses = [(node.children[0], node.children[1])]
        otherwise = None
        for part in node.children[2:]:
            if part.data == "elif_part":
                clauses.append((part.children[0], part.children[1]))
            else:
                otherwise = part.children[0]
        return self.if_chain(clauses, otherwise, "an if")

    def if_chain(self, clauses: list[tuple[Tree, Tree]], otherwise: Tree | None, where: str) -> bool | None:
        """The first clause whose condition holds runs; an undecided condition makes two
        branches: its clause, and the rest of the chain."""
        for number, (condition, then) in enumerate(clauses):
            status = self.command(condition)
            if status is None:
                return self.branches([lambda: self.command(then),
                                      lambda: self.if_chain(clauses[number + 1:], otherwise, where)], where)
            if status:
                return self.command(then)
        return self.command(otherwise) if otherwise is not None else True

    def on_case_clause(self, node: Tree) -> bool | None:
        subject = self.expander.scalar(node.children[0])
        items = [c for c in node.children[2:] if isinstance(c, Tree) and c.data == "case_item"]
        where = "a case"
        alternatives = []
        for item in items:
            patterns = [c for c in item.children if isinstance(c, Tree) and c.data == "word"]
            body = next((c for c in item.children if isinstance(c, Tree) and c.data == "body"), None)
            matched = self.case_matches(subject, patterns)
            if matched is False:
                continue
            run = (lambda body=body: self.command(body)) if body is not None else (lambda: True)
            if matched and not alternatives:
                return run()
            alternatives.append(run)
            if matched:
                return self.branches(alternatives, where)  # no later item runs
        if not alternatives:
            return True
        return self.branches(alternatives + [lambda: True], where)  # or none matches

    def case_matches(self, subject: Scalar, patterns: list[Tree]) -> bool | None:
        if isinstance(subject, Unknown):
            return None
        answer: bool | None = False
        for pattern in patterns:
            found = self.expander.scalar(pattern)
            if isinstance(found, Unknown):
                answer = None
            elif fnmatch.fnmatchcase(subject.text, found.text):
                return True
        return answer

    def on_for_clause(self, node: Tree) -> bool | None:
        name = node.children[0].value
        body = node.children[-1]
        if isinstance(node.children[1], Token) and node.children[1].type == "IN":
            fields = [f for w in node.children[2:-1] if isinstance(w, Tree) and w.data == "word"
                      for f in self.expander.fields(w)]
            items: list[Scalar] | None = [Unknown(f.unknown) if f.unknown else Value(f.text, f.origins) for f in fields]
        else:
            items = self.arguments  # for NAME; do: over "$@"
        unknown = Unknown("the arguments the script is run with") if items is None else next(
            (i for i in items if isinstance(i, Unknown)), None)
        if unknown is not None:
            return self.loop_once(lambda: (self.set(name, unknown), self.command(body))[1], "a for loop")
        return self.iterate(name, items, body)

    def on_arith_for_clause(self, node: Tree) -> bool | None:
        self.arithmetic_assignments(node.children[0].value)
        return self.loop_once(lambda: self.command(node.children[-1]), "a for loop")

    def on_while_clause(self, node: Tree, until: bool = False) -> bool | None:
        condition, body = node.children
        status = self.command(condition)
        if status is (True if until else False):
            return True
        return self.loop_once(lambda: (self.command(body), self.command(condition))[0],
                              "an until loop" if until else "a while loop")

    def on_until_clause(self, node: Tree) -> bool | None:
        return self.on_while_clause(node, until=True)

    def while_read(self, node: Tree, document: HereDocument) -> bool | None:
        """``while read a b; do ...; done <<EOF``: the body once per line of a known text."""
        condition, body = node.children
        commands = [c for c in condition.children if isinstance(c, Tree)]
        read = commands[0] if len(commands) == 1 and commands[0].data == "simple_command" else None
        fields = self.fields(read) if read is not None else []
        names = _read_names(fields)
        unknown = any(s.unknown for s in document.segments)
        if not fields or fields[0].text != "read" or not names or unknown or any(f.unknown for f in fields):
            return self.command(node)
        rows = []
        for line in document.text.splitlines():
            values = line.split(None, len(names) - 1)
            rows.append(dict(zip(names, values + [""] * (len(names) - len(values)))))
        return self.iterate(None, rows, body)

    def iterate(self, name: str | None, items: list, body: Tree) -> bool | None:
        """Run a loop's body once per item: a value of ``name``, or (``while read``) a row of
        values by name; each value says where it came from."""
        status: bool | None = True
        self.loops += 1
        try:
            for item in items:
                values = item.items() if name is None else [(name, item)]
                for variable, value in values:
                    value = value if isinstance(value, Value) else Value(value)
                    self.set(variable, Value(value.text, value.origins + (Origin(f"${variable} = {value.text}"),)))
                try:
                    status = self.command(body)
                except _LoopControl as control:
                    if control.levels > 1:
                        raise _LoopControl(control.levels - 1, control.again) from None
                    if not control.again:
                        break
        finally:
            self.loops -= 1
        return status

    def loop_once(self, run: Callable[[], bool | None], where: str) -> bool | None:
        """A loop whose iterations are not known: its body may run, or not."""

        def once() -> bool | None:
            try:
                return run()
            except _LoopControl:
                return None

        return self.branches([once, lambda: True], where)

    def on_arith_command(self, node: Tree) -> bool | None:
        token = node.children[0]
        self.arithmetic_assignments(token.value)
        return None

    def on_condition(self, node: Tree) -> bool | None:
        return _test(list(self.condition_items(node.children)), double=True)

    def condition_items(self, children) -> Iterator:
        for child in children:
            if isinstance(child, Token):
                yield ("op", {"AND_IF": "&&", "OR_IF": "||", "BANG": "!"}.get(child.type, child.value))
            elif child.data == "condition_group":
                yield ("op", "(")
                yield from self.condition_items(child.children)
                yield ("op", ")")
            else:
                yield ("arg", self.expander.scalar(child))

    def branches(self, alternatives: list[Callable[[], bool | None]], where: str) -> bool | None:
        """Run each alternative from the current state, none of them certain; then keep what
        they agree on. A variable they leave different becomes unknown."""
        start, point = self.state, next(self.branch_points)
        ends: list[_State] = []
        statuses = set()
        for number, alternative in enumerate(alternatives):  # exit, return, break: only where surely reached
            self.state = start.copy()
            self.alternatives.append((point, number))
            try:
                statuses.add(alternative())
            finally:
                self.alternatives.pop()
            ends.append(self.state)
        self.state = _merge(ends, where)
        return statuses.pop() if len(statuses) == 1 else None

    # -- simple commands -------------------------------------------------------------------------

    def fields(self, node: Tree) -> list[Field]:
        return [f for c in node.children if isinstance(c, Tree) and c.data == "word" for f in self.expander.fields(c)]

    def on_simple_command(self, node: Tree, stdin: HereDocument | None = None) -> bool | None:
        self.commands += 1
        if self.commands > MAX_COMMANDS:
            raise _Budget()
        assignments = [c for c in node.children if c.data in ("assignment", "array_assignment")]
        words = [c for c in node.children if c.data in ("word", "array_argument")]
        redirects = [c for c in node.children if c.data == "redirect"]
        if not words:
            for assignment in assignments:
                self.assign(assignment)
            return True
        first = self.expander.fields(words[0]) if words[0].data == "word" else []
        if first and not first[0].unknown and first[0].text in DECLARATIONS:
            return self.declare(first[0].text, words[1:])
        fields = first + [f for w in words[1:] if w.data == "word" for f in self.expander.fields(w)]
        if not fields:
            for assignment in assignments:
                self.assign(assignment)
            return True
        return self.execute(fields, self.stdin(redirects) or stdin)

    def execute(self, fields: list[Field], stdin: HereDocument | None) -> bool | None:
        wrapped, exec_ = False, False
        while fields and not fields[0].unknown and fields[0].text in WRAPPERS:
            if fields[0].text == "command" and len(fields) > 1 and fields[1].text in ("-v", "-V"):
                return None
            exec_ = exec_ or fields[0].text == "exec"
            fields = _unwrap(fields)
            wrapped = True
        if not fields:
            return True
        name = fields[0].text if not fields[0].unknown else None
        if name is not None and not wrapped and name in self.state.functions:
            return self.call(name, fields)
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            status = getattr(self, "builtin_" + builtin)(fields)
        else:
            status = self.run_command(Command(fields, stdin, tuple(self.alternatives)))
        if exec_ and self.certain:
            raise _Exit()
        return status

    def call(self, name: str, fields: list[Field]) -> bool | None:
        """Run a function with these arguments (a recursive call is not followed)."""
        if self.depth >= MAX_CALL_DEPTH or name in self.calling:
            return None
        arguments: list[Scalar] = [
            Unknown(f.unknown) if f.unknown else
            Value(f.text, f.origins + (Origin(f"${number} = {f.text}", name),), f.span)
            for number, f in enumerate(fields[1:], 1)
        ]
        self.state.frames.append(_Frame(arguments))
        self.depth += 1
        self.calling.add(name)
        try:
            return self.command(self.state.functions[name])
        except _Return as returned:
            return returned.status
        finally:
            self.calling.discard(name)
            self.depth -= 1
            self.state.frames.pop()

    def assign(self, node: Tree) -> None:
        token = node.children[0]
        name, append = re.match(r"([A-Za-z_]\w*)(?:\[[^\]]*\])?(\+?)=", token.value).groups()
        if node.data == "array_assignment":
            words = [c for c in node.children[1:] if isinstance(c, Tree) and c.data == "word"]
            items = tuple(Unknown(f.unknown) if f.unknown else Value(f.text, f.origins)
                          for w in words for f in self.expander.fields(w))
            old = self.get(name)
            if append and isinstance(old, Array):
                items = old.items + items
            self.set(name, Array(items))
            return
        value = self.expander.scalar(node.children[1]) if len(node.children) > 1 else Value("")
        if append:
            old = self.get(name)
            old = old.items[0] if isinstance(old, Array) and old.items else old
            if isinstance(old, Unknown) or isinstance(value, Unknown):
                value = old if isinstance(old, Unknown) else value
            elif isinstance(old, Value):
                value = Value(old.text + value.text, old.origins + value.origins)
        self.set(name, value)

    def declare(self, builtin: str, words: list[Tree]) -> bool | None:
        """``export``/``local``/``readonly``/``declare``/``typeset``: their NAME=value arguments
        are assignments (``local`` ones scoped to the function)."""
        frame = self.state.frames[-1] if builtin in ("local", "declare", "typeset") and len(self.state.frames) > 1 else None
        for word in words:
            if word.data == "array_argument":
                name = self.expander.source(word.children[0]).rstrip("=").rstrip("+")
                items = tuple(Unknown(f.unknown) if f.unknown else Value(f.text, f.origins)
                              for w in word.children[1:] if isinstance(w, Tree) and w.data == "word"
                              for f in self.expander.fields(w))
                self._declare(frame, name, Array(items))
                continue
            named = self.expander.assignment(word)
            if named is not None:
                self._declare(frame, *named)
                continue
            for found in self.expander.fields(word):
                if frame is not None and _NAME.fullmatch(found.text):
                    self._declare(frame, found.text, Value(""))
        return True

    def _declare(self, frame: _Frame | None, name: str, value: Variable) -> None:
        if frame is not None:
            frame.locals[name] = value
        else:
            self.set(name, value)

    def stdin(self, redirects: list[Tree]) -> HereDocument | None:
        """What a here-document or here-string gives a command to read."""
        for redirect in redirects:
            first = redirect.children[0]
            if first.type == "HEREDOC":
                heredoc, body = self.heredocs[first.start_pos]
                return self.expander.here_document(body, heredoc.strip_tabs) if body is not None else HereDocument("")
            if first.type == "HERESTRING":
                found = self.expander.fields(redirect.children[1], split=False)
                return _document(found[0]) if found else HereDocument("\n")
        return None

    def output(self, node: Tree) -> HereDocument | None:
        """What ``cat`` (reading a here-document) or ``echo`` writes, for the next command."""
        if node.data != "simple_command":
            return None
        fields = self.fields(node)
        if len(fields) == 1 and fields[0].text == "cat":
            return self.stdin([c for c in node.children if c.data == "redirect"])
        if fields and fields[0].text == "echo" and len(fields) > 1 and not fields[1].text.startswith("-"):
            return _document(fields[1]) if len(fields) == 2 else None
        return None

    # -- builtins ----------------------------------------------------------------------------------

    def builtin_true(self, fields: list[Field]) -> bool:
        return True

    def builtin_false(self, fields: list[Field]) -> bool:
        return False

    def builtin_echo(self, fields: list[Field]) -> bool:
        return True

    def builtin_test(self, fields: list[Field]) -> bool | None:
        args = fields[1:]
        if fields[0].text == "[":
            if not args or args[-1].text != "]":
                return None
            args = args[:-1]
        items = [("op", f.text) if f.text in ("(", ")") and not f.unknown else
                 ("arg", Unknown(f.unknown) if f.unknown else Value(f.text)) for f in args]
        return _test(items, double=False)

    def builtin_exit(self, fields: list[Field]) -> bool | None:
        if self.certain:
            raise _Exit()
        return None

    def builtin_return(self, fields: list[Field]) -> bool | None:
        if self.certain and len(self.state.frames) > 1:
            status = fields[1].text if len(fields) > 1 else None
            raise _Return(None if status is None or not status.isdigit() else status == "0")
        return None

    def builtin_break(self, fields: list[Field], again: bool = False) -> bool | None:
        if self.certain and self.loops:
            levels = fields[1].text if len(fields) > 1 else "1"
            raise _LoopControl(int(levels) if levels.isdigit() else 1, again)
        return None

    def builtin_continue(self, fields: list[Field]) -> bool | None:
        return self.builtin_break(fields, again=True)

    def builtin_shift(self, fields: list[Field]) -> bool | None:
        count = fields[1].text if len(fields) > 1 else "1"
        frame = self.state.frames[-1]
        if frame.arguments is not None and count.isdigit():
            frame.arguments = frame.arguments[int(count):]
        return True

    def builtin_set(self, fields: list[Field]) -> bool:
        texts = [f.text for f in fields]
        if "--" in texts:
            rest = fields[texts.index("--") + 1:]
            self.state.frames[-1].arguments = [Unknown(f.unknown) if f.unknown else Value(f.text, f.origins, f.span)
                                               for f in rest]
        return True

    def builtin_unset(self, fields: list[Field]) -> bool:
        functions = any(f.text == "-f" for f in fields[1:])
        for found in fields[1:]:
            if found.text.startswith("-"):
                continue
            if functions:
                self.state.functions.pop(found.text, None)
                continue
            for frame in reversed(self.state.frames):
                if found.text in frame.locals:
                    del frame.locals[found.text]
                    break
            else:
                self.state.variables.pop(found.text, None)
        return True

    def builtin_read(self, fields: list[Field]) -> None:
        for name in _read_names(fields):
            self.set(name, Unknown("a value read when the script runs"))
        return None

    def builtin_let(self, fields: list[Field]) -> None:
        for found in fields[1:]:
            self.arithmetic_assignments(found.text)
        return None

    def arithmetic_assignments(self, expression: str) -> None:
        """Variables that arithmetic changes (``i++``, ``n = n + 1``) are no longer known."""
        for name in re.findall(r"([A-Za-z_]\w*)\s*(?:[-+*/%&|^]?=(?!=)|\+\+|--)|(?:\+\+|--)\s*([A-Za-z_]\w*)", expression):
            name = name[0] or name[1]
            self.set(name, Unknown(f"{name}, which arithmetic changes"))


#: Builtins the evaluator runs itself, and the method that does.
_BUILTINS = {"true": "true", ":": "true", "false": "false", "echo": "echo", "printf": "echo", "[": "test",
             "test": "test", "exit": "exit", "return": "return", "break": "break", "continue": "continue",
             "shift": "shift", "set": "set", "unset": "unset", "read": "read", "mapfile": "read",
             "readarray": "read", "getopts": "read", "let": "let"}


def _read_names(fields: list[Field]) -> list[str]:
    """The variables ``read [-r] [-p prompt] NAME...`` sets."""
    names, skip = [], False
    for found in fields[1:]:
        if skip:
            skip = False
        elif found.text in ("-p", "-d", "-n", "-N", "-t", "-u", "-i"):
            skip = True
        elif not found.text.startswith("-") and _NAME.fullmatch(found.text):
            names.append(found.text)
    return names


def _unwrap(fields: list[Field]) -> list[Field]:
    """The command a wrapper runs: ``sudo -u root iptables`` -> ``iptables``."""
    wrapper, rest = fields[0].text, fields[1:]
    takes_argument = WRAPPERS[wrapper]
    while rest:
        text = rest[0].text
        if text == "--":
            return rest[1:]
        if wrapper == "env" and "=" in text and not text.startswith("-"):
            rest = rest[1:]
        elif wrapper == "timeout" and re.fullmatch(r"[0-9.]+[smhd]?", text):
            return rest[1:]
        elif text.startswith("-") and len(text) > 1:
            rest = rest[2:] if len(text) == 2 and text[1] in takes_argument else rest[1:]
        else:
            break
    return rest


def _document(found: Field) -> HereDocument:
    """The text of one field as a command's input (a here-string, an echo), located at it."""
    segment = Segment(0, found.span, False, found.unknown, found.origins)
    return HereDocument(("?" if found.unknown else found.text) + "\n", [segment])


def _merge(states: list[_State], where: str) -> _State:
    """One state from the states branches ended in: what they agree on is kept."""
    merged = states[0].copy()
    names = set().union(*(s.variables for s in states))
    for name in names:
        values = [s.variables.get(name) for s in states]
        if all(_same(v, values[0]) for v in values[1:]):
            continue
        merged.variables[name] = _disagreement(name, values, where)
    for number, frame in enumerate(merged.frames):
        frames = [s.frames[number] for s in states if number < len(s.frames)]
        for name in set().union(*(f.locals for f in frames)):
            values = [f.locals.get(name) for f in frames]
            if not all(_same(v, values[0]) for v in values[1:]):
                frame.locals[name] = _disagreement(name, values, where)
        if any(f.arguments != frame.arguments for f in frames):
            frame.arguments = None
    for state in states[1:]:
        merged.functions.update(state.functions)
    return merged


def _same(a: Variable | None, b: Variable | None) -> bool:
    """Branches agree on a variable when they leave it the same text (wherever it came from)."""
    if isinstance(a, Value) and isinstance(b, Value):
        return a.text == b.text
    return a == b


def _disagreement(name: str, values: list[Variable | None], where: str) -> Unknown:
    for value in values:
        if isinstance(value, Unknown):
            return value
    if any(v is None for v in values):
        return Unknown(f"{name}, which only some branches of {where} set")
    return Unknown(f"{name}, which the branches of {where} set differently")


def _test(items: list[tuple[str, object]], double: bool) -> bool | None:
    """``[ ... ]`` / ``test`` / ``[[ ... ]]`` on known strings; None when it depends on the run
    (files, unknown values, forms portlint does not evaluate)."""
    position = 0

    def peek() -> tuple[str, object] | None:
        return items[position] if position < len(items) else None

    def word(item) -> str | None:
        return item[1] if item[0] == "op" else (item[1].text if isinstance(item[1], Value) else None)

    def disjunction() -> bool | None:
        nonlocal position
        value = conjunction()
        while peek() is not None and word(peek()) == ("||" if double else "-o"):
            position += 1
            value = _or(value, conjunction())
        return value

    def conjunction() -> bool | None:
        nonlocal position
        value = negation()
        while peek() is not None and word(peek()) == ("&&" if double else "-a"):
            position += 1
            value = _and(value, negation())
        return value

    def negation() -> bool | None:
        nonlocal position
        if peek() is not None and word(peek()) == "!" and position + 1 < len(items):
            position += 1
            value = negation()
            return None if value is None else not value
        return primary()

    def primary() -> bool | None:
        nonlocal position
        rest = items[position:]
        if rest and rest[0] == ("op", "("):
            position += 1
            value = disjunction()
            if peek() == ("op", ")"):
                position += 1
            return value
        if len(rest) >= 3 and word(rest[1]) in ("=", "==", "!=", "<", ">", *_NUMERIC, "=~"):
            left, op, right = rest[0][1], word(rest[1]), rest[2][1]
            position += 3
            if not (isinstance(left, Value) and isinstance(right, Value)) or op in ("<", ">", "=~"):
                return None
            if op in _NUMERIC:
                try:
                    return _NUMERIC[op](int(left.text), int(right.text))
                except ValueError:
                    return None
            equal = fnmatch.fnmatchcase(left.text, right.text) if double else left.text == right.text
            return equal if op != "!=" else not equal
        if len(rest) >= 2 and word(rest[0]) in _TEST_UNARY | _TEST_FILES:
            op, operand = word(rest[0]), rest[1][1]
            position += 2
            if op not in _TEST_UNARY or not isinstance(operand, Value):
                return None
            return (operand.text == "") == (op == "-z")
        if rest:
            position += 1
            value = rest[0][1]
            return bool(value.text) if isinstance(value, Value) else None
        return False

    try:
        result = disjunction()
    except (IndexError, TypeError):
        return None
    return result if position == len(items) else None


def _and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _or(left: bool | None, right: bool | None) -> bool | None:
    if left is True or right is True:
        return True
    return None if left is None or right is None else False
