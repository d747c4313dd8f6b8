"""Fuzzing the front end: no input text may make it raise anything but `SpecError`.

(a) Grammar-based: `hypothesis.extra.lark.from_lark` over checker/grammar/tee.lark. Every
    generated text is in the language of the grammar, so it must parse (the grammar is
    LALR(1) without conflicts); parse + type-check must give an `ir.Spec` or a `SpecError`.
(b) Mutation-based: every .tee under examples/ and spec/ (found at test time), with random
    token and character edits; every result must give an `ir.Spec` or a `SpecError` whose
    diagnostics have an E0xx code, a span inside the text, and render without raising.
    A few mutated files also go through the CLI in-process (no traceback, exit 0/1/2).

Default runs are deterministic (derandomize=True); `-m slow` runs many more examples.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from checker import ast, ir
from checker.cli import main as cli_main
from checker.diagnostics import SpecError, render
from checker.parse import KEYWORDS, _parser, grammar_text, parse
from checker.pipeline import load_text
from checker.source import SourceFile
from checker.typecheck import check

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "tee-language.md"
CODE_RE = re.compile(r"E0\d\d")

FAST = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


# ----------------------------------------------------------------------------- (a) grammar
@cache
def _grammar() -> Lark:
    """The parser's own Lark object; built uncached when `_parser()` came from lark's cache.

    A Lark object loaded from the cache (`cache=True`) has no `.grammar`, which from_lark
    needs, so fall back to the same grammar text and options without the cache.
    """
    lk = _parser()
    if hasattr(lk, "grammar"):
        return lk
    return Lark(grammar_text(), parser="lalr", strict=True, propagate_positions=True,
                maybe_placeholders=True)


# Names: a small pool (so declarations and uses collide and the type checker gets further),
# names that start like keywords (the lexer must not split them), and arbitrary identifiers.
_NAME_POOL = ["x", "y", "p", "N", "T", "R", "Page", "g", "a", "f", "on", "A", "B",
              "format", "inside", "mapping", "notx", "if_", "some_", "forall_x", "_", "_1"]
_names = st.one_of(
    st.sampled_from(_NAME_POOL),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in KEYWORDS),
)
_sep = st.sampled_from([" ", "  ", "\n", "\t", " \n ", " /**/ "])


def _padded(s: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Tokens are concatenated by from_lark; whitespace on both sides keeps them apart."""
    return st.tuples(_sep, s, _sep).map("".join)


@cache
def _grammar_strategy(start: str = "start", names: st.SearchStrategy[str] = _names
                      ) -> st.SearchStrategy[str]:
    lk = _grammar()
    terminals, _rules, ignore = lk.grammar.compile([start], ())
    explicit: dict[str, st.SearchStrategy[str]] = {}
    special: dict[str, st.SearchStrategy[str]] = {
        "NAME": names,
        "QUANT": st.sampled_from(["forall", "exists", "count", "map"]),
        "NOTIN": st.sampled_from(["not in", "not  in", "not\nin", "not\t in"]),
        "INT": st.one_of(st.integers(0, 9).map(str), st.sampled_from(["0x1", "0X0f", "10", "007"])),
        "STRING": st.from_regex(r'"[a-zA-Z0-9 ,.:-]{0,12}"', fullmatch=True),
    }
    for t in terminals:
        if t.name in ignore:
            continue
        if t.name in special:
            explicit[t.name] = _padded(special[t.name])
        elif t.pattern.type == "str":
            explicit[t.name] = _padded(st.just(t.pattern.value))
        else:  # a regex terminal added to the grammar later: let hypothesis try, padded
            explicit[t.name] = _padded(st.from_regex(t.pattern.to_regexp(), fullmatch=True))
    for name in ignore:
        if name == "COMMENT":
            explicit[name] = st.sampled_from(["// c\n", "// spec { x\n", "//\n"])
        elif name == "BLOCK_COMMENT":
            explicit[name] = st.sampled_from(["/* c */", "/**/", "/* { \n } */", "/***/"])
        else:
            explicit[name] = st.sampled_from([" ", "\n", "\t", "\r\n"])
    return from_lark(lk, start=start, explicit=explicit)


# Declarations generated from the grammar after a fixed, valid prelude, with names drawn
# mostly from the prelude: these get much further into the type checker than whole files.
PRELUDE = """spec s "prelude"
const N = 2
type T = 0 .. N
enum E { A, B }
record R { f: T, b: bool }
var x: T
var m: T -> bool
var o: option T
var st: set T
var r: R
ghost var e: E
def d(i: T): bool = m[i]
init { x = 0; m = map i: T. false; o = none; st = {}; r = R { f: 0, b: false }; e = A }
action go(i: T) by hv { x = i }
"""
_prelude_names = st.one_of(
    st.sampled_from(["x", "m", "o", "st", "r", "e", "f", "b", "T", "N", "E", "A", "B", "R", "d",
                     "go", "i", "j", "hv", "OK"]),
    _names,
)
DECL_RULES = ["const_decl", "type_decl", "var_decl", "def_decl", "action_decl", "invariant_decl",
              "transition_decl", "cover_decl", "expect_decl", "enum_decl", "record_decl"]


