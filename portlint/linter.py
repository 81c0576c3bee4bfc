"""The flow of a run: discover -> detect format -> parse -> run the selected rules on each
document -> run the project rules once over every document of the project -> report.

Nothing a file or a plugin does stops the run: a parser or rule that raises becomes a
``PL000 internal-error`` finding for that file, and the other files are still linted.
"""
from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from . import parallel, suppression
from .catalog import Catalog
from .cycles import paused_cycle_collection
from .discovery import Candidate, glob_matches, read_head
from .findings import Finding, Severity
from .model import Diagnostic, Document, Location
from .project import ProjectScope
from .source_text import PACK_ABOVE, PackedText, UnreadableText, read_text

if TYPE_CHECKING:
    from .parsers import ParseOptions
    from .plugins import PluginFailure, Registry
    from .rules import ProjectContext, Rule, RuleContext, Settings

INTERNAL_ERROR = ("PL000", "internal-error")
UNUSED_SUPPRESSION = "PL004"


class UsageError(Exception):
    """The run cannot do what was asked (exit code 2)."""


@dataclass
class Report:
    """What a run found, with what reporters need to show it."""

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

    def settle(self) -> None:
        """Sort the findings and drop repeats: a file that several documents read (a compose
        override or include) is reported once."""
        self.findings = sorted(set(self.findings), key=Finding.sort_key)

    @property
    def has_internal_error(self) -> bool:
        return any(f.code == INTERNAL_ERROR[0] for f in self.findings)


def internal_error(path: str, message: str, line: int = 1) -> Finding:
    return Finding(INTERNAL_ERROR[0], INTERNAL_ERROR[1], Severity.ERROR, message, Location(path, line, 1))


class Selection:
    """``--select`` / ``--extend-select`` / ``--ignore``: codes, code prefixes, rule names, or
    ``ALL``. Opt-in rules are selected only by their code, their name or ``ALL``."""

    def __init__(self, rules: Iterable[type[Rule]], select: list[str] | None, ignore: list[str] | None,
                 extend_select: list[str] | None = None):
        self._rules = list(rules)
        self.select = [s.strip() for s in select or () if s.strip()]
        self.extend = [s.strip() for s in extend_select or () if s.strip()]
        self.ignore = [s.strip() for s in ignore or () if s.strip()]
        for token in self.select + self.extend + self.ignore:
            if not any(self._matches(rule, token) for rule in self._rules):
                raise UsageError(f"unknown rule selector {token!r}: not a rule code, prefix or name (see `portlint rules`)")

    @staticmethod
    def _matches(rule: type[Rule], token: str) -> bool:
        return token.upper() == "ALL" or rule.code.startswith(token.upper()) or rule.name == token.lower()

    def _selected_by(self, rule: type[Rule], tokens: list[str]) -> bool:
        for token in tokens:
            exact = token.upper() in ("ALL", rule.code) or token.lower() == rule.name
            if exact or (rule.default_enabled and self._matches(rule, token)):
                return True
        return False

    def enabled(self, rule: type[Rule]) -> bool:
        if rule.code == INTERNAL_ERROR[0]:
            return True  # internal errors are never silenced
        selected = self._selected_by(rule, self.select) if self.select else rule.default_enabled
        selected = selected or self._selected_by(rule, self.extend)
        return selected and not any(self._matches(rule, t) for t in self.ignore)


