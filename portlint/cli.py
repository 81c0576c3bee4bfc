"""Command line: ``portlint [check] PATH...``, ``ports``, ``exposure``, ``rules``, ``explain``, ``port``.

Exit codes: 0 no finding reaches ``--fail-on``; 1 one does; 2 the run could not do what was
asked (usage error, unreadable path, internal error). ``--exit-zero`` turns 1 into 0, never 2.
"""
from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import shutil
import sys
from typing import NoReturn, TextIO

from . import __version__
from .findings import Severity
from .linter import Linter, Report, Selection, UsageError
from .source_text import decode
from .model import record
from .terminal import visible
from .parallel import PARALLEL_FROM_BYTES

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
COMMANDS = ("check", "ports", "exposure", "rules", "explain", "port")


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="files or folders to lint (folders are walked); - reads standard input")
    parser.add_argument("--format", dest="input_format", metavar="NAME",
                        help="read every file as this format instead of detecting it (e.g. iptables)")
    parser.add_argument("--stdin-filename", metavar="NAME",
                        help="the name to report (and detect the format by) for standard input")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="skip files named on the command line (and standard input) that are of no format "
                             "portlint reads, as it skips them in folders; for pre-commit and editors")
    parser.add_argument("--output-file", "-o", metavar="FILE", help="write the report to FILE")
    parser.add_argument("--env-from-environment", action="store_true",
                        help="let compose interpolation read the process environment (besides .env files)")
    parser.add_argument("--config", metavar="PATH", help="read this configuration file (skips the search)")
    parser.add_argument("--isolated", action="store_true", help="read no configuration file")
    parser.add_argument("--project-root", metavar="DIR",
                        help="the project's root folder (default: the configuration's project-root, else the folder "
                             "of the nearest configuration file, else the git work tree): includes stay inside it "
                             "(else inside the including file's folder), cross-file rules read the files under it "
                             "(else only the files named)")
    parser.add_argument("--include-path", action="append", metavar="DIR",
                        help="a folder nftables `include` searches after the including file's folder, "
                             "like nft -I (repeatable)")
    parser.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                        help="lint the files in N processes (default: one per CPU when the files besides the "
                             f"largest add up to {PARALLEL_FROM_BYTES // 1024} KiB, else 1)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes, 1 or more, not {text!r}")
    return jobs


def _add_ephemeral_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ephemeral-range", metavar="PRESET|LO-HI",
                        help="the ephemeral port range: iana (49152-65535, default), linux (32768-60999), "
                             "windows, windows-legacy, freebsd, macos, or LO-HI")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse makes a formatter for every option it adds (to check the option's metavar), and
    each one asks the terminal for its size: once per process is enough (3-4 ms of every run)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width or _terminal_width())


