"""Findings: frozen, precisely located results that every reporter renders."""
from __future__ import annotations

import enum
import re

from .model import Location, record


class Severity(enum.IntEnum):
    """Ordered so that ``severity >= threshold`` decides whether a run fails."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected error, warning or info)") from None


@record
class Finding:
    """One problem a rule found, where it is, and how serious it is."""

    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    #: The other places the message names ("same verdict as line 12", "rules.v4:3"): the
    #: earlier rule, the firewall rule or policy that drops a published port.
    related: tuple[Location, ...] = ()
    #: The first line of the statement the finding is about, when it starts on an earlier line
    #: than the finding (an element of a multi-line nftables set): a suppression there covers it.
    statement_line: int | None = None

    @property
    def fingerprint(self) -> str:
        """Stable across unrelated edits: code, path and message, not the line number, neither
        the finding's nor those of the places its message names (``line N``, ``path:N``)."""
        import hashlib  # only reporters and baselines ask; most runs never do

        message = self.message
        for place in self.related:
            number = f"{place.line}(?![0-9])"  # line 3 is not the start of line 31
            message = re.sub(f"(?<={re.escape(place.path)}):{number}|(?<=\\bline ){number}", "", message)
        key = "\0".join((self.code, self.location.path, message))
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.path, loc.line, loc.column, self.code, self.message)
