"""``--skip-unknown``: files named on the command line that are of no format portlint reads are
skipped, as in folders, instead of failing the run (what the pre-commit hook passes)."""
from __future__ import annotations

TELNET = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\nCOMMIT\n"


def test_unknown_named_files_are_an_error_without_it(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("deploy on Tuesdays\n")
    result = cli("check", tmp_path / "notes.txt")
    assert result.code == 2
    assert "notes.txt: not a format portlint reads" in result.err


def test_unknown_named_files_are_skipped_with_it(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("deploy on Tuesdays\n")
    (tmp_path / "99-usb.rules").write_text('SUBSYSTEM=="usb", MODE="0660"\n')
    (tmp_path / "rules.v4").write_text(TELNET)
    paths = [tmp_path / "notes.txt", tmp_path / "99-usb.rules", tmp_path / "rules.v4"]
    result = cli("check", "--skip-unknown", *paths)
    assert result.code == 1, result.err
    assert result.err == ""
    assert "rules.v4:3:32: PL201" in result.out
    assert result.out.endswith("Found 1 finding in 1 file: 1 warning.\n")


def test_only_unknown_files_is_a_clean_run(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("deploy on Tuesdays\n")
    result = cli("check", "--skip-unknown", tmp_path / "notes.txt")
    assert (result.code, result.out, result.err) == (0, "No findings in 0 files.\n", "")


def test_it_skips_standard_input_of_unknown_format(cli):
    assert cli("check", "-", stdin="deploy on Tuesdays\n").code == 2
    result = cli("check", "--skip-unknown", "-", "--stdin-filename", "notes.txt", stdin="deploy on Tuesdays\n")
    assert (result.code, result.err) == (0, "")


def test_it_does_not_hide_missing_files(cli, tmp_path):
    result = cli("check", "--skip-unknown", tmp_path / "missing.rules")
    assert result.code == 2
    assert "missing.rules: no such file or directory" in result.err


def test_ports_takes_it_too(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("deploy on Tuesdays\n")
    (tmp_path / "rules.v4").write_text(TELNET)
    result = cli("ports", "--skip-unknown", "--output-format", "json", tmp_path / "notes.txt", tmp_path / "rules.v4")
    assert result.code == 0, result.err
    assert [r["dport"] for r in result.json()] == [[[23, 23]]]