@functools.lru_cache(maxsize=None)
def _terminal_width() -> int:
    return shutil.get_terminal_size().columns - 2  # what HelpFormatter itself takes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="portlint",
        description="Lint firewall rules and container port declarations against a port catalog.",
        epilog="Run `portlint COMMAND --help` for a command's options; `portlint PATH...` is `portlint check PATH...`.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"portlint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_command = functools.partial(sub.add_parser, formatter_class=_HelpFormatter)

    check = add_command("check", help="lint files and folders (the default command)")
    _add_input_options(check)
    _add_ephemeral_option(check)
    check.add_argument("--select", action="append", metavar="RULES",
                       help="rules to run: codes, code prefixes, names or ALL (comma-separated; repeatable)")
    check.add_argument("--extend-select", action="append", metavar="RULES",
                       help="rules to run besides the selected ones (same forms)")
    check.add_argument("--ignore", action="append", metavar="RULES", help="rules not to run (same forms)")
    check.add_argument("--output-format", default="text", metavar="NAME",
                       help="text (default), json, json-lines, sarif, github, gitlab, junit, or a format a plugin adds")
    check.add_argument("--fail-on", choices=("error", "warning", "info"),
                       help="the lowest severity that makes the run fail (default: warning)")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings fail the run")
    check.add_argument("--statistics", action="store_true", help="print the number of findings per rule instead")
    check.add_argument("--quiet", "-q", action="store_true", help="print the findings only, no summary")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help="colour the text output (auto: when writing to a terminal and NO_COLOR is unset)")
    check.add_argument("--baseline", metavar="FILE", help="report only findings that are not in this baseline")
    check.add_argument("--write-baseline", metavar="FILE",
                       help="write every current finding to FILE as the baseline, and exit 0")

    ports = add_command("ports", help="print every port declaration portlint understood")
    _add_input_options(ports)
    ports.add_argument("--output-format", default="text", choices=("text", "json"))

    exposure = add_command("exposure", help="what the project exposes: one row per exposed port, riskiest first")
    _add_input_options(exposure)
    exposure.add_argument("--output-format", default="text", choices=("text", "json", "markdown", "html"))

    rules = add_command("rules", help="list the rules")
    rules.add_argument("--output-format", default="text", choices=("text", "json"))

    explain = add_command("explain", help="show a rule's documentation")
    explain.add_argument("rule", metavar="CODE|NAME")

    port = add_command("port", help="what the catalog knows about ports or services")
    port.add_argument("queries", nargs="+", metavar="QUERY", help="23, telnet, 49160/udp, 350-360 ...")
    port.add_argument("--output-format", default="text", choices=("text", "json"))
    _add_ephemeral_option(port)
    return parser


def _with_default_command(argv: list[str]) -> list[str]:
    if not argv or argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    return ["check", *argv]


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or () for v in value.split(",") if v.strip()]


class _Output:
    """Standard output, or ``--output-file``."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.stream: TextIO = sys.stdout

    def __enter__(self) -> TextIO:
        if self.path:
            try:
                self.stream = open(self.path, "w", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--output-file {self.path}: cannot write: {exc.strerror or exc}") from None
        return self.stream

    def __exit__(self, *exc) -> None:
        if self.path:
            self.stream.close()


def _use_color(stream: TextIO, choice: str = "auto") -> bool:
    """``--color``; with auto, NO_COLOR turns colour off and FORCE_COLOR on (no-color.org)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


