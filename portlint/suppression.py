"""Inline suppressions: ``# portlint: ignore[PL201] -- reason`` and ``ignore-file[...]``.

One scanner for every format, because every format portlint reads writes comments with ``#``
(iptables-save, shell, nftables, YAML) and its rule comments (``-m comment --comment "..."``,
nft ``comment "..."``) sit on the rule's own line. A directive on a line with other content
suppresses findings on that line; a directive alone on a comment line suppresses the next line
that is not blank or a comment; ``ignore-file`` suppresses the whole file. A directive for the
first line of a statement that goes on over several lines covers the whole statement. Without a code list,
a directive suppresses every code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .findings import Finding
from .model import Location
from .source_text import PackedText, text_lines

DIRECTIVE = re.compile(
    r"portlint:\s*(?P<kind>ignore-file|ignore)\b(?:\[(?P<codes>[^\]]*)\])?(?:\s*--\s*(?P<reason>[^\"'\n]*))?")


@dataclass
class Directive:
    """One ``portlint: ignore`` comment, and the codes it has suppressed so far (for PL004)."""

    location: Location  # where the directive is written
    codes: tuple[str, ...] | None  # codes or rule names as written; None: every code
    target_line: int = 0  # the line it suppresses (0: none); unused for ignore-file
    file_level: bool = False
    reason: str | None = None
    used: set[str] = field(default_factory=set)  # the codes it suppressed

    def matches(self, finding: Finding) -> str | None:
        """The code or name of this directive that covers ``finding``, or None."""
        if not self.file_level and self.target_line not in (finding.location.line, finding.statement_line):
            return None
        if self.codes is None:
            return "*"
        for code in self.codes:
            if code.upper() == finding.code or code.lower() == finding.name:
                return code
        return None


def scan(text: str | PackedText, path: str) -> list[Directive]:
    """Every directive of ``text``; cheap when there is none."""
    if "portlint:" not in text:
        return []
    lines = text_lines(text)
    found: list[Directive] = []
    pending: list[Directive] = []  # comment-line directives waiting for their line
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if pending and stripped and not stripped.startswith("#"):
            for directive in pending:
                directive.target_line = number
            pending = []
        for m in DIRECTIVE.finditer(line):
            codes = m.group("codes")
            parsed = tuple(c.strip() for c in codes.split(",") if c.strip()) if codes is not None else None
            location = Location(path, number, m.start() + 1, number, m.end() + 1)
            reason = (m.group("reason") or "").strip() or None
            if m.group("kind") == "ignore-file":
                found.append(Directive(location, parsed, file_level=True, reason=reason))
            elif stripped.startswith("#") and line.index("#") <= m.start():
                directive = Directive(location, parsed, reason=reason)  # its line comes next
                pending.append(directive)
                found.append(directive)
            else:
                found.append(Directive(location, parsed, number, reason=reason))
    return found


def apply(findings: list[Finding], directives: list[Directive]) -> list[Finding]:
    """The findings no directive suppresses; each directive records what it suppressed."""
    if not directives:
        return findings
    kept = []
    for finding in findings:
        hit = False
        for directive in directives:
            code = directive.matches(finding)
            if code is not None:
                directive.used.add(code)
                hit = True
        if not hit:
            kept.append(finding)
    return kept


def unused(directives: list[Directive], enabled) -> list[tuple[Location, str]]:
    """``(location, message)`` of each directive code that suppressed nothing. A code whose rule
    is not enabled in this run (``enabled(code)`` is False) cannot be judged and is skipped."""
    out = []
    for directive in directives:
        kind = "ignore-file" if directive.file_level else "ignore"
        if directive.codes is None:
            if not directive.used:
                out.append((directive.location, f"'portlint: {kind}' suppresses nothing: remove it"))
            continue
        stale = [c for c in directive.codes if c not in directive.used and enabled(c)]
        if stale:
            out.append((directive.location, f"'portlint: {kind}[{', '.join(stale)}]' suppresses nothing: "
                                            "remove the code" + ("s" if len(stale) > 1 else "")))
    return out
