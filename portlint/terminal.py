"""Text written for people, who read it in a terminal: what the linted files put in it must not
drive that terminal."""
from __future__ import annotations

#: Control characters shown as their pictures (one column each, so carets and table columns stay
#: in place): an escape sequence in a linted file, or in a name taken from one, could recolour,
#: retitle or worse the terminal of whoever reads the output. Tabs and line breaks are left to
#: the text around them; C1 controls become U+FFFD.
_PICTURES = str.maketrans({**{chr(c): chr(0x2400 + c) for c in range(32) if chr(c) not in "\t\n"},
                           "\x7f": "\u2421", **{chr(c): "\ufffd" for c in range(0x80, 0xa0)}})


def visible(text: str) -> str:
    """``text`` with its control characters shown as pictures (``\\x1b`` as ``␛``)."""
    return text.translate(_PICTURES)