def run() -> NoReturn:
    """The ``portlint`` command: :func:`main`, then the process ends at once. Tearing down
    every module and object would cost some 10 ms of a 100 ms pre-commit run, so once the
    output is flushed and the exit handlers (plugins may register some) have run, nothing is
    left to do."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # a closed pipe: the reader has gone, as at any exit
        pass
    atexit._run_exitfuncs()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = _with_default_command(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        return COMMAND_HANDLERS[args.command](args)
    except UsageError as exc:
        print(visible(f"portlint: error: {exc}"), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless asked
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        print(f"portlint: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_ERROR


# -- commands ---------------------------------------------------------------------------------


def _ephemeral(text: str, catalog):
    from .model import MAX_PORT, PortRange

    lo, sep, hi = text.partition("-")
    if sep and lo.isdigit() and hi.isdigit():
        r = PortRange(int(lo), int(hi))
        if r.is_empty or r.end > MAX_PORT:
            raise UsageError(f"--ephemeral-range {text!r}: expected LO-HI within 0-65535")
        return r
    try:
        return catalog.ephemeral_range(text)
    except ValueError as exc:
        raise UsageError(f"--ephemeral-range: {exc}") from None


def _config(args, registry):
    """The run's configuration: ``--config``, else the nearest file above the paths; none with
    ``--isolated``."""
    from pathlib import Path

    from .config import Config, ConfigError, discover, load

    if args.isolated:
        return Config()
    path = Path(args.config) if args.config else discover(args.paths)
    if path is None:
        return Config()
    keys = {key: rule for rule in registry.rules.values() for key in (rule.code, rule.name)}
    try:
        return load(path, keys)
    except ConfigError as exc:
        raise UsageError(f"--config {exc}" if args.config else str(exc)) from None


def _setup(args, select: list[str] | None = None, ignore: list[str] | None = None,
           extend_select: list[str] | None = None):
    """The registry, configuration and linter of a run: the command line wins over the
    configuration file (``--select`` replaces ``select``; ignores and extensions add up)."""
    from pathlib import Path

    from .catalog import ASSIGNED, CatalogEntry, load
    from .parsers import ParseOptions
    from .plugins import load_registry
    from .project import ProjectScope
    from .rules import Settings

    registry = load_registry()
    config = _config(args, registry)
    catalog = load()
    site = [CatalogEntry(s.ports.start, s.ports.end, s.protocol, "site", ASSIGNED, s.name, s.description)
            for s in config.catalog]
    if registry.catalog_entries or site:
        catalog = catalog.extended(registry.catalog_entries + site)
    settings = Settings(
        ephemeral_range=_ephemeral(getattr(args, "ephemeral_range", None) or config.ephemeral_range, catalog),
        rule_options=config.rules,
        allowed=tuple((a.ports, a.protocol) for a in config.allow),
    )
    selection = Selection(registry.rules.values(), select if select else config.select,
                          config.ignore + (ignore or []), config.extend_select + (extend_select or []))
    project_root = Path(args.project_root).resolve() if args.project_root else config.project_root
    if project_root is not None and not project_root.is_dir():
        raise UsageError(f"project root {project_root} is not a folder")
    parse_options = ParseOptions(environment=dict(os.environ) if args.env_from_environment else {},
                                 project_root=str(project_root) if project_root else None,
                                 include_path=tuple(args.include_path or ()),
                                 yaml_size_limit=config.yaml_size_limit * 1024 * 1024)
    per_file = [(_relative_glob(glob, config), codes) for glob, codes in config.per_file_ignores.items()]
    project = ProjectScope(project_root, tuple(_relative_glob(g, config) for g in config.exclude),
                           find_config=not args.isolated)
    linter = Linter(registry, catalog, settings, selection, debug=args.debug, parse_options=parse_options,
                    severities=config.severity, per_file_ignores=per_file, project=project)
    if args.input_format and args.input_format not in registry.parsers:
        raise UsageError(f"--format {args.input_format!r}: known formats are {', '.join(sorted(registry.parsers))}")
    return registry, config, linter


@record
class CheckSetup:
    """What ``portlint check`` lints with, for tools that choose the files themselves (the
    pytest plugin): the linter, the configuration's exclude globs, the severity that fails."""

    linter: Linter
    exclude: list[str]
    fail_on: Severity

    def excludes(self, path: str) -> bool:
        return _excluded(path, self.exclude)

    def fails(self, findings) -> bool:
        return any(f.severity >= self.fail_on for f in findings)


def check_setup(argv: list[str]) -> CheckSetup:
    """The setup of ``portlint check ARGV``: the configuration file is searched from the paths
    in ARGV, as the command does. Raises :class:`UsageError` for a bad configuration."""
    args = build_parser().parse_args(["check", *argv])
    _, config, linter = _setup(args, _split(args.select), _split(args.ignore), _split(args.extend_select))
    return CheckSetup(linter, [_relative_glob(g, config) for g in config.exclude], _fail_on(args, config))


def _fail_on(args, config) -> Severity:
    return Severity.parse(args.fail_on) if args.fail_on else config.fail_on


def _relative_glob(glob: str, config) -> str:
    """Globs in a configuration file are relative to its folder."""
    if config.root is None or glob.startswith(("/", "*")):
        return glob
    return str(config.root / glob)


def _excluded(path: str, patterns: list[str]) -> bool:
    from .discovery import excluded

    return excluded(path, patterns)


