"""PL0xx: what keeps portlint from reading the input."""
from __future__ import annotations

from ..findings import Severity
from ..hookspecs import hookimpl
from . import DiagnosticRule, Rule


class InternalError(Rule):
    """A parser, rule or plugin crashed, or a plugin could not be loaded.

    The run goes on without it and exits with code 2. Run with ``--debug`` for the traceback,
    and report it to the plugin's authors (or portlint's, for a built-in).
    """

    code = "PL000"
    name = "internal-error"
    severity = Severity.ERROR
    summary = "portlint or a plugin failed on this input"

    def check(self, ctx):
        return ()  # the linter reports internal errors itself


class ParseError(DiagnosticRule):
    """The file or a statement cannot be parsed; the finding points at the first bad token and
    says what was expected. The other statements and files are still linted."""

    code = "PL001"
    name = "parse-error"
    severity = Severity.ERROR
    summary = "the file or a statement cannot be parsed"


class InvalidPort(DiagnosticRule):
    """A port outside 0-65535, a malformed port, or a reversed range where the reference tool
    rejects it (tcp and sctp in iptables)."""

    code = "PL002"
    name = "invalid-port"
    severity = Severity.ERROR
    summary = "a port or port range that the firewall or compose would reject"


class UnknownService(DiagnosticRule):
    """A service name (``--dport ssh``) that the catalog cannot resolve to a port."""

    code = "PL003"
    name = "unknown-service"
    severity = Severity.ERROR
    summary = "a service name the catalog cannot resolve"


class UnusedSuppression(Rule):
    """An inline suppression (``# portlint: ignore[PL201]``, ``ignore-file[...]``) that
    suppressed nothing: the finding it was written for is gone, so the comment now only hides
    future findings. Codes of rules not enabled in the run are not judged."""

    code = "PL004"
    name = "unused-suppression"
    severity = Severity.WARNING
    summary = "an inline suppression that suppressed nothing"

    def check(self, ctx):
        return ()  # the linter reports unused suppressions once every rule has run


class UnresolvedVariable(DiagnosticRule):
    """A port comes from a variable portlint cannot resolve statically (a compose ``${VAR}``
    with no value and no default, an nftables ``$name`` never defined, a shell ``$(command)``).
    The port is skipped, never guessed, so the other rules cannot judge it. Also where portlint
    stops following: a shell script evaluated in part, an nftables ruleset whose set lookups
    stop being expanded element by element."""

    code = "PL005"
    name = "unresolved-variable"
    severity = Severity.WARNING
    summary = "a port from a variable that cannot be resolved"


class IncludeError(DiagnosticRule):
    """An nftables ``include`` that is missing, cyclic, or leaves the project root, or a compose
    ``include``/``extends`` whose file cannot be read, whose service does not exist, or that is
    cyclic. It is not followed, and its content is never printed."""

    code = "PL006"
    name = "include-error"
    severity = Severity.ERROR
    summary = "an include that is missing, cyclic or leaves the project root"


@hookimpl
def portlint_register_rules():
    return [InternalError, ParseError, InvalidPort, UnknownService, UnusedSuppression, UnresolvedVariable,
            IncludeError]