class Linter:
    def __init__(self, registry: Registry, catalog: Catalog, settings: Settings,
                 selection: Selection | None = None, debug: bool = False,
                 parse_options: ParseOptions | None = None,
                 severities: dict[str, Severity] | None = None,
                 per_file_ignores: list[tuple[str, list[str]]] | None = None,
                 project: ProjectScope | None = None) -> None:
        """``severities`` overrides rules' default severities by code; ``per_file_ignores``
        pairs path globs with the rule selectors not reported for matching files; ``project``
        says how project rules find the rest of the project."""
        from .rules import ProjectRule

        self.registry = registry
        self.parse_options = parse_options
        self.catalog = catalog
        self.settings = settings
        self.debug = debug
        self.per_file_ignores = per_file_ignores or []
        selection = selection or Selection(registry.rules.values(), None, None)
        severities = severities or {}
        self.rules: list[Rule] = [
            rule_cls(severity=severities.get(rule_cls.code), options=settings.rule_options.get(rule_cls.name))
            for rule_cls in sorted(registry.rules.values(), key=lambda r: r.code)
            if selection.enabled(rule_cls)
        ]
        self._enabled = {key for rule in self.rules for key in (rule.code, rule.name)}
        self._unused_suppression = next((r for r in self.rules if r.code == UNUSED_SUPPRESSION), None)
        self.project_rules = [r for r in self.rules if isinstance(r, ProjectRule)]
        self.project_scope = project or ProjectScope()
        self._project_files: dict[Path, list[tuple[str, str]]] = {}
        self._project_documents: dict[str, RuleContext | None] = {}
        self._jobs: int | None = 1  # of the run: the processes that read the rest of the project

    # -- formats ---------------------------------------------------------------------------

    def detect_format(self, path: str, head: str) -> str | None:
        return self.registry.manager.hook.portlint_detect_format(
            path=path, head=head, parsers=self.registry.parsers)

    def select_files(self, candidates: list[Candidate], forced_format: str | None,
                     report: Report, skip_unknown: bool = False) -> list[tuple[str, str]]:
        """``(path, format)`` of every candidate portlint can read. An explicitly named file of
        no known format is a problem unless ``skip_unknown``; files found by walking are simply
        skipped."""
        selected = []
        for candidate in candidates:
            try:
                head = read_head(candidate.path)
            except OSError as exc:
                report.problems.append(f"{candidate.path}: cannot read: {exc.strerror or exc}")
                continue
            if head is None and not candidate.explicit:
                continue  # a binary file found by walking is no rule file, whatever --format says
            fmt = forced_format
            if fmt is None and head is not None:
                fmt = self.detect_format(candidate.path, head)
            if fmt is None:
                if candidate.explicit and not skip_unknown:
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
            visit: Callable[[Document], None] | None = None,
            texts: Iterable[tuple[str, str, str, Diagnostic | None]] = (), jobs: int | None = 1) -> Report:
        """Lint ``files`` (``(path, format)``), by ``jobs`` processes, and ``texts`` already read
        (standard input: ``(path, text, format, decode error)``) into ``report``, then run the
        project rules over them and the rest of their project; ``visit`` sees every checked
        document (``portlint ports``). ``jobs`` None: as many processes as the files are worth
        (:func:`parallel.default_jobs`), for the checked files and the rest of the project alike."""
        report = report or self.new_report()
        for failure in self.registry.failures:
            report.findings.append(internal_error("", self._plugin_failure_message(failure)))
        checked: list[_Checked] = []
        self._jobs = jobs
        workers = jobs or parallel.default_jobs([path for path, _ in files])
        outcomes = parallel.ordered_map(self._read_and_check, files, workers, kind=_format_of, size=_size_of)
        from_files = zip((path for path, _ in files), outcomes)
        from_texts = ((path, self._check_text(text, path, fmt, decode_error)) for path, text, fmt, decode_error in texts)
        for path, outcome in itertools.chain(from_files, from_texts):
            if isinstance(outcome, str):
                report.problems.append(outcome)
                continue
            if visit is not None:
                visit(outcome.document)
            report.files += 1
            report.paths.append(path)
            checked.append(outcome)
        findings = self._conclude(checked, read_project=True)
        paths = {f.location.path for f in findings}
        report.documents.update((c.document.path, c.document) for c in checked if c.document.path in paths)
        report.findings.extend(findings)
        report.settle()
        return report

    def _read_and_check(self, file: tuple[str, str]) -> _Checked | str:
        """The checked file ``(path, format)``, or why it cannot be read."""
        path, fmt = file
        try:
            if getattr(self.registry.parsers[fmt], "reads_blocks", False) and parallel.file_size(path) > PACK_ABOVE:
                text, decode_error = PackedText.open(path), None  # decoded as it is parsed
            else:
                text, decode_error = read_text(path)
            return self._check_text(text, path, fmt, decode_error)
        except OSError as exc:  # UnreadableText too: a packed text's reading failed while it was parsed
            return f"{path}: cannot read: {exc.strerror or exc}"

    def parse(self, text: str, path: str, fmt: str) -> tuple[Document, list[Finding]]:
        """The document of ``text`` and the internal errors met while parsing it."""
        parser = self.registry.parsers[fmt]
        try:
            configured = parser.with_options(self.parse_options) if self.parse_options else parser
            with paused_cycle_collection():
                return configured.parse(text, path), []
        except UnreadableText:
            raise  # the file, not the parser
        except Exception as exc:  # noqa: BLE001 - a crashing parser must not end the run
            plugin = self.registry.origin.get(parser, "?")
            message = f"parser {fmt!r} (plugin {plugin}) crashed: {type(exc).__name__}: {exc}"
            return Document(path, fmt, text), [self._crash(path, message, exc)]

    def lint_text(self, text: str, path: str, fmt: str) -> tuple[Document, list[Finding]]:
        """Lint one text on its own: its project is this document alone (no other file is read)."""
        checked = self._check_text(text, path, fmt)
        return checked.document, self._conclude([checked], read_project=False)

    def _check_text(self, text: str | PackedText, path: str, fmt: str,
                    decode_error: Diagnostic | None = None) -> _Checked:
        """The document of ``text`` and the findings of the per-document rules, unfiltered (a
        packed text's decoding error is known once it is parsed)."""
        from .rules import RuleContext

        document, findings = self.parse(text, path, fmt)
        if isinstance(text, PackedText):
            decode_error = text.decode_error
        ctx = RuleContext(document, self.catalog, self.settings)
        with paused_cycle_collection():  # the rules' indexes, as big as the document
            for rule in self.rules:
                try:
                    findings.extend(rule.check(ctx))
                except Exception as exc:  # noqa: BLE001 - a crashing rule must not end the run
                    findings.append(self._crash(path, self._rule_crash(rule, exc), exc))
        unfiltered = [self._as_finding(decode_error)] if decode_error else []
        return _Checked(document, findings, unfiltered, ctx)

    def _conclude(self, checked: list[_Checked], read_project: bool) -> list[Finding]:
        """The findings of the checked documents and of the project rules, with what inline
        suppressions and per-file ignores silence dropped, and unused suppressions (PL004)
        reported once every finding has met them."""
        from .rules import RuleContext

        suppressions = _Suppressions(c.document for c in checked)
        raw = [f for c in checked for f in c.findings]
        contexts = [c.context or RuleContext(c.document, self.catalog, self.settings) for c in checked]
        raw.extend(self._project_findings(contexts, read_project))
        findings = suppressions.apply(raw)
        rule = self._unused_suppression
        if rule is not None:
            enabled = lambda key: key.upper() in self._enabled or key.lower() in self._enabled  # noqa: E731
            for c in checked:
                directives = suppressions.of(c.document.path)
                findings.extend(rule.finding(location, message)
                                for location, message in suppression.unused(directives, enabled))
        findings = [f for f in findings if not self._ignored_in_file(f)]
        return [f for c in checked for f in c.unfiltered] + findings

    def _ignored_in_file(self, finding: Finding) -> bool:
        """Whether a per-file ignore of the file ``finding`` is in silences it."""
        if finding.code == INTERNAL_ERROR[0]:
            return False
        return any(glob_matches(finding.location.path, pattern)
                   and any(Selection._matches(_RuleKey(finding), s) for s in selectors)
                   for pattern, selectors in self.per_file_ignores)

    # -- project rules -------------------------------------------------------------------

    def _project_findings(self, checked: list[RuleContext], read_project: bool) -> list[Finding]:
        """What the project rules find, each run once; the rest of the project is read only
        when a checked document concerns one of them."""
        findings: list[Finding] = []
        project: ProjectContext | None = None
        with paused_cycle_collection():
            for rule in self.project_rules:
                try:
                    if not any(rule.concerns(ctx.document) for ctx in checked):
                        continue
                    if project is None:
                        paths = [ctx.document.path for ctx in checked]
                        project = self.load_project(checked, self.project_scope.root_of(paths) if read_project else None)
                    findings.extend(rule.check_project(project))
                except Exception as exc:  # noqa: BLE001 - a crashing rule must not end the run
                    findings.append(self._crash("", self._rule_crash(rule, exc), exc))
        return findings

    def load_project(self, checked: list[RuleContext], root: Path | None) -> ProjectContext:
        """The project of the ``checked`` documents: with a root, every other file under it that
        portlint reads, parsed (no rule runs on them, and their problems are not reported)."""
        from .rules import ProjectContext

        others: list[RuleContext] = []
        if root is not None:
            seen = {os.path.realpath(ctx.document.path) for ctx in checked}
            files = [(path, fmt) for path, fmt in self._files_under(root) if os.path.realpath(path) not in seen]
            self._read_for_project([file for file in files if file[0] not in self._project_documents])
            others = [context for path, _ in files if (context := self._project_documents[path]) is not None]
        return ProjectContext(root, checked, others, self.catalog, self.settings)

    def _files_under(self, root: Path) -> list[tuple[str, str]]:
        """``(path, format)`` of every file under ``root``, found once per linter (the pytest
        plugin lints one file at a time)."""
        if root not in self._project_files:
            skipped = self.new_report()  # unreadable or unknown files do not concern this run
            self._project_files[root] = self.select_files(self.project_scope.candidates(root), None, skipped)
        return self._project_files[root]

    def _read_for_project(self, files: list[tuple[str, str]]) -> None:
        """Parse ``files`` of the project, by the run's processes, once per linter: a pre-commit
        run names one compose file, and every firewall of the repository is read beside it."""
        from .rules import RuleContext

        workers = self._jobs or parallel.default_jobs([path for path, _ in files])
        documents = parallel.ordered_map(self._parse_for_project, files, workers, kind=_format_of, size=_size_of)
        for (path, _), document in zip(files, documents):
            self._project_documents[path] = None if document is None else RuleContext(document, self.catalog, self.settings)

    def _parse_for_project(self, file: tuple[str, str]) -> Document | None:
        """The document of a file read for the project; None when it cannot be read or its parser
        crashes (reported when that file is checked itself)."""
        path, fmt = file
        try:
            text, _ = read_text(path)
        except OSError:
            return None
        document, crashed = self.parse(text, path, fmt)
        return None if crashed else document

    # -- internal errors -----------------------------------------------------------------

    def _rule_crash(self, rule: Rule, exc: BaseException) -> str:
        plugin = self.registry.origin.get(type(rule), "?")
        return f"rule {rule.code} ({rule.name}, plugin {plugin}) crashed: {type(exc).__name__}: {exc}"

    def _as_finding(self, diagnostic: Diagnostic) -> Finding:
        rule = self.registry.rules[diagnostic.code]
        return Finding(rule.code, rule.name, rule.severity, diagnostic.message, diagnostic.location)

    def _crash(self, path: str, message: str, exc: BaseException) -> Finding:
        if self.debug:
            import traceback

            traceback.print_exception(exc)
        return internal_error(path, message)

    def _plugin_failure_message(self, failure: PluginFailure) -> str:
        if self.debug and failure.details:
            print(failure.details, file=sys.stderr)
        return f"plugin {failure.plugin!r}: {failure.message}"