def _lint(args, linter: Linter, visit=None, exclude: list[str] | None = None) -> Report:
    """Read the paths (and standard input) and lint them; unreadable paths are problems."""
    from .discovery import walk

    if not args.paths:
        raise UsageError(f"no paths given: portlint {args.command} PATH... (use - for standard input)")
    report = linter.new_report()
    candidates, problems = walk([p for p in args.paths if p != "-"])
    report.problems.extend(problems)
    if exclude:
        candidates = [c for c in candidates if not _excluded(c.path, exclude)]
    texts = []
    if "-" in args.paths:
        name = args.stdin_filename or "-"
        text, decode_error = decode(sys.stdin.buffer.read(), name)
        fmt = args.input_format or linter.detect_format(name, text[:4096])
        if fmt is None:
            if not args.skip_unknown:
                report.problems.append(f"{name}: cannot tell the format of standard input; use --format or --stdin-filename")
        else:
            texts.append((name, text, fmt, decode_error))
    files = linter.select_files(candidates, args.input_format, report, args.skip_unknown)
    return linter.run(files, report, visit, texts, jobs=args.jobs)


def _print_problems(report: Report) -> None:
    for problem in report.problems:
        print(visible(f"portlint: error: {problem}"), file=sys.stderr)


def cmd_check(args) -> int:
    registry, config, linter = _setup(args, _split(args.select), _split(args.ignore), _split(args.extend_select))
    reporter_cls = registry.reporters.get(args.output_format)
    if reporter_cls is None:
        raise UsageError(f"--output-format {args.output_format!r}: known formats are {', '.join(sorted(registry.reporters))}")
    baseline = _read_baseline(args.baseline) if args.baseline else None
    report = _lint(args, linter, exclude=[_relative_glob(g, config) for g in config.exclude])
    if args.write_baseline:
        _write_baseline(args.write_baseline, report)
        _print_problems(report)
        return EXIT_ERROR if report.problems or report.has_internal_error else EXIT_OK
    if baseline is not None:
        report.findings = baseline.new_findings(report.findings)
    with _Output(args.output_file) as stream:
        if args.statistics:
            _print_statistics(stream, report)
        else:
            _report(registry, reporter_cls, stream, args, report)
    _print_problems(report)
    if report.problems or report.has_internal_error:
        return EXIT_ERROR
    threshold = _fail_on(args, config)
    failed = any(f.severity >= threshold for f in report.findings)
    return EXIT_FINDINGS if failed and not args.exit_zero else EXIT_OK


def _report(registry, reporter_cls, stream: TextIO, args, report: Report) -> None:
    """Render ``report``; a reporter that raises is an internal error naming its plugin, and the
    findings are then rendered as text so that none is lost."""
    from .linter import internal_error

    try:
        reporter_cls(stream, color=_use_color(stream, args.color), quiet=args.quiet).report(report)
    except Exception as exc:  # noqa: BLE001 - a crashing reporter must not lose the findings
        if args.debug:
            import traceback

            traceback.print_exc()
        plugin = registry.origin.get(reporter_cls, "?")
        report.findings.append(internal_error("", f"reporter {reporter_cls.name!r} (plugin {plugin}) crashed: "
                                                  f"{type(exc).__name__}: {exc}; the findings follow as text"))
        registry.reporters["text"](stream, color=False, quiet=args.quiet).report(report)


def _print_statistics(stream: TextIO, report: Report) -> None:
    import collections

    counts = collections.Counter((f.code, f.name) for f in report.findings)
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        stream.write(f"{count:>6}  {code}  {name}\n")


def _read_baseline(path: str):
    from .baseline import Baseline, BaselineError

    try:
        return Baseline.read(path)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None


def _write_baseline(path: str, report: Report) -> None:
    from .baseline import Baseline

    try:
        Baseline.of(report.findings).write(path)
    except OSError as exc:
        raise UsageError(f"--write-baseline {path}: cannot write: {exc.strerror or exc}") from None
    print(f"portlint: wrote {len(report.findings)} findings to the baseline {path}", file=sys.stderr)


def cmd_ports(args) -> int:
    from .inventory import has_ports, record, table_rows, write_table

    _, config, linter = _setup(args, select=["PL0"])  # parse only: no rule but the input checks
    # A declaration that several documents share (a compose override or include) is listed once.
    declarations: dict = {}
    report = _lint(args, linter, lambda doc: declarations.update(dict.fromkeys(d for d in doc.declarations if has_ports(d))),
                   exclude=[_relative_glob(g, config) for g in config.exclude])
    with _Output(args.output_file) as stream:  # records made as they are written: a big file's are many
        if args.output_format == "json":
            from .reporters.common import write_json

            write_json(stream, [], map(record, declarations))
        else:
            write_table(stream, lambda: table_rows(map(record, declarations)))
    return _input_status(report)


