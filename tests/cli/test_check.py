"""``portlint [check]`` through the real CLI: exit codes, selection, inputs and outputs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLEAN = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n"
TELNET = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\nCOMMIT\n"
BROKEN = "*filter\n-A INPUT -p tcp --dport 70000 -j ACCEPT\nnot a rule\nCOMMIT\n"


@pytest.fixture
def tree(tmp_path):
    def make(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return tmp_path
    return make


def test_clean_file_exits_0(cli, tree):
    root = tree({"rules.v4": CLEAN})
    result = cli(root / "rules.v4")
    assert result.code == 0
    assert result.out == "No findings in 1 file.\n"


def test_text_output_shows_the_line_and_a_caret(cli, tree):
    root = tree({"rules.v4": TELNET})
    result = cli("check", root / "rules.v4")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == (f"{root / 'rules.v4'}:3:32: PL201 [warning] 23/tcp (telnet, cleartext) "
                        "accepted from any source on INPUT; use SSH (22/tcp) instead")
    assert lines[1] == "    -A INPUT -p tcp -m tcp --dport 23 -j ACCEPT"
    assert lines[2] == "    " + " " * 31 + "^^"
    assert lines[-1] == "Found 1 finding in 1 file: 1 warning."


def test_text_output_of_a_long_line_shows_a_window_around_each_finding(cli, tree):
    """A set of 3,000 ports on one line (21 KB) gives a finding per ephemeral port: each excerpt
    shows the part of the line around its port, where the whole line would make the report
    quadratic in the line's length."""
    ports = ", ".join(str(port) for port in range(49152, 52152))
    root = tree({"long.nft": "table inet f {\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
                             f"    tcp dport {{ {ports} }} accept\n  }}\n}}\n"})
    result = cli("check", "--select", "PL301", root / "long.nft")
    lines = result.out.splitlines()
    findings = [i for i, line in enumerate(lines) if ": PL301 " in line]
    assert len(findings) == 3000 and len(result.out) < 600 * len(findings)
    for i in findings:
        column = int(lines[i].split(":")[2])
        port = lines[i].split("[warning] ")[1].split("/")[0]
        excerpt, caret = lines[i + 1][4:], lines[i + 2][4:]
        assert len(excerpt) <= 166 and excerpt.startswith("...") == (column > 61)
        at = caret.index("^")
        assert excerpt[at:at + len(port)] == port and caret[at:] == "^" * len(port)


def test_text_output_shows_control_characters_as_pictures(cli, tree):
    """A linted file is untrusted: escape sequences in it (or in a name a message quotes) are
    shown as control pictures, one column each, never sent to the reader's terminal."""
    root = tree({"rules.v4": '*filter\n-A INPUT -m comment --comment "\x1b[31m\x1b]0;x\x07\x9b" -p tcp --dport 23 -j ACCEPT\n'
                             "COMMIT\n", "esc\x1bape.rules": TELNET})
    result = cli("check", root / "rules.v4", root / "esc\x1bape.rules")
    assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in result.out)
    lines = result.out.splitlines()
    assert "esc\u241bape.rules:3:32: PL201" in lines[0]
    assert lines[4] == '    -A INPUT -m comment --comment "\u241b[31m\u241b]0;x\u2407\ufffd" -p tcp --dport 23 -j ACCEPT'
    assert lines[4][lines[5].index("^"):][:2] == "23"


@pytest.mark.parametrize("command", ["check", "ports", "exposure"])
def test_every_text_output_shows_control_characters_as_pictures(cli, tree, monkeypatch, command):
    root = tree({"compose.yaml": 'services:\n  "we\\eb\\x9b":\n    image: x\n    ports: ["2323:23"]\n'})
    monkeypatch.chdir(root)
    out = cli(command, "compose.yaml").out
    assert "we\u241bb\ufffd" in out
    assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) < 0xa0 for c in out)


def test_messages_on_standard_error_show_control_characters_as_pictures(cli, tree):
    root = tree({"x\x1b[31m.rules": "\x00\x01 not text"})
    result = cli("check", root / "x\x1b[31m.rules")
    assert result.code == 2 and "x\u241b[31m.rules: not a format portlint reads" in result.err
    assert "\x1b" not in result.err


def test_json_output(cli, tree):
    root = tree({"rules.v4": TELNET})
    (finding,) = cli(root / "rules.v4", "--output-format", "json").json()
    assert finding["code"] == "PL201" and finding["name"] == "cleartext-service"
    assert finding["severity"] == "warning"
    assert (finding["line"], finding["column"], finding["end_line"], finding["end_column"]) == (3, 32, 3, 34)
    assert finding["path"] == str(root / "rules.v4")
    assert len(finding["fingerprint"]) == 32


def test_fail_on_and_exit_zero(cli, tree):
    root = tree({"rules.v4": TELNET})
    assert cli(root / "rules.v4", "--fail-on", "error").code == 0
    assert cli(root / "rules.v4", "--fail-on", "info").code == 1
    assert cli(root / "rules.v4", "--exit-zero").code == 0


def test_exit_zero_never_hides_exit_2(cli, tree):
    root = tree({"rules.v4": TELNET})
    result = cli(root / "rules.v4", root / "missing.rules", "--exit-zero")
    assert result.code == 2
    assert "missing.rules: no such file or directory" in result.err
    assert "PL201" in result.out  # the readable file was still linted


