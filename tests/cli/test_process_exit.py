"""The ``portlint`` command ends its process at once after a run (no teardown): the output is
complete, the exit code is the run's, exit handlers still run, and a reader that goes away
early gets no error message."""
from __future__ import annotations

import subprocess
import sys
import textwrap

TELNET = "*filter\n-A INPUT -p tcp --dport 23 -j ACCEPT\nCOMMIT\n"


def test_output_and_exit_code_survive_the_quick_exit(tmp_path):
    rules = tmp_path / "rules.v4"
    rules.write_text(TELNET * 300)  # enough output to fill a pipe buffer
    proc = subprocess.run([sys.executable, "-m", "portlint", "--isolated", "--output-format", "json-lines", str(rules)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert len(lines) >= 300 and all(line.startswith("{") and line.endswith("}") for line in lines)


def test_exit_handlers_run(tmp_path):
    # A plugin (or anything the run imports) may register an exit handler.
    script = textwrap.dedent(f"""
        import atexit, sys
        atexit.register(lambda: open({str(tmp_path / "ran")!r}, "w").close())
        sys.argv = ["portlint", "--isolated", {str(tmp_path)!r}]
        from portlint.cli import run
        run()
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ran").exists()


def test_a_reader_that_stops_early_gets_no_error_message(tmp_path):
    rules = tmp_path / "rules.v4"
    rules.write_text(TELNET * 3000)
    proc = subprocess.Popen([sys.executable, "-m", "portlint", "--isolated", str(rules)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as `portlint ... | head -1` does
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception ignored" not in err
