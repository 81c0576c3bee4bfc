"""The elements of an nftables set or map, held packed until the end of the file.

A rule that looks a set or map up waits for the end of the file, since elements may still be
added, and so do the elements. Parsed, an element of kube-proxy's service map
(``172.30.0.1 . tcp . 80 : goto service-...``) is its lark tokens and syntax nodes, 1.4 KB: 140
MiB for a 100 MB ruleset of 100,000 services. Pickled and compressed a batch at a time, it takes
about 70 bytes, and is read back each time a rule asks (7 us to pack, 8 us to read).
"""
from __future__ import annotations

import io
import pickle
import zlib
from typing import Any, Iterable, Iterator

from lark import Token

from .nftables_syntax import PlainSet

#: One element: its key and value (None in a set), with their variables bound, and its file.
Element = tuple[Any, Any, str]


class PackedElements:
    """The elements added to a set or map, in order: each batch of ``BATCH`` is pickled and
    compressed once complete. A big set of plain elements (a PlainSet, which refers to the whole
    text it is written in) is kept as it is."""

    BATCH = 256

    __slots__ = ("_packed", "_kept", "_batch")

    def __init__(self, elements: Iterable[Element] = ()) -> None:
        self._packed: list[bytes | list[Element]] = []
        self._kept: list[PlainSet] = []  # the packed batches refer to them by index
        self._batch: list[Element] = []
        for element in elements:
            self.append(element)

    def append(self, element: Element) -> None:
        self._batch.append(element)
        if len(self._batch) >= self.BATCH:
            self._packed.append(self._pack(self._batch))
            self._batch = []

    def _pack(self, batch: list[Element]) -> bytes | list[Element]:
        """The batch pickled and compressed; itself when an element nests deeper than pickle
        follows (an element in 200 parentheses, which the grammar reads)."""
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, self._kept).dump(batch)
        except RecursionError:
            return batch
        return zlib.compress(buffer.getvalue(), 1)

    def __iter__(self) -> Iterator[Element]:
        for packed in self._packed:
            if isinstance(packed, list):
                yield from packed
            else:
                yield from _Unpickler(io.BytesIO(zlib.decompress(packed)), self._kept).load()
        yield from list(self._batch)

    def __bool__(self) -> bool:
        return bool(self._packed or self._batch)


class _Pickler(pickle.Pickler):
    def __init__(self, file, kept: list[PlainSet]) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.kept = kept

    def persistent_id(self, obj) -> int | None:
        if type(obj) is PlainSet:
            self.kept.append(obj)
            return len(self.kept) - 1
        return None

    def reducer_override(self, obj):
        """A lark Token with every position: its own pickling drops where it ends."""
        if isinstance(obj, Token):
            return Token, (obj.type, obj.value, obj.start_pos, obj.line, obj.column, obj.end_line, obj.end_column,
                           obj.end_pos)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, kept: list[PlainSet]) -> None:
        super().__init__(file)
        self.kept = kept

    def persistent_load(self, index: int) -> PlainSet:
        return self.kept[index]
