"""``--jobs N``: files linted by worker processes give a report byte for byte the same as a
serial run's, in every output format, with the same exit code."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from portlint.parallel import PARALLEL_FROM_BYTES, cpu_count

FIREWALL = """\
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
# portlint: ignore[PL201] -- the switch console only speaks telnet
-A INPUT -s 192.0.2.10 -p tcp --dport 23 -j ACCEPT
-A INPUT -p tcp --dport 21 -j ACCEPT
# portlint: ignore[PL102]
-A INPUT -p tcp --dport 22 -j ACCEPT
COMMIT
"""
SCRIPT = "#!/bin/sh\nfor p in 23 513; do\n  iptables -A INPUT -p tcp --dport $p -j ACCEPT\ndone\n"
NFTABLES = """\
table inet filter {
  chain input {
    type filter hook input priority 0; policy drop;
    tcp dport { 23, 445 } accept  # portlint: ignore[PL201]
  }
}
"""
COMPOSE = 'services:\n  {name}:\n    image: nginx\n    ports: ["{port}:80", "127.0.0.1:8443:443"]\n'
BROKEN = "*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nnot a rule\nCOMMIT\n"
#: A plugin format whose parser says which process parsed the file, raises on demand, returns
#: what cannot be pickled, or kills (or blocks) the worker that parses it.
PLUGIN = """\
import os
import time

from portlint.hookspecs import hookimpl
from portlint.model import Diagnostic, Document, Location
from portlint.parsers import Parser

MAIN = os.getpid()  # the process that loaded the plugins; workers are forked from it


class Unpicklable(str):
    def __reduce__(self):
        raise TypeError("not picklable")


class Probe(Parser):
    name = "probe"
    patterns = ("*.probe",)

    def parse(self, text, path):
        worker = os.getpid() != MAIN
        if "raise" in text:
            raise ValueError("cannot read " + os.path.basename(path))
        if "die" in text and worker:
            os._exit(3)
        if "hang" in text and worker:
            time.sleep(600)
        if text.startswith("record "):  # read for the project: no finding tells who parsed it
            with open(text.split()[1], "a") as log:
                log.write("worker " if worker else "main ")
        message = "parsed by a worker" if worker and "where" in text else "parsed"
        if "unpicklable" in text:
            message = Unpicklable(message)
        return Document(path, "probe", text, diagnostics=[Diagnostic("PL001", message, Location(path, 1))])


@hookimpl
def portlint_register_parsers():
    return [Probe()]