def _input_status(report: Report) -> int:
    """For the commands that only read their inputs: parse problems go to standard error and
    make the exit code 1; unreadable paths and internal errors make it 2."""
    for f in report.findings:
        loc = f.location
        print(visible(f"portlint: {loc.path}:{loc.line}:{loc.column}: {f.code} {f.message}"), file=sys.stderr)
    _print_problems(report)
    if report.problems or report.has_internal_error:
        return EXIT_ERROR
    return EXIT_FINDINGS if report.findings else EXIT_OK


def cmd_exposure(args) -> int:
    from .exposure_render import render
    from .exposure_view import exposure_rows
    from .project import shown_path
    from .rules import RuleContext

    _, config, linter = _setup(args, select=["PL0"])  # parse only: no rule but the input checks
    documents: list = []
    report = _lint(args, linter, documents.append, exclude=[_relative_glob(g, config) for g in config.exclude])
    root = linter.project_scope.root_of([d.path for d in documents]) if documents else None
    project = linter.load_project([RuleContext(d, linter.catalog, linter.settings) for d in documents], root)
    with _Output(args.output_file) as stream:
        render(args.output_format, exposure_rows(project), shown_path(root) if root else ".", stream)
    return _input_status(report)


def cmd_rules(args) -> int:
    from .plugins import load_registry

    registry = load_registry()
    rules = sorted(registry.rules.values(), key=lambda r: r.code)
    if args.output_format == "json":
        json.dump([{"code": r.code, "name": r.name, "severity": str(r.severity), "summary": r.summary,
                    "default_enabled": r.default_enabled, "options": r.options,
                    "plugin": registry.origin[r]} for r in rules], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for r in rules:
            opt_in = "" if r.default_enabled else " (opt-in)"
            sys.stdout.write(f"{r.code}  {r.name:<26} {str(r.severity):<8} {r.summary}{opt_in}\n")
    _report_plugin_failures(registry)
    return EXIT_ERROR if registry.failures else EXIT_OK


def _report_plugin_failures(registry) -> None:
    for failure in registry.failures:
        print(f"portlint: error: plugin {failure.plugin!r}: {failure.message}", file=sys.stderr)


def cmd_explain(args) -> int:
    import inspect

    from .plugins import load_registry
    from .resources import data_dir

    registry = load_registry()
    rule = registry.rule_by_name_or_code(args.rule)
    if rule is None:
        raise UsageError(f"unknown rule {args.rule!r} (see `portlint rules`)")
    page = data_dir("rules") / f"{rule.code}.md"
    if registry.origin[rule].startswith("portlint.") and page.is_file():
        sys.stdout.write(page.read_text(encoding="utf-8"))
    else:
        doc = inspect.getdoc(rule) or rule.summary
        sys.stdout.write(f"# {rule.code} {rule.name}\n\n{doc}\n\nDefault severity: {rule.severity}.\n")
    return EXIT_OK


def cmd_port(args) -> int:
    from .catalog import load
    from .port_query import QueryError, format_record, port_record, resolve_query

    catalog = load()
    preset = args.ephemeral_range or "iana"
    ephemeral = _ephemeral(preset, catalog)
    records = []
    for query in args.queries:
        try:
            ports, protocols = resolve_query(query, catalog)
        except QueryError as exc:
            raise UsageError(str(exc)) from None
        for port in range(ports.start, ports.end + 1):
            for proto in protocols:
                records.append(port_record(catalog.info(port, proto), catalog, ephemeral, preset))
    if args.output_format == "json":
        json.dump(records, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(format_record(r) for r in records) + "\n")
    return EXIT_OK


COMMAND_HANDLERS = {"check": cmd_check, "ports": cmd_ports, "exposure": cmd_exposure, "rules": cmd_rules,
                    "explain": cmd_explain, "port": cmd_port}
