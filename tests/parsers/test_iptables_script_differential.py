"""The acceptance test of shell scripts: portlint's reading of a script against what ``bash``
running it really does.

Each script of ``tests/parsers/scripts`` is run by bash in a fresh network namespace (empty
tables), with ``iptables``, ``ip6tables`` and their ``-restore`` / ``-legacy`` / ``-nft``
commands on ``PATH`` replaced by stubs that log their arguments and run the real tool, ``sudo``
by a stub that runs its command, and the absolute paths ``/sbin/iptables`` ... routed to the same
stubs by shell functions (``BASH_ENV``): the script's text is run unchanged. Afterwards the
namespace's tables are dumped with ``iptables-save`` (all four of them), and the rules the dump
holds must be the rules portlint reads in the script: ``portlint ports`` on the script equals
``portlint ports`` on the dumps (family, table, chain, protocol, ports, negation, action,
target, NAT target), and so do the rules without ports and the chains' policies.

Skipped where bash, unshare or iptables are missing, or network namespaces cannot be created.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from portlint.model import FirewallRule
from portlint.parsers.iptables import IptablesParser
from portlint.parsers.iptables_script import IptablesScriptParser

SCRIPTS = Path(__file__).parent / "scripts"
#: Arguments a script is run with (an init script's action).
ARGUMENTS = {"rc.firewall": ["start"]}
PROGRAMS = [f"ip{six}tables{build}{restore}" for six in ("", "6") for build in ("", "-legacy", "-nft")
            for restore in ("", "-restore")]
DUMPS = {"iptables.rules": "iptables-nft-save", "ip6tables.rules": "ip6tables-nft-save",
         "iptables-legacy.rules": "iptables-legacy-save", "ip6tables-legacy.rules": "ip6tables-legacy-save"}
STUB = """#!/bin/sh
printf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"
exec {real} "$@"
"""
SUDO = """#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -u|-g) shift 2 ;; -*) shift ;; *) break ;; esac; done
case "$1" in */ip*tables*) program=$(basename "$1"); shift; set -- "$program" "$@" ;; esac
exec "$@"
"""


def _namespace() -> list[str] | None:
    """The command that runs a command in a new network namespace, if this machine allows one."""
    if not (shutil.which("bash") and shutil.which("unshare") and all(shutil.which(p) for p in DUMPS.values())):
        return None
    for command in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        try:
            probe = subprocess.run([*command, "iptables", "-S"], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return command
    return None


NAMESPACE = _namespace()
pytestmark = pytest.mark.skipif(NAMESPACE is None, reason="bash, unshare and iptables in a new network namespace are needed")


def scripts() -> list[Path]:
    return sorted(p for p in SCRIPTS.iterdir() if p.is_file())


def _stubs(root: Path) -> dict[str, str]:
    """A PATH directory of logging stubs, and a BASH_ENV that routes absolute paths to them."""
    bin_dir = root / "bin"
    bin_dir.mkdir()
    functions = []
    for program in PROGRAMS:
        real = shutil.which(program)
        if real is None:
            continue
        stub = bin_dir / program
        stub.write_text(STUB.format(real=real))
        stub.chmod(0o755)
        for directory in ("/sbin", "/usr/sbin", "/bin", "/usr/bin", "/usr/local/sbin"):
            functions.append(f'{directory}/{program}() {{ {program} "$@"; }}')
    (bin_dir / "sudo").write_text(SUDO)
    (bin_dir / "sudo").chmod(0o755)
    (root / "bash_env").write_text("\n".join(functions) + "\n")
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "BASH_ENV": str(root / "bash_env"),
            "STUB_LOG": str(root / "invocations.log"), "HOME": str(root), "LANG": "C"}


def run_script(script: Path, root: Path) -> tuple[list[Path], str]:
    """Run ``script`` with bash in a fresh namespace; the dumps of its tables and the log."""
    env = _stubs(root)
    dumps = "; ".join(f'{save} > "$DUMP_DIR/{name}"' for name, save in DUMPS.items())
    command = [*NAMESPACE, "bash", "-c", f'bash "$0" "$@" > "$DUMP_DIR/output" 2>&1; {dumps}',
               str(script), *ARGUMENTS.get(script.name, [])]
    run = subprocess.run(command, env={**env, "DUMP_DIR": str(root)}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    log = (root / "invocations.log").read_text() if (root / "invocations.log").exists() else ""
    return [root / name for name in DUMPS], log


def port_records(paths: list[Path], fmt: str | None = None) -> dict[str, collections.Counter]:
    """``portlint ports`` records of these files (one run for all), by path, without locations."""
    args = [sys.executable, "-m", "portlint", "ports", "--isolated", "--output-format", "json", *(["--format", fmt] if fmt else []),
            *map(str, paths)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert run.returncode in (0, 1), run.stderr
    keys = ("family", "table", "chain", "proto", "dport", "sport", "dport_negated", "sport_negated", "either",
            "action", "target", "to_address", "to_ports")
    found: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for record in json.loads(run.stdout):
        found[record["path"]][json.dumps([record[k] for k in keys])] += 1
    return found


def model(declarations, policies) -> tuple[collections.Counter, set]:
    """Every rule (with ports or not) and the chains with their policies, without locations:
    built-in chains with a policy other than ACCEPT (a script that sets none leaves the kernel's),
    and user chains."""
    rules = collections.Counter(
        (r.family, r.table, r.chain, r.protocol, r.protocol_negated, r.dport and (r.dport.ranges, r.dport.negated),
         r.sport and (r.sport.ranges, r.sport.negated), r.either and r.either.ranges, r.action, r.target,
         r.to_address, r.to_ports)
        for r in declarations if isinstance(r, FirewallRule))
    chains = {(p.family, p.table, p.chain, p.policy) for p in policies if p.hook is None or p.policy not in (None, "accept")}
    return rules, chains


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[list[Path], str]]:
    return {s.name: run_script(s, tmp_path_factory.mktemp(s.name)) for s in scripts()}


@pytest.fixture(scope="module")
def inventories(runs) -> tuple[dict, dict]:
    """What portlint reads in each script (detected by its name and content), and in the
    dumps of the tables bash left behind, by script."""
    dumps = [d for dumped, _ in runs.values() for d in dumped if d.read_text().strip()]
    by_dump = port_records(dumps, "iptables")
    expected = {name: sum((by_dump[str(d)] for d in dumped), collections.Counter())
                for name, (dumped, _) in runs.items()}
    by_script = port_records(scripts())
    return {s.name: by_script[str(s)] for s in scripts()}, expected


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.name)
def test_inventory_equals_the_rules_bash_creates(script, runs, inventories):
    log = runs[script.name][1]
    found, expected = inventories[0][script.name], inventories[1][script.name]
    assert expected, f"the script created no rule with ports: {log}"
    assert found == expected, f"bash ran:\n{log}\nmissing: {expected - found}\nextra: {found - expected}"


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.name)
def test_rules_and_policies_equal_the_tables_bash_creates(script, runs):
    dumps, log = runs[script.name]
    saved = [IptablesParser().parse(d.read_text(), d.name) for d in dumps if d.read_text().strip()]
    expected = model([r for doc in saved for r in doc.declarations], [p for doc in saved for p in doc.policies])
    document = IptablesScriptParser().parse(script.read_text(), str(script))
    found = model(document.declarations, document.policies)
    assert found[0] == expected[0], f"bash ran:\n{log}\nmissing: {expected[0] - found[0]}\nextra: {found[0] - expected[0]}"
    assert found[1] == expected[1], log
    assert [d for d in document.diagnostics if d.code in ("PL001", "PL005")] == []