@dataclass
class _Checked:
    """A checked document and its findings, waiting for the project rules (which may report on
    it) before suppressions are applied; ``unfiltered`` findings are never suppressed (a file
    that is not UTF-8). A worker process sends it back without its context, which holds the
    catalog and the per-document caches (exposures, chains): the project rules make it again
    where they need it."""

    document: Document
    findings: list[Finding]
    unfiltered: list[Finding]
    context: RuleContext | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "context": None}


class _Suppressions:
    """The inline directives of every file findings point at, scanned once per file: a
    directive counts what it suppressed across every document and project rule of the run
    before PL004 judges it. A finding is suppressed by the directives of its own file, which
    may be one no checked document is (a compose override or included file)."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self._by_path = {d.path: suppression.scan(d.text, d.path) for d in documents}

    def of(self, path: str) -> list[suppression.Directive]:
        if path not in self._by_path:
            try:
                text, _ = read_text(path) if path else ("", None)
            except OSError:
                text = ""
            self._by_path[path] = suppression.scan(text, path)
        return self._by_path[path]

    def apply(self, findings: list[Finding]) -> list[Finding]:
        by_path: dict[str, list[Finding]] = {}
        for finding in findings:
            by_path.setdefault(finding.location.path, []).append(finding)
        return [f for path, group in by_path.items() for f in suppression.apply(group, self.of(path))]


@dataclass(frozen=True)
class _RuleKey:
    """A finding seen as a rule (code and name), for matching selectors against it."""

    code: str
    name: str

    def __init__(self, finding: Finding) -> None:
        object.__setattr__(self, "code", finding.code)
        object.__setattr__(self, "name", finding.name)


def _format_of(file: tuple[str, str]) -> str:
    return file[1]


def _size_of(file: tuple[str, str]) -> int:
    return parallel.file_size(file[0])
