"""Text from artifacts, images, results and checkpoints made safe to show: one helper per medium.

Everything a contract, a file name, a bench result or a label says is data. Printed raw, an ANSI/OSC escape
in a label can rewrite the terminal (colours, the window title, hyperlinks, clearing the screen), a `[/]` in
a model name breaks rich markup, and a `$...$` in a model name turns into (or breaks) matplotlib mathtext.
`terminal_safe` is used for every string shown in a terminal (rich `Text` cells, titles, error lines);
`plot_safe` for every string drawn by matplotlib. Rich markup is never parsed in such strings: callers wrap
them in `rich.text.Text` (or `rich.markup.escape` where a markup string is built).
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls (ESC, BEL, backspace, CR, ... but not tab/newline, handled below), DEL, C1 controls (0x80-0x9f,
# including the 8-bit CSI and OSC), and the bidirectional overrides/isolates that reorder what is shown.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def terminal_safe(value: Any, *, one_line: bool = True) -> str:
    """`str(value)` with control characters shown as `\\x1b`-style escapes (so nothing reaches the terminal
    as a command); newlines and tabs become spaces when `one_line` (table cells, error lines)."""
    text = _UNSAFE.sub(_escape, str(value))
    if one_line:
        text = text.replace("\n", " ").replace("\t", " ")
    return text


def plot_safe(value: Any) -> str:
    """`terminal_safe`, and `$` escaped so matplotlib draws it literally instead of parsing mathtext."""
    return terminal_safe(value).replace("$", r"\$")
