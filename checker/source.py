"""Source text and spans: everything a diagnostic or a report points back to.

In: a path and its text. Out: `SourceFile` (lines on demand) and `Span` values
(1-based line and column, end exclusive). Spans are plain data; they never take part
in equality of syntax nodes (see ast.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceFile:
    """A spec's text with the name it is reported under."""

    path: str
    text: str
    _lines: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lines", tuple(self.text.splitlines()))

    def line(self, number: int) -> str:
        """The text of 1-based line `number` ('' past the end)."""
        if 1 <= number <= len(self._lines):
            return self._lines[number - 1]
        return ""

    @property
    def line_count(self) -> int:
        return len(self._lines)


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based lines and columns, end column exclusive."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


NO_SPAN = Span("<builtin>", 0, 0, 0, 0)
