"""Write every report file of a run into a directory, atomically and byte-stably.

In: a `ReportModel` and a directory. Out: `write_all(model, dir) -> [paths written]`:
report.json, report.md, report.sarif, junit.xml and traces/<property>.itf.json (one per
trace; traces/<property>.cti.itf.json for a counterexample to induction). Each file is
written to a temporary file in its own directory and moved into place with os.replace,
so a reader never sees half a file. `*.itf.json` files left in traces/ by an earlier run
whose property has no trace now are removed. Same model, same bytes (UTF-8, "\\n").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from checker.report import html, itf, json_report, junit, markdown, sarif
from checker.report.model import ReportModel


def render_all(model: ReportModel) -> dict[str, str]:
    """{relative path: text} of every report file."""
    out = {
        "report.json": json_report.render(model),
        "report.html": html.render(model),
        "report.md": markdown.render(model),
        "report.sarif": sarif.render(model),
        "junit.xml": junit.render(model),
    }
    out.update(itf.files(model))
    return out


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_all(model: ReportModel, directory: str | os.PathLike[str]) -> list[Path]:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    files = render_all(model)
    written = []
    for rel, text in files.items():
        path = root / rel
        write_atomic(path, text)
        written.append(path)
    traces = root / "traces"
    if traces.is_dir():
        keep = {root / rel for rel in files}
        for old in sorted(traces.glob("*.itf.json")):
            if old not in keep:
                old.unlink()
    return written
