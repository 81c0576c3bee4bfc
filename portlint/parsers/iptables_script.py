"""Shell scripts that call iptables: ``firewall.sh``, ``iptables.up``, ``rc.firewall``.

The script is parsed (:mod:`.shell_syntax`) and evaluated statically (:mod:`.shell_eval`); each
``iptables`` / ``ip6tables`` / ``iptables-restore`` command it runs is applied to its tables by
:mod:`.iptables_commands`. Declarations are ``format="iptables"``: the rules are iptables rules,
whatever wrote them. The evaluator is imported only when a script is parsed.
"""
from __future__ import annotations

import re

from ..hookspecs import hookimpl
from ..model import Document
from . import Parser

#: A call of iptables (or an assignment of its path) anywhere on a line, and a line that starts
#: with one; a shebang of the sh family.
_CALLS = re.compile(r"(?<![\w.])ip6?tables(?:-legacy|-nft)?(?:-restore)?(?![\w./]|-(?:save|apply|translate))")
_COMMAND_LINE = re.compile(
    r"^\s*(?:sudo\s+(?:-\S+\s+)*)?(?:\S*/)?ip6?tables(?:-legacy|-nft)?(?:-restore)?(?:\s|$)", re.M)
_SHELL_SHEBANG = re.compile(r"#!\s*(?:\S*/)?(?:env\s+(?:-\S+\s+)*)?(?:ba|da|k|mk|z|a)?sh\b")


class IptablesScriptParser(Parser):
    name = "iptables-script"
    description = "shell scripts (sh, bash) that call iptables, ip6tables or iptables-restore"

    def sniff(self, head: str) -> bool:
        """A script with a sh/bash shebang that calls iptables, or, without a shebang, one whose
        lines start with an iptables command: a shell script that never calls iptables is not
        claimed, whatever its name."""
        first, _, _ = head.partition("\n")
        if first.startswith("#!"):
            if not _SHELL_SHEBANG.match(first):
                return False
            code = "\n".join(line for line in head.splitlines() if not line.lstrip().startswith("#"))
            return bool(_CALLS.search(code))
        return bool(_COMMAND_LINE.search(head))

    def parse(self, text: str, path: str) -> Document:
        from ..catalog import load
        from .iptables_commands import Firewall
        from .shell_eval import Evaluator
        from .shell_syntax import parse_script

        document = Document(path, self.name, text)
        tree, errors = parse_script(text, path)
        document.diagnostics.extend(errors)
        if tree is not None:
            firewall = Firewall(document, load().resolve)
            evaluator = Evaluator(text, path, firewall)
            evaluator.run(tree)
            document.diagnostics.extend(evaluator.diagnostics)
            firewall.finish()
        unique = {(d.code, d.location, d.message): d for d in document.diagnostics}
        document.diagnostics = sorted(unique.values(), key=lambda d: (d.location.line, d.location.column))
        return document



@hookimpl
def portlint_register_parsers():
    return [IptablesScriptParser()]