"""
FORMATS = ["text", "json", "json-lines", "sarif", "github", "gitlab", "junit"]


@pytest.fixture
def env(plugin_site):
    plugin_site.install("probe", PLUGIN)
    return plugin_site.env


@pytest.fixture
def mixed(tmp_path):
    """Iptables dumps, shell scripts, nftables rulesets and compose files with findings, used and
    unused suppressions, cross-file findings (the compose ports that the firewall drops), a
    parse error, a file that is not UTF-8 and plugin files whose parser crashes or returns what
    cannot be pickled: enough files for several chunks per worker."""
    for i in range(6):
        (tmp_path / f"fw{i}").mkdir()
        (tmp_path / f"fw{i}" / "rules.v4").write_text(FIREWALL)
        (tmp_path / f"fw{i}" / "firewall.sh").write_text(SCRIPT)
        (tmp_path / f"fw{i}" / "ruleset.nft").write_text(NFTABLES)
        (tmp_path / f"app{i}").mkdir()
        (tmp_path / f"app{i}" / "compose.yaml").write_text(COMPOSE.format(name=f"web{i}", port=2375 + i))
    (tmp_path / "broken.rules").write_text(BROKEN)
    (tmp_path / "latin1.rules").write_bytes(FIREWALL.replace("DROP", "DR\xd6P").encode("latin-1"))
    (tmp_path / "crash.probe").write_text("raise\n")
    (tmp_path / "odd.probe").write_text("unpicklable\n")
    return tmp_path


def run(cli_process, env, *args):
    result = cli_process("check", "--isolated", *args, env=env)
    return result.code, result.out, result.err


@pytest.mark.parametrize("output", [*FORMATS, "statistics"])
def test_parallel_report_is_the_serial_report(cli_process, env, mixed, output):
    options = ["--statistics"] if output == "statistics" else ["--output-format", output]
    serial = run(cli_process, env, *options, "--jobs", "1", mixed)
    assert serial[0] == 2  # PL000 from the crashing parser
    assert run(cli_process, env, *options, "--jobs", "2", mixed) == serial
    assert run(cli_process, env, *options, "-j", "3", mixed) == serial


def test_the_mixed_tree_has_what_it_claims(cli_process, env, mixed):
    codes = {f["code"] for f in cli_process("check", "--isolated", "-j", "2", "--output-format", "json", mixed,
                                            env=env).json()}
    assert {"PL000", "PL001", "PL004", "PL201", "PL501"} <= codes
    report = cli_process("check", "--isolated", "-j", "2", mixed, env=env).out
    assert "crash.probe:1:1: PL000 [error] parser 'probe' (plugin probe) crashed: ValueError: cannot read crash.probe" in report
    assert "odd.probe:1:1: PL001 [error] parsed" in report
    assert "latin1.rules:2:10: PL001 [error] invalid UTF-8 byte 0xd6" in report


def test_standard_input_beside_files_linted_in_parallel(cli_process, env, mixed):
    """Standard input is linted by the main process, after the files, as in a serial run."""
    def run_with_stdin(jobs):
        result = cli_process("check", "--isolated", "--output-format", "json", "-j", jobs, mixed, "-",
                             "--stdin-filename", "stdin.rules", stdin=FIREWALL, env=env)
        return result.code, result.out, result.err

    serial = run_with_stdin("1")
    assert '"path": "stdin.rules"' in serial[1]
    assert run_with_stdin("2") == serial


def test_parallel_runs_are_deterministic(cli_process, env, mixed):
    first = run(cli_process, env, "--output-format", "sarif", "-j", "2", mixed)
    assert run(cli_process, env, "--output-format", "sarif", "-j", "2", mixed) == first


def test_files_that_cannot_be_read_are_reported_in_order(cli, tmp_path, monkeypatch):
    """A file that vanishes between discovery and reading (monkeypatched before the workers
    are forked, so they inherit it)."""
    import portlint.linter as linter

    real = linter.read_text
    monkeypatch.setattr(linter, "read_text", lambda path: real(path) if "gone" not in path else
                        (_ for _ in ()).throw(FileNotFoundError(2, "No such file or directory")))
    for i in range(20):
        (tmp_path / f"{i:02}.rules").write_text(FIREWALL)
        (tmp_path / f"{i:02}-gone.rules").write_text(FIREWALL)
    serial = cli("check", "--isolated", "-j", "1", tmp_path)
    parallel = cli("check", "--isolated", "-j", "2", tmp_path)
    assert serial.err.count("cannot read") == 20
    assert (parallel.code, parallel.out, parallel.err) == (serial.code, serial.out, serial.err)


def test_a_worker_that_dies_leaves_its_files_to_the_main_process(cli_process, env, mixed):
    (mixed / "die.probe").write_text("die\n")
    serial = run(cli_process, env, "--output-format", "json", "-j", "1", mixed)
    assert run(cli_process, env, "--output-format", "json", "-j", "2", mixed) == serial


@pytest.fixture
def probes(tmp_path):
    def make(count: int, size: int = 0):
        for i in range(count):
            (tmp_path / f"{i:02}.probe").write_text("where\n".ljust(size, "#"))
        return tmp_path
    return make


def parsed_by(cli_process, env, *args) -> list[str]:
    """Who parsed each file, in the order of their names."""
    findings = cli_process("check", "--isolated", "--output-format", "json", *args, env=env).json()
    return [f["message"] for f in findings]


def test_jobs_puts_workers_to_work(cli_process, env, probes):
    """Except for the smallest file of each format, which the main process lints before it
    forks the workers, so that they inherit what that loaded (here: the plugin's parser)."""
    tree = probes(4, size=100)
    (tree / "02.probe").write_text("where\n")
    assert parsed_by(cli_process, env, "-j", "2", tree) == 2 * ["parsed by a worker"] + ["parsed", "parsed by a worker"]
    assert parsed_by(cli_process, env, "-j", "1", tree) == 4 * ["parsed"]


@pytest.mark.skipif(cpu_count() < 2, reason="one processor: every run is serial by default")
def test_by_default_only_enough_work_is_spread_over_the_processors(cli_process, env, probes):
    """The largest file does not count: one process lints it whatever the number of them."""
    size = PARALLEL_FROM_BYTES // 8
    assert parsed_by(cli_process, env, probes(8, size)) == 8 * ["parsed"]
    assert parsed_by(cli_process, env, probes(9, size)).count("parsed by a worker") == 8


@pytest.mark.parametrize("obstacle", ["no fork on this platform", "fork fails"])
def test_without_workers_the_main_process_lints_every_file(cli, plugin_site, probes, monkeypatch, obstacle):
    import multiprocessing

    plugin_site.install("probe", PLUGIN)
    monkeypatch.syspath_prepend(str(plugin_site.path))
    if obstacle == "fork fails":
        monkeypatch.setattr(os, "fork", lambda: (_ for _ in ()).throw(BlockingIOError(11, "Resource temporarily unavailable")))
    else:
        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    result = cli("check", "--isolated", "--output-format", "json", "-j", "2", probes(6))
    assert [f["message"] for f in result.json()] == 6 * ["parsed"]
    assert result.code == 1 and result.err == ""


def test_ports_in_parallel_lists_the_same_declarations(cli_process, mixed):
    serial = cli_process("ports", "--isolated", "--output-format", "json", "-j", "1", mixed)
    parallel = cli_process("ports", "--isolated", "--output-format", "json", "-j", "2", mixed)
    assert len(serial.json()) > 20
    assert (parallel.code, parallel.out, parallel.err) == (serial.code, serial.out, serial.err)


def test_exposure_in_parallel_is_the_same_view(cli_process, mixed):
    serial = cli_process("exposure", "--isolated", "-j", "1", mixed)
    parallel = cli_process("exposure", "--isolated", "-j", "2", mixed)
    assert "2375" in serial.out
    assert (parallel.code, parallel.out, parallel.err) == (serial.code, serial.out, serial.err)


@pytest.mark.parametrize("jobs", ["0", "-1", "two", "1.5", ""])
def test_jobs_must_be_a_positive_number(cli_process, mixed, jobs):
    result = cli_process("check", "--isolated", f"--jobs={jobs}", mixed)
    assert result.code == 2
    assert f"argument --jobs/-j: expected a number of processes, 1 or more, not {jobs!r}" in result.err
    assert result.out == ""


def test_more_jobs_than_files_is_fine(cli_process, mixed):
    assert run(cli_process, None, "-j", "64", mixed / "fw0") == run(cli_process, None, "-j", "1", mixed / "fw0")


@pytest.fixture
def hanging_run(env, probes):
    """``check -j 2`` in a process group of its own, once one worker is busy for ten minutes
    and the other waits for work: ``(process, worker pids)``."""
    tree = probes(16)
    (tree / "01.probe").write_text("hang\n")
    (tree / "02.probe").write_text("\n")  # the smallest: linted before the workers fork
    proc = subprocess.Popen([sys.executable, "-m", "portlint", "check", "--isolated", "-j", "2", tree],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, **env})
    try:
        deadline = time.monotonic() + 60
        while len(workers := children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(workers) == 2
        time.sleep(1)  # the other files are linted by then
        yield proc, workers
    finally:
        with contextlib.suppress(ProcessLookupError):  # what is left of the group if the test failed
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds the workers in /proc")
def test_ctrl_c_stops_the_workers_at_once_and_quietly(hanging_run):
    """Ctrl-C sends SIGINT to the whole process group: the run exits 130 at once, without a
    traceback from any process, and leaves no worker behind."""
    proc, workers = hanging_run
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.decode() == "" and out.decode() == ""
    time.sleep(0.2)
    assert not [pid for pid in workers if alive(pid)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux tells workers of their parent's death")
@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL])
def test_workers_end_with_the_main_process_however_it_ends(hanging_run, kill):
    """A CI timeout or the OOM killer ends the main process alone: its workers follow, instead
    of waiting for work forever and keeping the output pipes open."""
    proc, workers = hanging_run
    os.kill(proc.pid, kill)
    proc.communicate(timeout=30)  # returns once no worker holds the pipes any more
    assert proc.returncode == -kill
    deadline = time.monotonic() + 10
    while [pid for pid in workers if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if alive(pid)]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that does not reap (pid 1 of a container)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(cpu_count() < 2, reason="one processor: every run is serial by default")