@pytest.mark.parametrize("selector,codes", [
    (["--select", "PL201"], ["PL201"]),
    (["--select", "cleartext-service"], ["PL201"]),
    (["--select", "PL2,PL1"], ["PL201", "PL102"]),
    (["--select", "PL1", "--select", "PL2"], ["PL201", "PL102"]),
    (["--ignore", "PL201"], ["PL102"]),
    (["--ignore", "PL"], []),
    (["--select", "ALL", "--ignore", "unassigned-port"], ["PL201"]),
])
def test_select_and_ignore(cli, tree, selector, codes):
    root = tree({"rules.v4": TELNET.replace("--dport 23", "-m multiport --dports 23,4")})
    findings = cli(root / "rules.v4", "--output-format", "json", *selector).json()
    assert sorted(f["code"] for f in findings) == sorted(codes)


def test_unknown_selector_is_a_usage_error(cli, tree):
    root = tree({"rules.v4": CLEAN})
    result = cli(root / "rules.v4", "--select", "PL9")
    assert result.code == 2
    assert "unknown rule selector 'PL9'" in result.err


def test_parse_errors_are_findings_and_the_other_files_are_linted(cli, tree):
    root = tree({"a/rules.v4": BROKEN, "b/rules.v4": TELNET})
    findings = cli(root, "--output-format", "json").json()
    assert [(Path(f["path"]).parent.name, f["line"], f["code"]) for f in findings] == [
        ("a", 2, "PL002"), ("a", 3, "PL001"), ("b", 3, "PL201")]


def test_directories_are_walked_and_files_recognised_by_content(cli, tree):
    root = tree({
        "etc/iptables/rules.v4": TELNET,
        "firewall/saved-by-cron": TELNET,  # no telling name: recognised by content
        "README.md": "# docs\n",
        "udev/70-net.rules": 'SUBSYSTEM=="net", ACTION=="add"\n',
        ".git/rules.v4": TELNET,
        "node_modules/x/rules.v4": TELNET,
    })
    result = cli(root, "--output-format", "json")
    paths = sorted(os.path.relpath(f["path"], root) for f in result.json())
    assert paths == ["etc/iptables/rules.v4", "firewall/saved-by-cron"]


def test_an_explicit_file_of_unknown_format_is_an_error(cli, tree):
    root = tree({"notes.txt": "hello\n"})
    result = cli(root / "notes.txt")
    assert result.code == 2
    assert "not a format portlint reads" in result.err
    forced = cli(root / "notes.txt", "--format", "iptables")
    assert forced.code == 1 and "PL001" in forced.out


def test_unknown_forced_format(cli, tree):
    root = tree({"rules.v4": CLEAN})
    result = cli(root / "rules.v4", "--format", "pf")
    assert result.code == 2 and "--format 'pf'" in result.err


def test_stdin_with_a_filename(cli):
    result = cli("-", "--stdin-filename", "rules.v4", stdin=TELNET)
    assert result.code == 1
    assert result.out.startswith("rules.v4:3:32: PL201")


def test_stdin_format_by_content_or_flag(cli):
    assert cli("-", stdin=TELNET).out.startswith("-:3:32: PL201")
    result = cli("-", stdin="hello\n")
    assert result.code == 2 and "cannot tell the format of standard input" in result.err


def test_invalid_utf8_is_a_parse_error_and_the_rest_is_read(cli, tree, tmp_path):
    path = tmp_path / "rules.v4"
    path.write_bytes(TELNET.replace("ACCEPT", "ACCEPT", 1).encode().replace(b":INPUT DROP", b":INPUT DROP \xff"))
    findings = cli(path, "--output-format", "json").json()
    assert [(f["code"], f["line"]) for f in findings][:1] == [("PL001", 2)]
    assert "invalid UTF-8" in findings[0]["message"]
    assert any(f["code"] == "PL201" for f in findings)


def test_output_file(cli, tree, tmp_path):
    root = tree({"rules.v4": TELNET})
    out = tmp_path / "report.json"
    result = cli(root / "rules.v4", "--output-format", "json", "--output-file", out)
    assert result.out == "" and result.code == 1
    assert "PL201" in out.read_text()


def test_unknown_output_format(cli, tree):
    root = tree({"rules.v4": CLEAN})
    result = cli(root / "rules.v4", "--output-format", "xml")
    assert result.code == 2 and "known formats are" in result.err


def test_ephemeral_range_presets_and_ranges(cli, tree):
    root = tree({"rules.v4": CLEAN.replace("--dport 22", "--dport 40000")})
    assert cli(root / "rules.v4", "--select", "PL301").code == 0
    assert cli(root / "rules.v4", "--select", "PL301", "--ephemeral-range", "linux").code == 1
    assert cli(root / "rules.v4", "--select", "PL301", "--ephemeral-range", "39000-41000").code == 1
    bad = cli(root / "rules.v4", "--ephemeral-range", "solaris")
    assert bad.code == 2 and "unknown ephemeral-range preset 'solaris'" in bad.err


def test_no_paths_is_a_usage_error(cli):
    result = cli("check")
    assert result.code == 2 and "no paths given" in result.err


def test_process_exit_codes_and_no_traceback(cli_process, tree):
    root = tree({"rules.v4": TELNET, "clean.rules": CLEAN, "broken.rules": BROKEN})
    assert cli_process(root / "clean.rules").code == 0
    assert cli_process(root / "rules.v4").code == 1
    broken = cli_process(root / "broken.rules")
    assert broken.code == 1 and "Traceback" not in broken.out + broken.err
    assert cli_process(root / "nope").code == 2
    assert cli_process("--version").out.startswith("portlint ")
