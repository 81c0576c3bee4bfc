#!/usr/bin/env python3
"""Benchmark portlint against the reference tools on the same inputs, in the same run.

    python3 tests/benchmarks/bench.py [--runs N] [--only TEXT] [--kubeproxy 20000,200000]
                                      [--nft 10000,50000] [--kubeproxy-nft 10000] [--blocklist 100]
                                      [--compose-lint PATH] [--portlint CMD]

portlint is first installed from this checkout into a fresh virtual environment, as pre-commit
and ``pip install`` users get it (byte-compiled, run through its console script); ``--portlint``
names another command instead. Each workload runs portlint and its reference tool alternately
``--runs`` times and prints the medians of wall time and CPU time (user+sys), the ratio
portlint / reference on the measure the target names, portlint's peak memory, and whether the
targets hold (ratio, absolute time, memory, and linear growth between the sizes of a workload).
A reference tool that is not installed (or not usable, e.g. not root) leaves the workload
measured for portlint alone. Inputs come from ``../shared/tools/gen_*.py``,
``tests/benchmarks/gen_*.py`` and ``../shared/corpus`` into a temporary folder. Exits 1
when a target is missed. Not collected by pytest; docs/performance.md has the figures.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
TOOLS = SHARED / "tools"
CHECK = ["check", "--isolated", "--exit-zero"]


@dataclass
class Workload:
    name: str
    portlint: list[str]
    reference: list[str] | None  # None: no reference tool here
    reference_name: str = "-"
    measure: str = "wall"  # "wall" or "cpu": what the target compares
    target: float | None = None  # the ratio portlint / reference to stay under
    max_wall: float | None = None  # seconds portlint may take at most
    max_peak_mib: float | None = None  # memory portlint may use at most
    size: int | None = None  # rules: workloads of one family with sizes must grow linearly


@dataclass
class Run:
    wall: float
    cpu: float
    peak_kib: int


def run(cmd: list[str]) -> Run:
    """Wall seconds, CPU seconds (user+sys) and peak RSS of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return Run(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def generate(tool: str, args: list[str], target: Path, tools: Path = TOOLS) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w") as out:
        subprocess.run([sys.executable, str(tools / tool), *args], stdout=out, check=True)
    return target


def generate_here(tool: str, args: list[str], target: Path) -> Path:
    """A workload from a generator of this folder (the others come from ../shared/tools)."""
    return generate(tool, args, target, Path(__file__).parent)


def reference(cmd: list[str], probe: list[str] | None = None) -> list[str] | None:
    """``cmd`` when its tool is installed and works here (``probe`` checks that, e.g. that nft
    may run: it needs root); None otherwise."""
    if shutil.which(cmd[0]) is None:
        return None
    if probe and subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        return None
    return cmd


def install(tmp: Path) -> list[str]:
    """portlint installed from this checkout into a new virtual environment: its console
    script, byte-compiled as pip installs it."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return [str(venv / "bin" / "portlint")]


def workloads(tmp: Path, args, portlint: list[str]) -> list[Workload]:
    check = [*portlint, *CHECK]
    found = []
    restore = ["iptables-restore", "--test"]
    small_rules = ROOT / "docs" / "examples" / "rules.v4"
    probe = [*restore, str(small_rules)]
    found.append(Workload("iptables: one small file (cold)", [*check, str(small_rules)],
                          reference([*restore, str(small_rules)], probe), "iptables-restore --test",
                          max_wall=0.1))
    small_ruleset = ROOT / "docs" / "examples" / "nftables.conf"
    found.append(Workload("nftables: one small file (cold)", [*check, str(small_ruleset)],
                          reference(["nft", "-c", "-f", str(small_ruleset)], ["nft", "-c", "-f", "/dev/null"]),
                          "nft -c -f", max_wall=0.1))
    for n in [int(x) for x in args.kubeproxy.split(",") if x]:
        dump = generate("gen_kubeproxy.py", [str(n)], tmp / f"kubeproxy-{n}.rules")
        found.append(Workload(f"iptables: kube-proxy dump, {n} rules", [*check, "--select", "ALL", str(dump)],
                              reference([*restore, str(dump)], probe), "iptables-restore --test", target=2.0,
                              max_peak_mib=300 if n >= 200_000 else None, size=n))
    for n in [int(x) for x in args.nft.split(",") if x]:
        ruleset = generate("gen_nft.py", [str(n)], tmp / f"ruleset-{n}.nft")
        found.append(Workload(f"nftables: {n} rules", [*check, "--select", "ALL", str(ruleset)],
                              reference(["nft", "-c", "-f", str(ruleset)], ["nft", "-c", "-f", "/dev/null"]),
                              "nft -c -f", "cpu", 3.0, size=n))
    for n in [int(x) for x in args.kubeproxy_nft.split(",") if x]:
        ruleset = generate_here("gen_kubeproxy_nft.py", [str(n)], tmp / f"kubeproxy-{n}.nft")
        found.append(Workload(f"nftables kube-proxy mode: {n} services", [*check, "--select", "ALL", str(ruleset)],
                              reference(["nft", "-c", "-f", str(ruleset)], ["nft", "-c", "-f", "/dev/null"]),
                              "nft -c -f", "cpu", 3.0))
    if args.blocklist:
        blocklist = generate_here("gen_blocklist.py", [str(args.blocklist * 2**20)], tmp / "blocklist.nft")
        found.append(Workload(f"nftables blocklist: {args.blocklist} MiB", [*check, "--select", "ALL", str(blocklist)],
                              reference(["nft", "-c", "-f", str(blocklist)], ["nft", "-c", "-f", "/dev/null"]),
                              "nft -c -f", "cpu", 3.0, max_peak_mib=300 if args.blocklist >= 100 else None))
    compose_lint = args.compose_lint or shutil.which("compose-lint")
    small_compose = generate("gen_compose.py", ["3"], tmp / "small" / "compose.yaml")
    found.append(Workload("compose: one small file (cold)", [*check, str(small_compose)],
                          reference([compose_lint, str(small_compose)]) if compose_lint else None,
                          "compose-lint", target=1.0, max_wall=0.1))
    corpus = sorted((SHARED / "corpus" / "compose").rglob("*.y*ml"))[:39]
    if corpus:
        files = [str(p) for p in corpus]
        found.append(Workload(f"compose: {len(files)} files in one call", [*check, *files],
                              reference([compose_lint, *files]) if compose_lint else None,
                              "compose-lint", target=1.0))
    found.extend(jobs_workloads(tmp, [str(p) for p in corpus], check))
    big = generate("gen_compose.py", ["1000"], tmp / "big" / "compose.yaml")
    found.append(Workload("compose: 1000 services", [*check, str(big)],
                          reference(["docker-compose", "-f", str(big), "config", "-q"]), "docker-compose config",
                          target=0.5))
    return found


def jobs_workloads(tmp: Path, corpus: list[str], check: list[str]) -> list[Workload]:
    """``--jobs 2`` against ``--jobs 1`` (the reference) on many files: the corpus's compose
    files, 200 generated compose files of 5-24 services, and 200 generated firewalls
    (kube-proxy dumps of 200-1000 rules, nftables rulesets of 100-500)."""
    composes = tmp / "many-compose"
    for i in range(200):
        generate("gen_compose.py", [str(5 + i % 20), "--seed", str(i)], composes / f"compose-{i}.yml")
    firewalls = tmp / "many-firewalls"
    for i in range(100):
        generate("gen_kubeproxy.py", [str(200 + i * 37 % 800), "--seed", str(i)], firewalls / f"kube-{i}.rules.v4")
        generate("gen_nft.py", [str(100 + i * 53 % 400), "--seed", str(i)], firewalls / f"fw-{i}.nft")
    found = []
    for name, paths in ((f"{len(corpus)} compose files", corpus), ("200 compose files", [str(composes)]),
                        ("200 firewall files", [str(firewalls)])):
        if paths:
            found.append(Workload(f"--jobs 2: {name}", [*check, "--jobs", "2", *paths],
                                  [*check, "--jobs", "1", *paths], "portlint --jobs 1"))
    return found


def verdicts(w: Workload, mine: Run, ratio: float | None) -> list[str]:
    """The targets ``w`` misses, as text."""
    missed = []
    if w.target and ratio is not None and ratio > w.target:
        missed.append(f"ratio {ratio:.2f}x > {w.target}x")
    if w.max_wall and mine.wall > w.max_wall:
        missed.append(f"{mine.wall * 1000:.0f} ms > {w.max_wall * 1000:.0f} ms")
    if w.max_peak_mib and mine.peak_kib / 1024 > w.max_peak_mib:
        missed.append(f"{mine.peak_kib / 1024:.0f} MiB > {w.max_peak_mib:.0f} MiB")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", help="run the workloads whose name contains this")
    parser.add_argument("--kubeproxy", default="20000,200000", help="kube-proxy dump sizes (rules)")
    parser.add_argument("--nft", default="10000,50000", help="nftables ruleset sizes (rules)")
    parser.add_argument("--kubeproxy-nft", default="10000", help="kube-proxy nftables-mode sizes (services)")
    parser.add_argument("--blocklist", type=int, default=100, help="nftables blocklist size (MiB; 0: none)")
    parser.add_argument("--compose-lint", help="the compose-lint executable (default: on PATH)")
    parser.add_argument("--portlint", help="the portlint command to measure (default: installed from this checkout)")
    args = parser.parse_args()
    if not TOOLS.is_dir():
        print(f"generators not found in {TOOLS}", file=sys.stderr)
        return 2
    missed_any = False
    with tempfile.TemporaryDirectory() as tmp:
        portlint = args.portlint.split() if args.portlint else install(Path(tmp))
        run(portlint + ["--version"])  # warm the file cache
        print(f"{'workload':<40} {'portlint':>17} {'reference':>17} {'ratio':>7} {'target':>7} {'peak':>8}  verdict")
        print(f"{'':<40} {'wall / cpu s':>17} {'wall / cpu s':>17}")
        sized: dict[str, tuple[int, float]] = {}  # family -> (size, seconds) of its last sized workload
        for w in workloads(Path(tmp), args, portlint):
            if args.only and args.only not in w.name:
                continue
            ours: list[Run] = []
            theirs: list[Run] = []
            for _ in range(args.runs):
                ours.append(run(w.portlint))
                if w.reference:
                    theirs.append(run(w.reference))
            mine = Run(statistics.median(r.wall for r in ours), statistics.median(r.cpu for r in ours),
                       max(r.peak_kib for r in ours))
            ref = Run(statistics.median(r.wall for r in theirs), statistics.median(r.cpu for r in theirs), 0) if theirs else None
            ratio = ((mine.wall / ref.wall) if w.measure == "wall" else (mine.cpu / ref.cpu)) if ref else None
            missed = verdicts(w, mine, ratio)
            if w.size:
                family = w.name.split(":")[0]
                if family in sized:
                    size, seconds = sized[family]
                    growth = (mine.cpu / seconds) / (w.size / size)
                    if growth > 1.1:
                        missed.append(f"grows {growth:.2f}x faster than its input")
                sized[family] = (w.size, mine.cpu)
            missed_any = missed_any or bool(missed)
            ref_text = f"{ref.wall:7.3f} / {ref.cpu:7.3f}" if ref else f"{'n/a':>17}"
            ratio_text = f"{ratio:6.2f}x" if ratio else "    n/a"
            target = f"{w.target:5.1f}x" if w.target else "      -"
            print(f"{w.name:<40} {mine.wall:7.3f} / {mine.cpu:7.3f} {ref_text} {ratio_text} {target} "
                  f"{mine.peak_kib / 1024:6.0f}Mi  {'; '.join(missed) or 'ok'}"
                  f"  [{w.reference_name} ({w.measure})]", flush=True)
    return 1 if missed_any else 0


if __name__ == "__main__":
    sys.exit(main())
