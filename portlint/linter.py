"""The flow of a run: discover -> detect format -> parse -> run the selected rules -> report.

Nothing a file or a plugin does stops the run: a parser or rule that raises becomes a
``PL000 internal-error`` finding for that file, and the other files are still linted.
"""
from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from .catalog import Catalog
from .discovery import Candidate, read_head
from .findings import Finding, Severity
from .model import Diagnostic, Document, Location

if TYPE_CHECKING:
    from .plugins import PluginFailure, Registry
    from .rules import Rule, Settings

INTERNAL_ERROR = ("PL000", "internal-error")
from .parsers.common import PARSE_ERROR


class UsageError(Exception):
    """The run cannot do what was asked (exit code 2)."""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)  # the files with findings
    files: int = 0
    problems: list[str] = field(default_factory=list)  # paths that could not be read, ...
    paths: list[str] = field(default_factory=list)  # every file linted, clean ones too
    #: Every registered rule by code, selected or not, for reporters that describe them (SARIF).
    rules: dict[str, type[Rule]] = field(default_factory=dict)

    def line_text(self, path: str, line: int) -> str:
        document = self.documents.get(path)
        return document.line_text(line) if document else ""

    @property
    def has_internal_error(self) -> bool:
        return any(f.code == INTERNAL_ERROR[0] for f in self.findings)


def internal_error(path: str, message: str, line: int = 1) -> Finding:
    return Finding(INTERNAL_ERROR[0], INTERNAL_ERROR[1], Severity.ERROR, message, Location(path, line, 1))


class Selection:
    """``--select`` / ``--ignore``: codes, code prefixes, rule names, or ``ALL``."""

    def __init__(self, rules: Iterable[type[Rule]], select: list[str] | None, ignore: list[str] | None):
        self._rules = list(rules)
        self.select = [s.strip() for s in select or () if s.strip()]
        self.ignore = [s.strip() for s in ignore or () if s.strip()]
        for token in self.select + self.ignore:
            if not any(self._matches(rule, token) for rule in self._rules):
                raise UsageError(f"unknown rule selector {token!r}: not a rule code, prefix or name (see `portlint rules`)")

    @staticmethod
    def _matches(rule: type[Rule], token: str) -> bool:
        return token.upper() == "ALL" or rule.code.startswith(token.upper()) or rule.name == token.lower()

    def _selects(self, rule: type[Rule]) -> bool:
        if not self.select:
            return rule.default_enabled
        for token in self.select:
            exact = token.upper() in ("ALL", rule.code) or token.lower() == rule.name
            if exact or (rule.default_enabled and self._matches(rule, token)):
                return True
        return False

    def enabled(self, rule: type[Rule]) -> bool:
        if rule.code == INTERNAL_ERROR[0]:
            return True  # internal errors are never silenced
        return self._selects(rule) and not any(self._matches(rule, t) for t in self.ignore)


