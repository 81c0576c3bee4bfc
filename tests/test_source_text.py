"""A big file's text read a block at a time and held compressed must read as the whole file
does: the same text, decoding error, lines and parse."""
from __future__ import annotations

import codecs
import errno
import random

import pytest

from portlint import linter, source_text
from portlint.model import Document
from portlint.parsers.iptables import IptablesParser
from portlint.source_text import PackedText

PIECES = [b"a", b" ", b"\n", b"\r", b"\r\n", b"\x0c", "\u00e9".encode(), "\u2028".encode(), b"\xff", b"\xe9",
          b"-A INPUT -j ACCEPT"]


def packed_and_whole(path, data: bytes) -> tuple[PackedText, str, object]:
    path.write_bytes(data)
    text, error = source_text.decode(data, str(path))
    packed = PackedText.open(str(path))
    assert "".join(packed.blocks()) == text
    assert packed.decode_error == error
    return packed, text, error


@pytest.mark.parametrize("block", [1, 5, 64, 1 << 20])
def test_a_packed_text_reads_as_the_whole_file_does(tmp_path, monkeypatch, block):
    monkeypatch.setattr(source_text, "BLOCK", block)
    rng = random.Random(block)
    for case in range(400):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        if case % 5 == 0:
            data = codecs.BOM_UTF8 + data
        packed, text, _ = packed_and_whole(tmp_path / f"f{case}", data)
        assert str(packed) == text and list(packed.lines()) == text.splitlines()
        assert ("A IN" in packed) == ("A IN" in text)
        whole = Document("f", "iptables", text)
        for number in range(-1, len(text.splitlines()) + 3):
            assert packed.line(number) == whole.line_text(number), (data, number)


def test_a_utf16_file_is_decoded_whole(tmp_path):
    data = "\ufeff*filter\r\n-A INPUT -j ACCEPT\r\n".encode("utf-16-le")
    packed, text, error = packed_and_whole(tmp_path / "rules.v4", data)
    assert text == "*filter\n-A INPUT -j ACCEPT\n" and error is None
    assert packed.line(2) == "-A INPUT -j ACCEPT"


def test_a_packed_text_is_read_once(tmp_path):
    packed, _, _ = packed_and_whole(tmp_path / "rules.v4", b"*filter\n")
    with pytest.raises(RuntimeError):
        list(packed.blocks())


def test_an_iptables_dump_parses_the_same_a_block_at_a_time(shared, tmp_path, monkeypatch):
    monkeypatch.setattr(source_text, "BLOCK", 512)
    files = sorted(p for p in (shared / "corpus" / "iptables").rglob("*") if p.is_file())
    bad_byte = tmp_path / "bad.rules"
    bad_byte.write_bytes(b"*filter\n:INPUT DROP [0:0]\n" + b"-A INPUT -p tcp --dport 23 -j ACCEPT\n" * 40
                         + b"-A INPUT -m comment --comment \"\xff\" -j DROP\n" + b"x\n" * 300)
    assert files
    for path in [*files, bad_byte]:
        text, error = linter.read_text(str(path))
        whole = IptablesParser().parse(text, str(path))
        packed = PackedText.open(str(path))
        by_blocks = IptablesParser().parse(packed, str(path))
        assert packed.decode_error == error
        assert by_blocks.diagnostics == whole.diagnostics
        assert by_blocks.policies == whole.policies
        assert by_blocks.declarations == whole.declarations
        assert all(by_blocks.line_text(n) == whole.line_text(n) for n in range(len(text.splitlines()) + 2))


def test_the_cli_reports_a_packed_file_as_a_whole_one(cli, tmp_path, monkeypatch):
    """Findings, excerpts, the decoding error and inline directives of a file read a block at a
    time are those of the file read whole."""
    path = tmp_path / "rules.v4"
    path.write_bytes(b"*filter\n:INPUT DROP [0:0]\n" + b"# filler\n" * 500
                     + b"-A INPUT -p tcp --dport 23 -j ACCEPT\n"
                     + b"# portlint: ignore[PL201] -- the old ftp box\n"
                     + b"-A INPUT -p tcp --dport 21 -j ACCEPT\n"
                     + b"-A INPUT -m comment --comment \"\xff\" -j DROP\nCOMMIT\n")
    whole = cli("check", "--isolated", path)
    monkeypatch.setattr(source_text, "BLOCK", 256)
    monkeypatch.setattr(linter, "PACK_ABOVE", 0)
    packed = cli("check", "--isolated", path)
    assert "PL001" in whole.out and "PL201" in whole.out and "^" in whole.out and ":504:" not in whole.out
    assert (packed.code, packed.out) == (whole.code, whole.out)


def test_the_family_is_told_from_the_same_text_whatever_the_blocks(tmp_path, monkeypatch):
    # Found by fuzzing reads in blocks: the family was told from the first block alone, so an
    # IPv6 address past it made a dump ip6 read whole and ip read in small blocks.
    monkeypatch.setattr(source_text, "BLOCK", 16)
    path = tmp_path / "rules"
    path.write_text("*filter\n:INPUT DROP [0:0]\n" + "-A INPUT -i lo -j ACCEPT\n" * 20
                    + "-A INPUT -s fe80::/10 -j ACCEPT\nCOMMIT\n")
    whole = IptablesParser().parse(path.read_text(), str(path))
    in_blocks = IptablesParser().parse(PackedText.open(str(path)), str(path))
    assert {r.family for r in in_blocks.declarations} == {r.family for r in whole.declarations} == {"ip6"}


def test_a_file_that_fails_while_it_is_read_in_blocks_cannot_be_read(cli, tmp_path, monkeypatch):
    """A read error met while the parser reads blocks is the file's, not the parser's: the run
    says the file cannot be read, lints the others and exits 2, as for a file that fails at once."""
    def failing(self, file):
        yield "*filter\n"
        raise OSError(errno.EIO, "Input/output error")

    broken, good = tmp_path / "broken.rules", tmp_path / "good.rules"
    for path in (broken, good):
        path.write_text("*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 23 -j ACCEPT\nCOMMIT\n")
    monkeypatch.setattr(linter, "PACK_ABOVE", 0)
    decoded = PackedText._decoded
    monkeypatch.setattr(PackedText, "_decoded", lambda self, file: failing(self, file) if "broken" in self.path
                        else decoded(self, file))
    result = cli("check", "--isolated", broken, good)
    assert result.code == 2
    assert f"{broken}: cannot read: Input/output error" in result.err and "Traceback" not in result.err
    assert "PL000" not in result.out and f"{good}:3:" in result.out and str(broken) + ":" not in result.out
