"""Compose YAML as position-carrying nodes: loading, recovery from bad lines, mapping access.

ruamel.yaml composes the file into nodes (its C parser where ``ruamel.yaml.clib`` is installed,
about four times faster, falling back to the pure-Python YAML 1.2 parser where libyaml's YAML 1.1
grammar rejects a file) with YAML 1.2 scalar resolution, so an unquoted ``56:56`` is the string
Compose v2 reads, not a base-60 number. Nodes are read lazily: only the keys compose ports
depend on are ever visited. Errors never stop the file: a tab-indented line is reported and
re-read with its tabs expanded; a second document (``---``) is reported and the first one read;
any other bad line is reported and blanked, and the rest re-read.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Iterator

from ..model import Diagnostic, Location
from .common import PARSE_ERROR

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"
#: Compose's own tags: in a file merged over another, drop the value or replace it whole.
RESET, OVERRIDE = "!reset", "!override"
#: Bad lines blanked (and the file re-read) before giving up on the rest of a file.
MAX_RECOVERIES = 8
#: What the YAML composer says of a second document in a stream (after ``---`` or ``...``).
ANOTHER_DOCUMENT = "but found another document"
REUSED_ANCHOR = ("anchor &{name} was already defined at line {first}: Compose v1 rejects the file, v2 reads the "
                 "aliases after this line as this node")
_REUSED_ANCHOR = re.compile(r"duplicate anchor '(?P<name>[^']*)'.*?line (?P<first>\d+),.*?line (?P<line>\d+), "
                            r"column (?P<column>\d+)", re.DOTALL)
SECOND_DOCUMENT = ("a second YAML document: Compose v1 rejects the file, v2 merges the documents like override "
                   "files; portlint reads only the first (put the others in override files)")


@dataclass
class YamlFile:
    """One YAML file: its root node and the problems met reading it."""

    path: str
    text: str
    root: object | None = None
    composed: str = ""  # the text the nodes index: ``text`` with bad lines blanked, tabs expanded
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: line (0-based) -> columns added by expanding the tabs of its indentation.
    shifts: dict[int, int] = field(default_factory=dict)

    def location(self, node, end: bool = True) -> Location:
        """Where ``node`` starts (and ends, when it ends on the same line)."""
        start, stop = node.start_mark, node.end_mark
        line, column = start.line, start.column - self.shifts.get(start.line, 0)
        if end and stop.line == line and stop.column > start.column:
            return Location(self.path, line + 1, column + 1, line + 1, stop.column - self.shifts.get(line, 0) + 1)
        return Location(self.path, line + 1, column + 1)

    def error(self, node, message: str, code: str = PARSE_ERROR) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.location(node)))


def load(text: str, path: str) -> YamlFile:
    """The node tree of ``text``, with a PL001 for each line that is not valid YAML."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    doc = YamlFile(path, text)
    lines = text.splitlines(keepends=True)
    for _ in range(MAX_RECOVERIES + 1):
        doc.composed = "".join(lines)
        try:
            doc.root, reused = _compose(doc.composed)
            for name, first, line, column in reused:
                doc.diagnostics.append(Diagnostic(PARSE_ERROR, REUSED_ANCHOR.format(name=name, first=first + 1),
                                                  Location(path, line + 1, column + 1 - doc.shifts.get(line, 0))))
            break
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line if mark is not None else 0
            if _expand_tab_indentation(doc, lines):
                continue
            column = (mark.column if mark is not None else 0) - doc.shifts.get(line, 0)
            if exc.problem == ANOTHER_DOCUMENT:
                doc.diagnostics.append(Diagnostic(PARSE_ERROR, SECOND_DOCUMENT, Location(path, line + 1, column + 1)))
                del lines[line:]  # the first document alone is read
                continue
            doc.diagnostics.append(Diagnostic(PARSE_ERROR, _yaml_message(exc), Location(path, line + 1, column + 1)))
            if not 0 <= line < len(lines) or not lines[line].strip():
                break  # nothing left to blank: the rest of the file cannot be read
            lines[line] = "\n"
        except YAMLError as exc:
            doc.diagnostics.append(Diagnostic(PARSE_ERROR, f"invalid YAML: {exc}", Location(path, 1, 1)))
            break
    if doc.root is not None:
        _report_duplicate_keys(doc)
    return doc


