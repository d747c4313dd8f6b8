"""Diagnostics: what is wrong with a spec, where, and what to write instead.

In: a code (stable, listed in docs/errors.md), a message, a span, optional notes and a
hint. Out: `Diagnostic` values, `SpecError` carrying a list of them, and `render()` that
prints `FILE:LINE:COL: error[E0xx]: MESSAGE`, the source line, a caret under the span and
the hint. Rendering never raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from checker.source import SourceFile, Span


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    hint: str | None = None
    notes: tuple[Note, ...] = field(default=())
    severity: str = "error"  # "error" | "warning"


class SpecError(Exception):
    """A spec could not be accepted; carries every diagnostic found (errors first)."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__("; ".join(f"{d.span}: {d.code} {d.message}" for d in self.diagnostics))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate to a misspelt `name`, if any is close."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f"did you mean `{close[0]}`?" if close else None


def render(diag: Diagnostic, source: SourceFile | None, color: bool = False) -> str:
    """Render one diagnostic the way compilers do: location, message, line, caret, hint."""
    red, blue, bold, reset = ("\x1b[31m", "\x1b[34m", "\x1b[1m", "\x1b[0m") if color else ("",) * 4
    if diag.severity == "warning":
        red = "\x1b[33m" if color else ""
    sp = diag.span
    out = [f"{bold}{sp.path}:{sp.line}:{sp.col}: {red}{diag.severity}[{diag.code}]{reset}{bold}: {diag.message}{reset}"]
    out.extend(_excerpt(sp, source, blue, red, reset))
    for note in diag.notes:
        if note.span is not None:
            out.append(f"  {blue}note{reset}: {note.message} ({note.span.path}:{note.span.line}:{note.span.col})")
            out.extend(_excerpt(note.span, source if source and source.path == note.span.path else None, blue, blue, reset))
        else:
            out.append(f"  {blue}note{reset}: {note.message}")
    if diag.hint:
        out.append(f"  {blue}hint{reset}: {diag.hint}")
    return "\n".join(out)


def _excerpt(sp: Span, source: SourceFile | None, blue: str, mark: str, reset: str) -> list[str]:
    if source is None or sp.line < 1 or sp.line > max(source.line_count, 1):
        return []
    text = source.line(sp.line).replace("\t", " ")
    width = len(str(sp.line))
    start = max(sp.col - 1, 0)
    end = sp.end_col - 1 if sp.end_line == sp.line else len(text)
    end = max(end, start + 1)
    caret = " " * start + "^" * max(min(end, max(len(text), start + 1)) - start, 1)
    return [
        f"{blue}{' ' * width} |{reset}",
        f"{blue}{sp.line} |{reset} {text}",
        f"{blue}{' ' * width} |{reset} {mark}{caret}{reset}",
    ]
