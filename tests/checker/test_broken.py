"""Broken specs: every mistake is reported with the right code, place and hint, and nothing else.

Each tests/broken/*.tee states what the checker must say about it in header comments:

    // expect: E020 at 12:9          one diagnostic: code, 1-based line and column
    // hint: did you mean `rmp`?     optional: a substring of the hint of the expect line above
    // message: expected `Page`      optional: a substring of the message of the expect line above
    // set: PAGES=0                  optional: a `--set` override for this file
    // xfail: REASON                 the library check is a known checker bug (strict xfail)
    // xfail-cli: REASON             the CLI check is a known checker bug (strict xfail)

The diagnostics found must equal the expected ones exactly, as a multiset of
(code, line, col): a missing one is a missed mistake, an extra one is a cascade or a
duplicate. The CLI must exit 2, print `FILE:LINE:COL: error[EXXX]: ...`, the source line
and a caret under it for each, and never a Python traceback.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checker.cli import main
from checker.diagnostics import SpecError
from checker.pipeline import load

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "broken"
ERRORS_MD = ROOT / "docs" / "errors.md"
CHECKER = ROOT / "checker"

EXPECT_RE = re.compile(r"^//\s*expect:\s*(E\d{3})\s+at\s+(\d+):(\d+)\s*$")
HINT_RE = re.compile(r"^//\s*hint:\s*(.+?)\s*$")
MESSAGE_RE = re.compile(r"^//\s*message:\s*(.+?)\s*$")
SET_RE = re.compile(r"^//\s*set:\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?(?:0[xX][0-9a-fA-F]+|\d+))\s*$")
XFAIL_RE = re.compile(r"^//\s*xfail:\s*(.+?)\s*$")
XFAIL_CLI_RE = re.compile(r"^//\s*xfail-cli:\s*(.+?)\s*$")
HEADER_RE = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E\d{3})\]: \S")

# Codes documented in docs/errors.md that no broken spec is expected to exercise (as a
# non-xfail expectation), and why.
NOT_EXERCISED = {
    "E000": "file not found / unreadable: no .tee file can show it; see test_cli_missing_file",
    "E008": "only reachable through RecursionError; its spec (e008_nested_too_deeply) is an "
            "xfail until the checker catches deep nesting outside the parser (see its header)",
}

Key = tuple[str, int, int]


@dataclass
class Expectation:
    path: Path
    expected: list[Key] = field(default_factory=list)
    hints: dict[Key, list[str]] = field(default_factory=dict)
    messages: dict[Key, list[str]] = field(default_factory=dict)
    overrides: dict[str, int] = field(default_factory=dict)
    xfail: str | None = None
    xfail_cli: str | None = None


def parse_header(path: Path) -> Expectation:
    """Read the `// expect:` ... lines at the top of a broken spec (comments before `spec`)."""
    exp = Expectation(path)
    last: Key | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line.startswith("//"):
            if line:
                break
            continue
        if m := EXPECT_RE.match(line):
            last = (m.group(1), int(m.group(2)), int(m.group(3)))
            exp.expected.append(last)
        elif m := HINT_RE.match(line):
            assert last is not None, f"{path.name}: `// hint:` before any `// expect:`"
            exp.hints.setdefault(last, []).append(m.group(1))
        elif m := MESSAGE_RE.match(line):
            assert last is not None, f"{path.name}: `// message:` before any `// expect:`"
            exp.messages.setdefault(last, []).append(m.group(1))
        elif m := SET_RE.match(line):
            exp.overrides[m.group(1)] = int(m.group(2), 0)
        elif m := XFAIL_CLI_RE.match(line):
            exp.xfail_cli = m.group(1)
        elif m := XFAIL_RE.match(line):
            exp.xfail = m.group(1)
    return exp


BROKEN_FILES = sorted(BROKEN.glob("*.tee"))
EXPECTATIONS = [parse_header(p) for p in BROKEN_FILES]


def _params(cli: bool) -> list[object]:
    out: list[object] = []
    for e in EXPECTATIONS:
        reason = e.xfail_cli if cli else e.xfail
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(e, id=e.path.stem, marks=marks))
    return out


def _fmt(keys: list[Key]) -> str:
    return ", ".join(f"{c}@{ln}:{col}" for c, ln, col in sorted(keys)) or "(none)"


# ----------------------------------------------------------------------------- headers
def test_enough_broken_specs() -> None:
    assert len(BROKEN_FILES) >= 45


@pytest.mark.parametrize("exp", EXPECTATIONS, ids=[e.path.stem for e in EXPECTATIONS])
def test_header_is_well_formed(exp: Expectation) -> None:
    assert exp.expected, f"{exp.path.name} has no `// expect: EXXX at L:C` line"
    lines = exp.path.read_text(encoding="utf-8").splitlines()
    for _, ln, col in exp.expected:
        assert 1 <= ln <= len(lines), f"{exp.path.name}: expected line {ln} is past the end"
        assert 1 <= col <= len(lines[ln - 1]) + 1, f"{exp.path.name}: column {col} is off line {ln}"


# ----------------------------------------------------------------------------- library
@pytest.mark.parametrize("exp", _params(cli=False))
def test_library_reports_exactly_the_expected(exp: Expectation) -> None:
    with pytest.raises(SpecError) as info:
        load(str(exp.path), exp.overrides)
    diags = info.value.diagnostics
    got = [(d.code, d.span.line, d.span.col) for d in diags]
    missing = Counter(exp.expected) - Counter(got)
    extra = Counter(got) - Counter(exp.expected)
    detail = "\n".join(f"  {d.code} {d.span.line}:{d.span.col} {d.message} (hint: {d.hint})" for d in diags)
    assert not missing and not extra, (
        f"{exp.path.name}: missing {_fmt(list(missing.elements()))}; "
        f"extra (cascade/duplicate) {_fmt(list(extra.elements()))}\nreported:\n{detail}")
    for key, wanted in exp.hints.items():
        hints = [d.hint or "" for d in diags if (d.code, d.span.line, d.span.col) == key]
        for w in wanted:
            assert any(w in h for h in hints), f"{exp.path.name}: {key}: hint {hints!r} lacks {w!r}"
    for key, wanted in exp.messages.items():
        msgs = [d.message for d in diags if (d.code, d.span.line, d.span.col) == key]
        for w in wanted:
            assert any(w in m for m in msgs), f"{exp.path.name}: {key}: message {msgs!r} lacks {w!r}"
    for d in diags:
        assert d.message and d.message[0].islower() or d.message[0] in "`'\"", (
            f"{exp.path.name}: message {d.message!r} should start lower-case, like a compiler's")


# ----------------------------------------------------------------------------- CLI
def _cli_args(exp: Expectation) -> list[str]:
    args = [str(exp.path), "--color", "never", "--no-trace", "--depth", "1"]
    for name, value in exp.overrides.items():
        args += ["--set", f"{name}={value}"]
    return args


@pytest.mark.parametrize("exp", _params(cli=True))
def test_cli_renders_every_diagnostic(exp: Expectation, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(_cli_args(exp))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == 2, f"exit {code}, expected 2 (spec error)\n{err}"
    src = exp.path.read_text(encoding="utf-8").replace("\t", " ").splitlines()
    lines = err.splitlines()
    printed: list[Key] = []
    for i, line in enumerate(lines):
        m = HEADER_RE.match(line)
        if m is None:
            continue
        assert m.group("path") == str(exp.path)
        ln, col = int(m.group("line")), int(m.group("col"))
        printed.append((m.group("code"), ln, col))
        # the source line, then a caret starting under the column
        assert i + 3 < len(lines), f"no excerpt after {line!r}"
        assert lines[i + 2] == f"{ln} | {src[ln - 1]}", f"source line missing after {line!r}"
        caret_line = lines[i + 3]
        prefix = " " * len(str(ln)) + " | "
        assert caret_line.startswith(prefix), caret_line
        caret = caret_line[len(prefix):]
        assert caret.lstrip(" ").startswith("^") and caret.index("^") == col - 1, (
            f"caret {caret_line!r} is not under column {col}")
    assert printed, f"no `FILE:LINE:COL: error[EXXX]:` line in\n{err}"
    assert f"tee-check: {len(printed)} error" in err
    if exp.xfail is None:  # a known library bug would also show here; that test reports it
        assert Counter(printed) == Counter(exp.expected), f"printed {_fmt(printed)}\n{err}"
        for key, wanted in exp.hints.items():
            idx = printed.index(key)
            block = _block_after(lines, key, idx)
            for w in wanted:
                assert any(b.startswith("  hint: ") and w in b for b in block), (
                    f"hint {w!r} not printed for {key}:\n{err}")


def _block_after(lines: list[str], key: Key, nth: int) -> list[str]:
    """The lines rendered for the nth diagnostic header (up to the next header)."""
    seen = -1
    out: list[str] = []
    inside = False
    for line in lines:
        if HEADER_RE.match(line):
            seen += 1
            inside = seen == nth
            continue
        if inside:
            out.append(line)
    return out


def test_cli_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "spec.tee"
    code = main([str(missing)])
    _, err = capsys.readouterr()
    assert code == 2
    assert f"{missing}:0:0: error[E000]: no such file" in err
    assert "Traceback" not in err


def test_library_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load(str(tmp_path / "absent.tee"))
    assert [d.code for d in info.value.diagnostics] == ["E000"]


# ----------------------------------------------------------------------------- docs
def _codes_in_source() -> set[str]:
    codes: set[str] = set()
    for py in CHECKER.rglob("*.py"):
        codes |= set(re.findall(r"""["'](E0\d\d)["']""", py.read_text(encoding="utf-8")))
    return codes


def _codes_in_docs() -> list[str]:
    return re.findall(r"^## (E\d{3})\b", ERRORS_MD.read_text(encoding="utf-8"), re.M)


def test_docs_list_each_code_once() -> None:
    codes = _codes_in_docs()
    dup = sorted(c for c, n in Counter(codes).items() if n > 1)
    assert not dup, f"docs/errors.md lists these codes more than once: {dup}"


def test_every_emitted_code_is_documented() -> None:
    missing = sorted(_codes_in_source() - set(_codes_in_docs()))
    assert not missing, f"codes emitted by checker/ but not in docs/errors.md: {missing}"


def test_every_documented_code_is_exercised() -> None:
    exercised = {c for e in EXPECTATIONS if e.xfail is None for c, _, _ in e.expected}
    unexercised = sorted(set(_codes_in_docs()) - exercised - set(NOT_EXERCISED))
    assert not unexercised, f"documented codes with no passing broken spec: {unexercised}"


def test_every_documented_code_is_emitted() -> None:
    stale = sorted(set(_codes_in_docs()) - _codes_in_source())
    assert not stale, f"docs/errors.md documents codes the checker never emits: {stale}"