@cache
def _decls_strategy() -> st.SearchStrategy[str]:
    one = st.one_of([_grammar_strategy(r, _prelude_names) for r in DECL_RULES])
    return st.lists(one, min_size=1, max_size=3).map(lambda ds: PRELUDE + "\n".join(ds) + "\n")


def _check_grammar_text(text: str) -> None:
    source = SourceFile("fuzz.tee", text)
    try:
        spec = parse(source)
    except SpecError as err:  # a grammar-valid text must parse: show why it did not
        pytest.fail(f"grammar-valid text rejected: {err}\n--- text ---\n{text}")
    assert isinstance(spec, ast.Spec)
    try:
        result = check(spec)
    except SpecError as err:
        _check_diagnostics(err, source)
        return
    assert isinstance(result, ir.Spec)


@settings(FAST, max_examples=200)
@given(text=st.deferred(lambda: _grammar_strategy()))
def test_grammar_generated_texts_parse_and_typecheck(text: str) -> None:
    _check_grammar_text(text)


@settings(FAST, max_examples=60)
@given(text=st.deferred(lambda: _decls_strategy()))
def test_grammar_generated_declarations_typecheck(text: str) -> None:
    _check_grammar_text(text)


def test_prelude_is_valid() -> None:
    assert isinstance(load_text(SourceFile("prelude.tee", PRELUDE)), ir.Spec)


@pytest.mark.slow
@settings(FAST, derandomize=False, max_examples=3000)
@given(text=st.deferred(lambda: st.one_of(_grammar_strategy(), _decls_strategy())))
def test_grammar_generated_texts_parse_and_typecheck_slow(text: str) -> None:
    _check_grammar_text(text)


# ----------------------------------------------------------------------------- (b) mutations
def _corpus() -> list[tuple[str, str]]:
    files = sorted([*ROOT.glob("examples/**/*.tee"), *ROOT.glob("spec/**/*.tee")])
    out = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in files]
    if not out and CONTRACT.exists():
        m = re.search(r"```tee\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
        if m:
            out.append(("contract.tee", m.group(1)))
    return out


CORPUS = _corpus()
TOKEN_RE = re.compile(r"\s+|//[^\n]*|/\*.*?\*/|[A-Za-z_][A-Za-z0-9_]*|0[xX][0-9a-fA-F]+|\d+"
                      r"|\.\.|->|==|!=|<=|>=|\"[^\"\n]*\"|.", re.S)
KEYWORD_LIST = sorted(KEYWORDS)
PUNCT = ["{", "}", "(", ")", "[", "]", ":", ",", ".", "..", "=", "==", "!", "->", ";", "<",
         "+", "-", "*", "&", '"', "'", "/*", "//", "@", "&&", "||", "\t", "\n", "é", "\x00"]
ODD_CHARS = "{}()[]:;.,=!<>-+*&\"'#$\\ \nx0"
ODD_INTS = ["0", "-1", "1", "3", "0x10", "255", "99", "0x", "1.5"]


def _tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text)


