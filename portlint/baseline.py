"""Baselines: adopt portlint on a legacy repository by recording today's findings and reporting
only new ones. Findings are matched by fingerprint (code, path, message), so they survive lines
moving; a fingerprint recorded N times excuses N findings."""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass

from .discovery import open_regular, reason
from .findings import Finding

FORMAT = 1


class BaselineError(Exception):
    pass


@dataclass
class Baseline:
    counts: collections.Counter  # fingerprint -> how many findings it excuses
    records: list[dict]

    @classmethod
    def of(cls, findings: list[Finding]) -> Baseline:
        records = [{"fingerprint": f.fingerprint, "code": f.code, "path": f.location.path, "message": f.message}
                   for f in findings]
        return cls(collections.Counter(r["fingerprint"] for r in records), records)

    @classmethod
    def read(cls, path: str) -> Baseline:
        try:
            with open_regular(path) as fh:
                data = json.load(fh)
        except (OSError, ValueError) as exc:
            raise BaselineError(f"--baseline {path}: cannot read: {reason(exc)}") from None
        if not isinstance(data, dict) or data.get("portlint-baseline") != FORMAT or not isinstance(data.get("findings"), list):
            raise BaselineError(f"--baseline {path}: not a portlint baseline (write one with --write-baseline)")
        records = [r for r in data["findings"] if isinstance(r, dict) and isinstance(r.get("fingerprint"), str)]
        return cls(collections.Counter(r["fingerprint"] for r in records), records)

    def write(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"portlint-baseline": FORMAT, "findings": self.records}, fh, indent=1)
            fh.write("\n")

    def new_findings(self, findings: list[Finding]) -> list[Finding]:
        """The findings the baseline does not excuse."""
        left = collections.Counter(self.counts)
        out = []
        for finding in findings:
            key = finding.fingerprint
            if left[key] > 0:
                left[key] -= 1
            else:
                out.append(finding)
        return out