class Linter:
    def __init__(self, registry: Registry, catalog: Catalog, settings: Settings,
                 selection: Selection | None = None, debug: bool = False) -> None:
        self.registry = registry
        self.catalog = catalog
        self.settings = settings
        self.debug = debug
        selection = selection or Selection(registry.rules.values(), None, None)
        self.rules: list[Rule] = [
            rule_cls(options=settings.rule_options.get(rule_cls.name))
            for rule_cls in sorted(registry.rules.values(), key=lambda r: r.code)
            if selection.enabled(rule_cls)
        ]

    # -- formats ---------------------------------------------------------------------------

    def detect_format(self, path: str, head: str) -> str | None:
        return self.registry.manager.hook.portlint_detect_format(
            path=path, head=head, parsers=self.registry.parsers)

    def select_files(self, candidates: list[Candidate], forced_format: str | None,
                     report: Report) -> list[tuple[str, str]]:
        """``(path, format)`` of every candidate portlint can read. An explicitly named file of
        no known format is a problem; files found by walking are simply skipped."""
        selected = []
        for candidate in candidates:
            try:
                head = read_head(candidate.path)
            except OSError as exc:
                report.problems.append(f"{candidate.path}: cannot read: {exc.strerror or exc}")
                continue
            fmt = forced_format
            if fmt is None and head is not None:
                fmt = self.detect_format(candidate.path, head)
            if fmt is None:
                if candidate.explicit:
                    known = ", ".join(sorted(self.registry.parsers))
                    report.problems.append(
                        f"{candidate.path}: not a format portlint reads ({known}); use --format to say which")
                continue
            selected.append((candidate.path, fmt))
        return selected

    # -- linting ---------------------------------------------------------------------------

    def new_report(self) -> Report:
        """An empty report that knows every registered rule."""
        return Report(rules=self.registry.rules)

    def run(self, files: list[tuple[str, str]], report: Report | None = None,
            visit: Callable[[Document], None] | None = None) -> Report:
        """Lint ``files`` into ``report``; ``visit`` sees every document (``portlint ports``)."""
        report = report or self.new_report()
        for failure in self.registry.failures:
            report.findings.append(internal_error("", self._plugin_failure_message(failure)))
        for path, fmt in files:
            try:
                text, decode_error = read_text(path)
            except OSError as exc:
                report.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
                continue
            self.add(report, path, text, fmt, decode_error, visit)
        report.findings.sort(key=Finding.sort_key)
        return report

    def add(self, report: Report, path: str, text: str, fmt: str, decode_error: Diagnostic | None,
            visit: Callable[[Document], None] | None = None) -> None:
        """Lint one text into ``report``."""
        document, findings = self.lint_text(text, path, fmt)
        if decode_error:
            findings.insert(0, self._as_finding(decode_error))
        if visit is not None:
            visit(document)
        report.files += 1
        report.paths.append(path)
        if findings:
            report.findings.extend(findings)
            report.documents[path] = document

    def parse(self, text: str, path: str, fmt: str) -> tuple[Document, list[Finding]]:
        """The document of ``text`` and the internal errors met while parsing it."""
        parser = self.registry.parsers[fmt]
        try:
            return parser.parse(text, path), []
        except Exception as exc:  # noqa: BLE001 - a crashing parser must not end the run
            plugin = self.registry.origin.get(parser, "?")
            message = f"parser {fmt!r} (plugin {plugin}) crashed: {type(exc).__name__}: {exc}"
            return Document(path, fmt, text), [self._crash(path, message, exc)]

    def lint_text(self, text: str, path: str, fmt: str) -> tuple[Document, list[Finding]]:
        from .rules import RuleContext

        document, findings = self.parse(text, path, fmt)
        ctx = RuleContext(document, self.catalog, self.settings)
        for rule in self.rules:
            try:
                findings.extend(rule.check(ctx))
            except Exception as exc:  # noqa: BLE001 - a crashing rule must not end the run
                plugin = self.registry.origin.get(type(rule), "?")
                message = (f"rule {rule.code} ({rule.name}, plugin {plugin}) crashed: "
                           f"{type(exc).__name__}: {exc}")
                findings.append(self._crash(path, message, exc))
        return document, findings

    def _as_finding(self, diagnostic: Diagnostic) -> Finding:
        rule = self.registry.rules[diagnostic.code]
        return Finding(rule.code, rule.name, rule.severity, diagnostic.message, diagnostic.location)

    def _crash(self, path: str, message: str, exc: BaseException) -> Finding:
        if self.debug:
            traceback.print_exception(exc)
        return internal_error(path, message)

    def _plugin_failure_message(self, failure: PluginFailure) -> str:
        if self.debug and failure.details:
            print(failure.details, file=sys.stderr)
        return f"plugin {failure.plugin!r}: {failure.message}"


def read_text(path: str) -> tuple[str, Diagnostic | None]:
    """The file's text; bytes that are not UTF-8 are replaced and reported as a parse error."""
    with open(path, "rb") as fh:
        data = fh.read()
    return decode(data, path)


def decode(data: bytes, path: str) -> tuple[str, Diagnostic | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        diagnostic = Diagnostic(PARSE_ERROR, f"invalid UTF-8 byte 0x{data[exc.start]:02x}; the file must be UTF-8 text",
                                Location(path, line, column, line, column + 1))
        return data.decode("utf-8", errors="replace"), diagnostic