def _compose(text: str):
    """The node tree, and the anchors defined again (name, the line of the previous definition,
    line and column of this one, 0-based); the C parser first, the pure-Python one where the C parser (YAML 1.1's
    libyaml) rejects what YAML 1.2 and Compose accept, such as ``[56:56]`` in a flow sequence or
    an anchor defined again. ruamel.yaml's warnings are caught: they went to standard error,
    with its own path and ``<file>`` for the file's."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import ReusedAnchorWarning, YAMLError

    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always", module=r"ruamel\.")
        fast = YAML(typ="safe")
        if fast.Parser.__module__ == "ruamel.yaml.parser":  # no C extension: nothing to fall back from
            root = fast.compose(io.StringIO(text))
        else:
            try:
                root = fast.compose(io.StringIO(text))
            except YAMLError:
                root = YAML(typ="safe", pure=True).compose(io.StringIO(text))
    reused = (_REUSED_ANCHOR.search(str(w.message)) for w in caught if issubclass(w.category, ReusedAnchorWarning))
    return root, [(m["name"], int(m["first"]) - 1, int(m["line"]) - 1, int(m["column"]) - 1) for m in reused if m]


def _expand_tab_indentation(doc: YamlFile, lines: list[str]) -> bool:
    """Report every line indented with tabs and expand them (tab stops of 8), once per file."""
    if doc.shifts or not any("\t" in line[: len(line) - len(line.lstrip(" \t"))] for line in lines):
        return False
    for number, line in enumerate(lines):
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        if "\t" in indent and not body.strip():
            lines[number] = "\n"  # a blank line: its tabs mean nothing
        elif "\t" in indent and not body.startswith("#"):
            expanded = indent.expandtabs(8)
            doc.shifts[number] = len(expanded) - len(indent)
            lines[number] = expanded + body
            doc.diagnostics.append(Diagnostic(
                PARSE_ERROR, "tab character in indentation: YAML indents with spaces only",
                Location(doc.path, number + 1, indent.index("\t") + 1, number + 1, len(indent) + 1)))
    return bool(doc.shifts)


def _yaml_message(exc) -> str:
    problem = (exc.problem or "invalid YAML").strip()
    context = (exc.context or "").strip()
    if context and exc.context_mark is not None:
        context = f" ({context} at line {exc.context_mark.line + 1})"
    elif context:
        context = f" ({context})"
    return f"invalid YAML: {problem}{context}"


def _report_duplicate_keys(doc: YamlFile) -> None:
    """Compose rejects a mapping that repeats a key; every mapping of the file is checked once."""
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    seen_nodes: set[int] = set()
    stack = [doc.root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue  # an alias: checked where its anchor is
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, object] = {}
            for key, value in node.value:
                name = key.value if not isinstance(key.value, list) else None
                if name is not None and key.tag != MERGE:
                    if name in first:
                        line = first[name].start_mark.line + 1
                        doc.error(key, f"duplicate key {name!r} (first defined at line {line}): "
                                       "Compose rejects the file; the first one is read")
                    else:
                        first[name] = key
            stack.extend(value for _, value in reversed(node.value))  # in file order
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))


# -- reading nodes ------------------------------------------------------------------------------

def is_mapping(node) -> bool:
    from ruamel.yaml.nodes import MappingNode

    return isinstance(node, MappingNode)


def is_sequence(node) -> bool:
    from ruamel.yaml.nodes import SequenceNode

    return isinstance(node, SequenceNode)


def is_scalar(node) -> bool:
    from ruamel.yaml.nodes import ScalarNode

    return isinstance(node, ScalarNode)


def items(node) -> Iterator[tuple[str, object, object]]:
    """``(key, key_node, value_node)`` of a mapping, with YAML merge keys (``<<: *anchor``)
    applied, depth first, and the first of repeated keys kept (repeats are reported at load).
    Merged mappings are read from a stack, each once: 5,000 anchors merging one another
    overflowed Python's stack, and an anchor merged into itself never ended."""
    seen: set[str] = set()
    read: set[int] = set()
    stack = [node]
    while stack:
        mapping = stack.pop()
        if id(mapping) in read:
            continue
        read.add(id(mapping))
        merged: list = []
        for key, value in mapping.value:
            if key.tag == MERGE:
                merged.extend(value.value if is_sequence(value) else [value])
                continue
            name = str(key.value) if is_scalar(key) else None
            if name is None or name in seen:
                continue
            seen.add(name)
            yield name, key, value
        stack.extend(source for source in reversed(merged) if is_mapping(source))


def scalar(node):
    """The Python value of a scalar node (str, int, float, bool or None) as YAML 1.2 reads it."""
    text = node.value
    tag = node.tag
    if tag == STR or tag.startswith("!"):
        return text
    if tag == INT:
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        base = {"0x": 16, "0o": 8, "0b": 2}.get(digits[:2].lower(), 10)
        return sign * int(digits[2:] if base != 10 else digits, base)
    if tag == NULL:
        return None
    if tag.endswith(":bool"):
        return text.lower() == "true"
    if tag.endswith(":float"):
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    return text


def kind(node) -> str:
    """What a node is, for messages: "a mapping", "a list", "the number 1.5", ..."""
    if is_mapping(node):
        return "a mapping"
    if is_sequence(node):
        return "a list"
    value = scalar(node)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {node.value}"
    if isinstance(value, (int, float)):
        return f"the number {node.value}"
    return f"the string {value!r}"
