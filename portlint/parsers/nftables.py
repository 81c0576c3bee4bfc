"""nftables rulesets (``nftables.conf``, ``*.nft``, ``nft list ruleset`` output).

This module only claims files; the grammar and the reader (``nftables_ruleset``) are imported
when a ruleset is parsed, so a run over other formats never pays for them.
"""
from __future__ import annotations

import re

from ..hookspecs import hookimpl
from ..model import Document
from . import Parser

_SHEBANG = re.compile(r"#!\S*\bnft\b")
_FIRST_STATEMENT = re.compile(
    r"(?:table\s+(?:(?:ip6?|inet|arp|bridge|netdev)\s+)?[\w.-]+\s*\{"
    r"|flush\s+ruleset\b"
    r"|(?:add|create|insert|delete|flush)\s+(?:table|chain|rule|set|map|element)\s"
    r"|define\s+[\w.-]+\s*="
    r"|include\s+\")")


class NftablesParser(Parser):
    name = "nftables"
    description = "nftables rulesets (nft -f input, nft list ruleset output)"
    patterns = ("*.nft", "*.nftables", "nftables.conf", "nftables.rules")

    def sniff(self, head: str) -> bool:
        if _SHEBANG.match(head):
            return True
        for line in head.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                return bool(_FIRST_STATEMENT.match(line))
        return False

    def parse(self, text: str, path: str) -> Document:
        from .nftables_ruleset import read_ruleset

        return read_ruleset(text, path, self.options)


@hookimpl
def portlint_register_parsers():
    return [NftablesParser()]
