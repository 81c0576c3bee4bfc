"""``pytest --portlint``: every file portlint reads under the test paths becomes a test item that
fails with portlint's findings, as pytest-flake8 and pytest-mypy do for code, so a repository
whose CI runs pytest lints its firewall and compose files with no extra step.

Files are chosen as ``portlint check`` chooses them in a folder: its skipped folders, the
configuration's ``exclude``, its format detection. The configuration file is searched from
the test paths, as the command searches it from its paths, and its ``fail-on`` decides which
findings fail an item. Without ``--portlint`` the plugin only adds the option: nothing of
portlint but this module is imported.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

MARKER = "portlint"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("portlint").addoption(
        "--portlint", action="store_true",
        help="lint the firewall and compose files under the test paths with portlint (one test per file)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("portlint"):
        config.addinivalue_line("markers", f"{MARKER}: portlint's check of a file (pytest --portlint)")
        config.pluginmanager.register(PortlintCollector(config), "portlint-collector")


class PortlintCollector:
    """Turns the files portlint reads into :class:`PortlintFile` nodes."""

    def __init__(self, config: pytest.Config) -> None:
        from .cli import UsageError, check_setup
        from .discovery import SKIPPED_DIRS

        self.skipped_dirs = SKIPPED_DIRS
        self.roots = _test_paths(config)
        try:
            self.checker = check_setup([str(root) for root in self.roots])
        except UsageError as exc:
            raise pytest.UsageError(f"portlint: {exc}") from None

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> PortlintFile | None:
        if self._in_skipped_dir(file_path) or self.checker.excludes(str(file_path)):
            return None
        from .discovery import Candidate
        from .linter import Report

        report = Report()
        selected = self.checker.linter.select_files([Candidate(str(file_path), explicit=False)], None, report)
        if not selected and not report.problems:
            return None  # not a format portlint reads
        fmt = selected[0][1] if selected else None
        return PortlintFile.from_parent(parent, path=file_path, checker=self.checker, fmt=fmt,
                                        problems=report.problems)

    def _in_skipped_dir(self, file_path: Path) -> bool:
        """Below a test path, in a folder portlint never walks into (``.git``, ``venv``, ...)."""
        for root in self.roots:
            if file_path.is_relative_to(root):
                return not self.skipped_dirs.isdisjoint(file_path.relative_to(root).parts[:-1])
        return False


def _test_paths(config: pytest.Config) -> list[Path]:
    """The paths pytest was given (or its ``testpaths``), without ``::test`` node parts."""
    base = config.invocation_params.dir
    return [Path(os.path.abspath(base / arg.split("::")[0])) for arg in config.args] or [base]


class PortlintFile(pytest.File):
    def __init__(self, *, checker, fmt: str | None, problems: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.checker, self.fmt, self.problems = checker, fmt, problems

    def collect(self):
        item = PortlintItem.from_parent(self, name=MARKER)
        item.add_marker(MARKER)
        yield item


class PortlintFailure(Exception):
    """The findings that fail an item, as portlint's text report."""


class PortlintItem(pytest.Item):
    parent: PortlintFile

    def runtest(self) -> None:
        from .linter import Report

        file = self.parent
        report = Report(problems=list(file.problems))
        if file.fmt is not None:
            file.checker.linter.run([(str(self.path), file.fmt)], report)
        if not report.findings and not report.problems:
            return
        text = self._render(report)
        if report.problems or report.has_internal_error or file.checker.fails(report.findings):
            raise PortlintFailure(text)
        self.add_report_section("call", "portlint", text)  # shown with -rP

    def _render(self, report) -> str:
        stream = io.StringIO()
        self.parent.checker.linter.registry.reporters["text"](stream).report(report)
        stream.writelines(f"portlint: error: {problem}\n" for problem in report.problems)
        return stream.getvalue()

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, PortlintFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        # The headline of a failure; not the node id, which pytest would rewrite as a dotted name.
        return self.path, None, f"portlint {self.parent.nodeid}"
