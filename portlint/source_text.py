"""A linted file's text: decoded as every parser expects it, and held compressed when it is big.

Every file is UTF-8 to portlint (a UTF-8 or UTF-16 byte-order mark is honoured and dropped) and
its line endings are made ``\n`` (CRLF and lone CR alike: lines and columns do not move). A file
above :data:`PACK_ABOVE` whose parser reads text a block at a time is never held whole: its
blocks are decoded as they are read and kept compressed (a 100 MB iptables-save dump takes
18 MiB), for the excerpts of its findings and its inline directives.
"""
from __future__ import annotations

import codecs
import zlib
from array import array
from bisect import bisect_right
from typing import BinaryIO, Iterable, Iterator

from .discovery import open_regular
from .model import Diagnostic, Location, line_starts, line_text
from .parsers.common import PARSE_ERROR

#: Files bigger than this are read a block at a time by parsers that can (``reads_blocks``).
PACK_ABOVE = 16 << 20
#: Bytes read at a time; a block ends at the last line break of what was read.
BLOCK = 1 << 20


def read_text(path: str) -> tuple[str, Diagnostic | None]:
    """The file's text; bytes that are not UTF-8 are replaced and reported as a parse error."""
    with open_regular(path) as fh:
        data = fh.read()
    return decode(data, path)


def decode(data: bytes, path: str) -> tuple[str, Diagnostic | None]:
    """The text of a file's bytes. Bytes that are not UTF-8 are replaced and reported as a parse
    error at their position."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _newlines(data.decode("utf-16")), None
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: read it as UTF-8 below and report the bad bytes
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return _newlines(data.decode("utf-8")), None
    except UnicodeDecodeError as exc:
        return _newlines(data.decode("utf-8", errors="replace")), _bad_byte(data, exc.start, path)


def _bad_byte(data: bytes, at: int, path: str, lines_before: int = 0) -> Diagnostic:
    before = data[:at]
    line = lines_before + before.count(b"\n") + 1
    column = at - (before.rfind(b"\n") + 1) + 1
    return Diagnostic(PARSE_ERROR, f"invalid UTF-8 byte 0x{data[at]:02x}; the file must be UTF-8 text",
                      Location(path, line, column, line, column + 1))


def _newlines(text: str) -> str:
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


class UnreadableText(OSError):
    """Reading a packed text's file failed while it was parsed: the file cannot be read, which
    is no parser's fault."""


class PackedText:
    """A big file's text, read once a block of whole lines at a time by :meth:`blocks` and then
    held compressed; :meth:`line` gives a line back (decompressing its block), :meth:`lines`
    every line, ``str()`` the whole text."""

    def __init__(self, path: str, file: BinaryIO) -> None:
        self.path = path
        #: The first invalid UTF-8 byte, found while reading (None until then, or if none).
        self.decode_error: Diagnostic | None = None
        self._file: BinaryIO | None = file  # open already: a file that cannot be read is no parse error
        self._packed: list[bytes] = []
        self._first_lines = array("L")  # each block's first line number (1-based)
        self._unpacked: tuple[int, str, array | None] = (-1, "", None)  # the block last asked for

    @classmethod
    def open(cls, path: str) -> PackedText:
        return cls(path, open_regular(path))

    def blocks(self) -> Iterator[str]:
        """The text of the file, a block at a time, each kept compressed as it goes by; each
        block but the last ends with ``\n``. Read once."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: a packed text is read once")
        lines = 1
        with self._file as file:
            self._file = None
            for block in self._read(file):
                self._packed.append(zlib.compress(block.encode("utf-8", "surrogatepass"), 1))
                self._first_lines.append(lines)
                lines += len(line_starts(block)) - 1  # its line breaks, as Document.line_text counts them
                yield block

    def _read(self, file: BinaryIO) -> Iterator[str]:
        """The decoded blocks; a failed read is the file's (UnreadableText), not the parser's."""
        try:
            yield from self._decoded(file)
        except OSError as exc:
            raise UnreadableText(exc.errno, exc.strerror or str(exc), self.path) from exc

    def _decoded(self, file: BinaryIO) -> Iterator[str]:
        """The file's blocks, decoded as :func:`decode` decodes a whole file. A UTF-16 file (a
        byte-order mark says so) is decoded whole: its line breaks are two bytes."""
        head = file.peek(len(codecs.BOM_UTF8))[:len(codecs.BOM_UTF8)]
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text, self.decode_error = decode(file.read(), self.path)
            yield text
            return
        if head == codecs.BOM_UTF8:
            file.read(len(codecs.BOM_UTF8))
        lines = 0
        while True:
            data = b"".join(file.readlines(BLOCK))  # whole lines (the last may have no break)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                if self.decode_error is None:
                    self.decode_error = _bad_byte(data, exc.start, self.path, lines)
                text = data.decode("utf-8", errors="replace")
            lines += data.count(b"\n")
            yield _newlines(text)
            if not data.endswith(b"\n"):
                return

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) without its line break; "" when out of range."""
        index = bisect_right(self._first_lines, number) - 1
        if index < 0:
            return ""
        if self._unpacked[0] != index:
            self._unpacked = (index, zlib.decompress(self._packed[index]).decode("utf-8", "surrogatepass"), None)
        _, text, starts = self._unpacked
        if starts is None:
            starts = line_starts(text)
            self._unpacked = (index, text, starts)
        last_block = index == len(self._packed) - 1
        within = number - self._first_lines[index]
        if within >= len(starts) - (0 if last_block else 1):
            return ""
        return line_text(text, starts, within + 1)

    def lines(self) -> Iterator[str]:
        """Every line, as ``str.splitlines`` would split the whole text."""
        for packed in self._packed:
            yield from zlib.decompress(packed).decode("utf-8", "surrogatepass").splitlines()

    def __contains__(self, text: str) -> bool:
        """Whether ``text`` (no line break in it) is in the file."""
        return any(text in zlib.decompress(packed).decode("utf-8", "surrogatepass") for packed in self._packed)

    def __str__(self) -> str:
        return "".join(zlib.decompress(packed).decode("utf-8", "surrogatepass") for packed in self._packed)


def text_lines(text: str | PackedText) -> Iterable[str]:
    """The lines of a document's text, however it is held."""
    return text.splitlines() if isinstance(text, str) else text.lines()