def _mutate(text: str, rnd: Callable[[int], int], n_mut: int) -> str:
    """Apply n_mut random edits; rnd(k) returns a choice in range(k)."""
    for _ in range(n_mut):
        toks = _tokens(text)
        if not toks:
            toks = [""]
        i = rnd(len(toks))
        op = rnd(11)
        words = [t for t in toks if re.fullmatch(r"[A-Za-z_]\w*", t) and t not in KEYWORDS] or ["x"]
        if op == 0:  # delete a token
            del toks[i]
        elif op == 1:  # duplicate a token
            toks.insert(i, toks[i])
        elif op == 2 and len(toks) > 1:  # swap two tokens
            j = rnd(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == 3:  # insert a keyword
            toks.insert(i, f" {KEYWORD_LIST[rnd(len(KEYWORD_LIST))]} ")
        elif op == 4:  # insert punctuation
            toks.insert(i, PUNCT[rnd(len(PUNCT))])
        elif op == 5:  # replace a name by another name of the spec, a keyword or a new name
            k = rnd(3)
            toks[i] = (words[rnd(len(words))] if k == 0 else
                       KEYWORD_LIST[rnd(len(KEYWORD_LIST))] if k == 1 else f"zz{rnd(9)}")
        elif op == 6:  # replace a number
            nums = [j for j, t in enumerate(toks) if re.fullmatch(r"\d+|0[xX]\w+", t)]
            if nums:
                toks[nums[rnd(len(nums))]] = ODD_INTS[rnd(len(ODD_INTS))]
        elif op == 7:  # truncate
            text = text[: rnd(len(text) + 1)]
            continue
        elif op == 8 and text:  # delete a character
            c = rnd(len(text))
            text = text[:c] + text[c + 1:]
            continue
        elif op == 9:  # insert a character
            c = rnd(len(text) + 1)
            text = text[:c] + ODD_CHARS[rnd(len(ODD_CHARS))] + text[c:]
            continue
        elif op == 10 and len(toks) > 2:  # move a line
            lines = text.split("\n")
            a, b = rnd(len(lines)), rnd(len(lines))
            lines.insert(b, lines.pop(a))
            text = "\n".join(lines)
            continue
        text = "".join(toks)
    return text


def _check_diagnostics(err: SpecError, source: SourceFile) -> None:
    assert err.diagnostics, "a SpecError without diagnostics"
    last_line = max(source.line_count, 1)
    for d in err.diagnostics:
        assert CODE_RE.fullmatch(d.code), f"bad code {d.code!r}: {d}"
        assert 1 <= d.span.line <= last_line, f"span outside the text ({last_line} lines): {d}"
        assert d.span.col >= 1, d
        text = render(d, source)
        assert f"{d.span.line}:{d.span.col}" in text.splitlines()[0]
        render(d, source, color=True)


def _check_mutant(path: str, text: str) -> None:
    source = SourceFile(path, text)
    try:
        spec = load_text(source)
    except SpecError as err:
        _check_diagnostics(err, source)
        return
    assert isinstance(spec, ir.Spec)


def _mutation_test(data: st.DataObject) -> None:
    assert CORPUS, "no .tee files under examples/ or spec/ and no contract example"
    path, text = data.draw(st.sampled_from(CORPUS), label="file")
    n_mut = data.draw(st.integers(1, 3), label="mutations")
    mutated = _mutate(text, lambda k: data.draw(st.integers(0, max(k - 1, 0))), n_mut)
    _check_mutant(path, mutated)


@settings(FAST, max_examples=300)
@given(data=st.data())
def test_mutated_specs_give_spec_or_spec_error(data: st.DataObject) -> None:
    _mutation_test(data)


@pytest.mark.slow
@settings(FAST, derandomize=False, max_examples=5000)
@given(data=st.data())
def test_mutated_specs_give_spec_or_spec_error_slow(data: st.DataObject) -> None:
    _mutation_test(data)


@pytest.mark.parametrize("path,text", CORPUS, ids=[p for p, _ in CORPUS])
def test_corpus_loads_unmutated(path: str, text: str) -> None:
    assert isinstance(load_text(SourceFile(path, text)), ir.Spec)


def test_cli_on_mutated_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI on mutated files: diagnostics or verdicts, never a traceback or exit 3."""
    rng = random.Random(20240601)
    codes = []
    for n in range(8):
        path, text = CORPUS[n % len(CORPUS)]
        mutated = _mutate(text, lambda k: rng.randrange(max(k, 1)), 1 + n % 3)
        f = tmp_path / f"m{n}_{Path(path).name}"
        f.write_text(mutated, encoding="utf-8")
        engine = "explicit" if n % 2 == 0 else "auto"
        code = cli_main([str(f), "--engine", engine, "--max-states", "200", "--timeout", "3",
                         "--no-trace"])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, f"{f}:\n{err}"
        assert code in (0, 1, 2), f"exit {code} on {f}:\n{out}\n{err}\n--- text ---\n{mutated}"
        codes.append(code)
    assert 2 in codes  # at least one mutant is a spec error reported with diagnostics


@pytest.mark.parametrize("text", [
    "",
    "   \n",
    "// only a comment",
    "/* never closed",
    "spec",
    'spec s "unterminated',
    "spec s\nconst N = ",
    "spec s\nvar x: 0 .. 0x",
    "spec s\ninit { x = 1 } }",
    "spec s spec t",
    "spec s\naction a() { require true else }",
    "spec s\ninvariant i = true",
    "spec s\n\x00",
    "\ufeffspec s",
])
def test_small_broken_texts(text: str) -> None:
    _check_mutant("small.tee", text)


def test_deeply_nested_expression_is_a_spec_error_or_spec() -> None:
    depth = 3000
    text = "spec s\nconst N = " + "(" * depth + "1" + ")" * depth + "\n"
    _check_mutant("deep.tee", text)
