"""Hostile file systems through the command line: a folder where a file belongs, devices and
symlinks to them, files that change between listing and reading. Each ends in a clear message
or finding, never a traceback and never a hang, and the rest of the run is still linted."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest


def mknod(path, kind, device) -> None:
    try:
        os.mknod(path, kind | 0o600, device)
    except PermissionError:
        pytest.skip("creating a device node needs root")


@pytest.mark.parametrize("option,message", [
    ("--config", "cannot read: Is a directory"),
    ("--baseline", "cannot read: Is a directory"),
    ("--output-file", "cannot write: Is a directory"),
    ("--write-baseline", "cannot write: Is a directory"),
])
def test_a_folder_given_for_a_file_option(cli, tmp_path, good, option, message):
    """Regression: --output-file and --write-baseline of a folder were internal errors."""
    folder = tmp_path / "folder"
    folder.mkdir()
    isolated = () if option == "--config" else ("--isolated",)
    result = cli("check", *isolated, option, folder, good)
    assert result.code == 2 and result.out == ""
    assert result.err == f"portlint: error: {option} {folder}: {message}\n"


@pytest.mark.parametrize("option", ["--config", "--baseline"])
def test_a_device_given_for_a_file_option_is_never_read(run, good, option):
    """Regression: --config and --baseline read /dev/zero until memory ran out."""
    isolated = () if option == "--config" else ("--isolated",)
    result = run("check", *isolated, option, "/dev/zero", good)
    assert result.code == 2 and result.out == ""
    assert result.err == f"portlint: error: {option} /dev/zero: cannot read: not a regular file\n"


def test_format_forced_on_a_folder_skips_its_binary_files(cli, tmp_path, good):
    """Regression: `--format iptables DIR` read the images and archives in DIR as rules."""
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "saved.txt").write_text(good.read_text())
    result = cli("check", "--isolated", "--format", "iptables", "--output-format", "json", tmp_path)
    assert result.code == 1, result.err
    assert [(f["path"], f["code"]) for f in result.json()] == [(str(good), "PL201"), (str(tmp_path / "saved.txt"), "PL201")]


def test_devices_and_symlinks_to_them_are_never_read(run, tmp_path, good):
    """Found by walking, they are skipped; named, they are refused (exit 2); --format changes
    neither. The run ends, and the good file is reported."""
    tree = tmp_path / "tree"
    tree.mkdir()
    mknod(tree / "zero.rules", stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    mknod(tree / "disk.rules", stat.S_IFBLK, os.makedev(7, 0))  # /dev/loop0
    (tree / "zero.nft").symlink_to("/dev/zero")
    (tree / "random.nft").symlink_to("/dev/urandom")
    result = run("check", "--isolated", "--format", "iptables", "--output-format", "json",
                 tree, "/dev/zero", tree / "random.nft", good)
    assert result.code == 2
    assert [f["path"] for f in result.json()] == [str(good)]
    assert result.err.splitlines() == ["portlint: error: /dev/zero: not a regular file",
                                       f"portlint: error: {tree / 'random.nft'}: not a regular file"]


def test_an_nftables_include_of_a_folder_or_a_device(run, tmp_path, good):
    """nft 1.0.6 includes nothing from a folder, silently (`nft -c` accepts it): a PL006 says so."""
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "telnet.nft").write_text("add rule inet f c tcp dport 23 accept\n")
    main = tmp_path / "main.nft"
    main.write_text('include "./rules.d"\ninclude "zero"\n')
    result = run("check", "--isolated", "--include-path", "/dev", "--output-format", "json", main, good)
    assert result.code == 1
    assert [(f["path"], f["code"], f["line"], f["column"]) for f in result.json()] == [
        (str(good), "PL201", 2, 25), (str(main), "PL006", 1, 9), (str(main), "PL006", 2, 9)]
    assert [f["message"] for f in result.json()[1:]] == [
        f"include './rules.d' names the folder {tmp_path / 'rules.d'}: nft reads no file from it "
        '(include "./rules.d/*" reads its files)',
        "included file 'zero' is not a regular file (/dev/zero): it is never read"]


#: Runs portlint with files changed on disk right after the walk listed them (argv[1]), and
#: right after their format was told from their first bytes (argv[2]): what a concurrent
#: writer can do between the steps of a run.
RACE = """
import json, os, sys
import portlint.discovery
from portlint.cli import main
from portlint.linter import Linter

CHANGES = {"folder": os.mkdir, "fifo": os.mkfifo, "empty": lambda path: open(path, "w").close(),
           "shorter": lambda path: open(path, "w").write("*filter\\n")}

def then(function, changes):
    def changed(*args, **kwargs):
        result = function(*args, **kwargs)
        for path, change in changes.items():
            os.remove(path)
            CHANGES[change](path)
        return result
    return changed

portlint.discovery.walk = then(portlint.discovery.walk, json.loads(sys.argv[1]))
Linter.select_files = then(Linter.select_files, json.loads(sys.argv[2]))
sys.exit(main(sys.argv[3:]))
"""


def test_files_that_change_between_listing_and_reading(tmp_path, good):
    """Regression: a file replaced by a FIFO after it was listed blocked the run forever."""
    telnet = good.read_text()
    for name in ("folder", "fifo", "late-folder", "late-fifo", "empty", "shorter"):
        (tmp_path / f"{name}.rules").write_text(telnet)
    after_listing = {str(tmp_path / "folder.rules"): "folder", str(tmp_path / "fifo.rules"): "fifo"}
    after_detection = {str(tmp_path / f"{name}.rules"): name.replace("late-", "")
                       for name in ("late-folder", "late-fifo", "empty", "shorter")}
    proc = subprocess.run([sys.executable, "-c", RACE, json.dumps(after_listing), json.dumps(after_detection),
                           "check", "--isolated", "--output-format", "json", str(tmp_path)],
                          capture_output=True, text=True, timeout=30)
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert [(f["path"], f["code"]) for f in json.loads(proc.stdout)] == [
        (str(good), "PL201"), (str(tmp_path / "shorter.rules"), "PL001")]  # the table lost its COMMIT
    assert sorted(proc.stderr.splitlines()) == [
        f"portlint: error: {tmp_path / name}.rules: cannot read: {why}" for name, why in (
            ("fifo", "not a regular file"), ("folder", "Is a directory"),
            ("late-fifo", "not a regular file"), ("late-folder", "Is a directory"))]