def test_the_rest_of_the_project_is_read_by_workers_too(cli_process, env, tmp_path):
    """A pre-commit run names one compose file; the project's other files (its firewalls) are
    read for the cross-file rules, by the workers when they are worth it, with the same report."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(name="web", port=2375))
    (tmp_path / "rules.v4").write_text(FIREWALL)
    log = tmp_path / "parsed.log"
    for i in range(8):
        (tmp_path / f"side{i}.probe").write_text(f"record {log}\n" + "x" * (PARALLEL_FROM_BYTES // 4))
    reports = {}
    for jobs in ("1", "2", None):
        log.unlink(missing_ok=True)
        args = ["check", "--output-format", "json", "compose.yaml"] + (["-j", jobs] if jobs else [])
        result = cli_process(*args, cwd=tmp_path, env=env)
        reports[jobs] = (result.code, result.out, result.err)
        parsers = sorted(log.read_text().split())
        assert parsers == (8 * ["main"] if jobs == "1" else ["main"] + 7 * ["worker"]), jobs
    assert reports["1"] == reports["2"] == reports[None]
    assert reports["1"][0] == 1 and '"PL501"' in reports["1"][1]  # the firewall beside it was read


def test_stopping_uses_the_public_way_where_python_has_one():
    """Python 3.14 gives ProcessPoolExecutor.terminate_workers; before it, the workers are
    terminated one by one."""
    from portlint import parallel

    class Executor:
        def __init__(self, public: bool) -> None:
            self.calls = []
            self._processes = {1: self}
            if public:
                self.terminate_workers = lambda: self.calls.append("terminate_workers")

        def terminate(self) -> None:
            self.calls.append("terminate")

    for public, expected in ((True, ["terminate_workers"]), (False, ["terminate"])):
        executor = Executor(public)
        parallel._stop_now(executor)
        assert executor.calls == expected
