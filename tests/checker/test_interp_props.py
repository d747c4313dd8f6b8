"""Semantics of the interpreter and the BFS checker on small inline specs.

Each test states one rule of the language contract (/work/shared/tee-language.md) on a
spec of a few lines: short-circuit evaluation, well-definedness with spans, atomic
`require`, statements, expressions, transitions with old(), asserts, shortest traces,
bounds (--depth, --max-states) and `expect ... within N`.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest

from checker import ir
from checker.cli import main as cli_main
from checker.diagnostics import SpecError
from checker.interp import Interpreter, State
from checker.pipeline import RunOptions, load_text, run
from checker.result import Result, RunResult, Verdict
from checker.source import SourceFile, Span


def load(text: str, **overrides: int) -> tuple[SourceFile, ir.Spec]:
    source = SourceFile("t.tee", textwrap.dedent(text).lstrip("\n"))
    return source, load_text(source, overrides or None)


EXPLICIT = RunOptions(engine="explicit")


def check(text: str, options: RunOptions | None = None, **overrides: int) -> RunResult:
    """Run the explicit (BFS) checker: these tests are about its semantics and its bounds."""
    return run(load(text, **overrides)[1], options or EXPLICIT)


def prop(res: RunResult, name: str) -> Result:
    for r in res.results:
        if r.prop == name:
            return r
    raise KeyError(f"{name} not in {[r.prop for r in res.results]}")


def span_text(source: SourceFile, sp: Span) -> str:
    assert sp.line == sp.end_line, sp
    return source.line(sp.line)[sp.col - 1: sp.end_col - 1]


def var(spec: ir.Spec, state: State, name: str) -> Any:
    return state[spec.var_index(name)]


# ----------------------------------------------------------------------------- short-circuit
SHORT_CIRCUIT = """
spec sc
type T = 0 .. 2
var o: option T
def f(p: T): bool = p >= 0
init { o = none }
action put(v: T) { o = some(v) }
action clear() { o = none }
action guarded() { require o != none and f(o!); require o == none or o! >= 0; o = o }
invariant a: o != none and f(o!) or o == none
invariant b: o == none or f(o!)
invariant c: o != none implies o! <= 2
invariant d: (if o != none then o! else 0) <= 2
invariant e: not (o != none) or o! >= 0
"""


def test_short_circuit_never_unwraps_none() -> None:
    res = check(SHORT_CIRCUIT)
    for name in "abcde":
        assert prop(res, name).verdict is Verdict.PROVED, prop(res, name).text()
    assert prop(res, "well_defined").verdict is Verdict.PROVED
    assert res.stats.complete and res.stats.states == 4


# ----------------------------------------------------------------------------- well_defined
WELL_DEFINED = """
spec wd
type T = 0 .. 2
var x: T
var o: option T
var m: T -> bool
def inc(i: T): T = i + 1
init { x = 0; o = none; m = map i: T. false }
action {action}
"""


@pytest.mark.parametrize("action,depth,line_text,word", [
    ("unwrap() { x = o! }", 1, "o!", "none"),
    ("up() { x = x + 1 }", 3, "x + 1", "outside"),
    ("key() { m[x + 1] = m[x] }", 3, "x + 1", "outside the domain"),
    ("read() { require m[x + 1] or true; x = x + 0 }", 3, "m[x + 1]", "outside the domain"),
    ("viadef() { x = inc(x) }", 3, "i + 1", "outside"),
    ("arg(v: T) { x = v - 1 }", 1, "v - 1", "outside"),
])
def test_well_defined_violation_span(action: str, depth: int, line_text: str, word: str) -> None:
    text = WELL_DEFINED.replace("{action}", action)
    if action.startswith("up") or action.startswith("key") or action.startswith("read") \
            or action.startswith("viadef"):
        text += "action step() { require x < 2; x = x + 1 }\n"
    source, spec = load(text)
    res = run(spec, EXPLICIT)
    r = prop(res, "well_defined")
    assert r.verdict is Verdict.VIOLATED, r.text()
    assert r.trace is not None and r.trace.failure is not None
    assert r.depth == depth == r.trace.length
    assert r.trace.steps[-1].outcome == "error"
    sp = r.trace.failure.span
    assert sp.path == "t.tee"
    assert span_text(source, sp) == line_text, (sp, source.line(sp.line))
    assert word in r.trace.failure.message


def test_well_defined_in_init_and_in_property() -> None:
    res = check("""
        spec wi
        var o: option bool
        init { o = none }
        invariant i: o!
    """)
    r = prop(res, "well_defined")
    assert r.verdict is Verdict.VIOLATED and r.depth == 0
    assert prop(res, "i").verdict is Verdict.UNKNOWN
    res = check("""
        spec wi2
        type T = 0 .. 1
        var x: T
        init { x = 2 }
    """)
    assert prop(res, "well_defined").verdict is Verdict.VIOLATED
    assert prop(res, "well_defined").depth == 0


# ----------------------------------------------------------------------------- require
ATOMIC = """
spec at
type T = 0 .. 3
var x: T
var flag: bool
ghost var h: T
init { x = 0; flag = false; h = 0 }
action partial(v: T) { x = v; h = v; flag = true; require v == 0 else NOT_ZERO; flag = false }
action blocked() { x = 3; require false }
action guarded(v: T) { require v > x; x = v }
invariant never3: x != 3
"""


def test_require_else_is_atomic() -> None:
    _, spec = load(ATOMIC)
    it = Interpreter(spec)
    s0 = it.init()
    for v in (1, 2, 3):
        r = it.step(s0, "partial", (v,))
        assert r is not None
        assert r.outcome == "NOT_ZERO"
        assert r.state == s0
        assert r.failed is not None and r.failed.line == 7
    r = it.step(s0, "partial", (0,))
    assert r is not None and r.outcome == "ok" and r.failed is None
    assert var(spec, r.state, "flag") is False and var(spec, r.state, "x") == 0


def test_require_without_else_disables_the_action() -> None:
    _, spec = load(ATOMIC)
    it = Interpreter(spec)
    s0 = it.init()
    assert it.step(s0, "blocked", ()) is None
    assert it.step(s0, "guarded", (0,)) is None
    r = it.step(s0, "guarded", (2,))
    assert r is not None and var(spec, r.state, "x") == 2
    res = run(spec, EXPLICIT)
    # `guarded` reaches 3, `blocked` never fires: the shortest violation is one guarded(3) step
    r3 = prop(res, "never3")
    assert r3.verdict is Verdict.VIOLATED and r3.depth == 1
    assert r3.trace is not None and r3.trace.steps[0].action == "guarded"
    no_guard = check(ATOMIC.replace("action guarded(v: T) { require v > x; x = v }\n", ""))
    assert prop(no_guard, "never3").verdict is Verdict.PROVED
    assert no_guard.stats.states == 1  # partial never changes the state, blocked never fires


# ----------------------------------------------------------------------------- statements
STATEMENTS = """
spec st
type T = 0 .. 3
enum E { A, B, C }
record R { f: T, b: bool, e: E }
var seq: 0 .. 9999
var y: T
var z: T
var r: R
var e: E
var s: set T
var n: 0 .. 9
var mm: T -> T -> 0 .. 6
init {
  seq = 0; y = 0; z = 0; e = A; s = {}; n = 0
  r = R { f: 1, b: false, e: E.C }
  mm = map i: T, j: T. i + j * 1
}
action order() { for i: 1 .. 3 { seq = seq * 10 + i } }
action order_t() { seq = 0; for i: T { seq = seq * 10 + i + 1 } }
action lets() { let v = y; y = 3; let w = v + 1; z = w; if true { let v = 2; y = v } }
action upd() { r = r with { f: 3 }; r.b = not r.b; e = B }
action sets() {
  s = ({0, 1, 2} + {3}) - {1} & {0, 1, 3}
  n = count i: T. i in s
}
"""


def _after(action: str, args: tuple[Any, ...] = ()) -> tuple[ir.Spec, State]:
    _, spec = load(STATEMENTS)
    it = Interpreter(spec)
    r = it.step(it.init(), action, args)
    assert r is not None and r.outcome == "ok"
    return spec, r.state


def test_for_runs_in_order() -> None:
    spec, s = _after("order")
    assert var(spec, s, "seq") == 123
    spec, s = _after("order_t")
    assert var(spec, s, "seq") == 1234


def test_let_binds_a_value_and_is_scoped() -> None:
    spec, s = _after("lets")
    assert var(spec, s, "z") == 1  # v was y before the assignment
    assert var(spec, s, "y") == 2  # the inner `let v` shadows inside the block only
    with pytest.raises(SpecError):
        load(STATEMENTS.replace("action lets()", "action leak() { if true { let q = 1 } y = q }\n"
                                "action lets()"))


def test_with_and_field_update() -> None:
    spec, s = _after("upd")
    assert var(spec, s, "r") == (3, True, "C")
    assert var(spec, s, "e") == "B"


def test_set_operations_and_count() -> None:
    spec, s = _after("sets")
    # ({0,1,2} + {3}) - ({1} & {0,1,3}) if & binds tighter; the contract puts + - & on one
    # level, left-associative: (({0,1,2} + {3}) - {1}) & {0,1,3} = {0, 3}
    assert var(spec, s, "s") == frozenset({0, 3})
    assert var(spec, s, "n") == 2


def test_map_literal_with_two_binders() -> None:
    _, spec = load(STATEMENTS)
    s0 = Interpreter(spec).init()
    mm = var(spec, s0, "mm")
    assert [[mm[i][j] for j in range(4)] for i in range(4)] == [[i + j for j in range(4)] for i in range(4)]


def test_enum_qualified_and_bare_and_set_relations() -> None:
    res = check(STATEMENTS + """
invariant bare_is_qualified: e == A or e == E.B
invariant rec_enum: r.e == C and r.e == E.C
invariant subset: s <= {0, 3} and {0} <= {0, 3} and not ({1} <= {0, 3})
invariant member: 3 not in {0, 1} and 1 in {0, 1}
invariant cnt: (count i: T. i >= 2) == 2
invariant nested_map: mm[3][3] == 6 and mm[0][2] == 2
""")
    for name in ("bare_is_qualified", "rec_enum", "subset", "member", "cnt", "nested_map"):
        assert prop(res, name).verdict is Verdict.PROVED, (name, prop(res, name).text())


# ----------------------------------------------------------------------------- transitions
TRANSITIONS = """
spec tr
type T = 0 .. 3
var x: T
init { x = 0 }
action up() { require x < 3; x = x + 1 }
action down() { require x > 0; x = x - 1 }
transition up_increments on up: x == old(x) + 1
transition only_up: x > old(x)
transition sum_on_both on up, down: x + old(x) >= 1
"""


def test_transition_on_and_old() -> None:
    res = check(TRANSITIONS)
    assert prop(res, "up_increments").verdict is Verdict.PROVED
    assert prop(res, "sum_on_both").verdict is Verdict.PROVED
    r = prop(res, "only_up")
    assert r.verdict is Verdict.VIOLATED and r.depth == 2
    assert r.trace is not None and [s.action for s in r.trace.steps] == ["up", "down"]


# ----------------------------------------------------------------------------- assert
def test_assert_failure_is_a_property() -> None:
    text = """
        spec as
        type T = 0 .. 3
        var x: T
        init { x = 0 }
        action up() {
          require x < 3
          x = x + 1
          assert x <= 2
        }
    """
    source, spec = load(text)
    names = [p.name for p in spec.properties]
    assert "assert_up_L8" in names, names
    res = run(spec, EXPLICIT)
    r = prop(res, "assert_up_L8")
    assert r.verdict is Verdict.VIOLATED and r.depth == 3
    assert r.trace is not None and r.trace.failure is not None
    assert span_text(source, r.trace.failure.span).startswith("assert x <= 2")
    assert prop(res, "well_defined").verdict is not Verdict.VIOLATED


# ----------------------------------------------------------------------------- shortest traces
SHORTEST = """
spec sh
const TARGET = 7
type T = 0 .. 7
var x: T
var y: 0 .. 1
init { x = 0; y = 0 }
action inc() { require x < 7; x = x + 1 }
action dbl() { require x * 2 <= 7; x = x * 2 }
action flip() { y = 1 - y }
action jump(v: 0 .. 3) { require y == 1 and v > x; x = v }
invariant not_target: x != TARGET
"""


def _brute_force_min_depth(spec: ir.Spec, name: str, limit: int) -> int | None:
    it = Interpreter(spec)
    moves = [(a.name, args) for a in spec.actions for args in it.args(a)]
    s0 = it.init()
    if not it.holds(name, s0):
        return 0
    for k in range(1, limit + 1):
        for seq in itertools.product(moves, repeat=k):
            s = s0
            for act, args in seq:
                r = it.step(s, act, args)
                if r is None:
                    break
                s = r.state
            else:
                if not it.holds(name, s):
                    return k
    return None


@pytest.mark.parametrize("target", range(0, 8))
def test_bfs_trace_is_shortest(target: int) -> None:
    _, spec = load(SHORTEST, TARGET=target)
    res = run(spec, EXPLICIT)
    r = prop(res, "not_target")
    expected = _brute_force_min_depth(spec, "not_target", 5)
    assert expected is not None
    assert r.verdict is Verdict.VIOLATED and r.depth == expected
    assert r.trace is not None and r.trace.length == expected
    # the trace replays through the interpreter to a violating state
    it = Interpreter(spec)
    s = it.init()
    for step in r.trace.steps:
        out = it.step(s, step.action, tuple(v for _, v in step.args))
        assert out is not None and out.state == step.state
        s = out.state
    assert not it.holds("not_target", s)


# ----------------------------------------------------------------------------- bounds
COUNTER = """
spec ctr
type T = 0 .. 9
var x: T
init { x = 0 }
action up() { require x < 9; x = x + 1 }
invariant small: x < 9
cover five: x == 5
"""


def test_depth_bound_gives_holds_to_depth() -> None:
    res = check(COUNTER, RunOptions(engine="explicit", depth=4))
    r = prop(res, "small")
    assert r.verdict is Verdict.HOLDS_TO_DEPTH and r.depth == 4
    assert r.text() == "holds to depth 4"
    assert prop(res, "five").verdict is Verdict.UNKNOWN
    assert not res.stats.complete
    full = check(COUNTER)
    assert prop(full, "small").verdict is Verdict.VIOLATED and prop(full, "small").depth == 9
    assert prop(full, "five").verdict is Verdict.REACHABLE and prop(full, "five").depth == 5


def test_max_states_gives_unknown() -> None:
    res = check(COUNTER, RunOptions(engine="explicit", max_states=3))
    r = prop(res, "small")
    assert r.verdict is Verdict.UNKNOWN
    assert r.reason is not None and r.reason.startswith("state bound reached")
    assert r.text().startswith("unknown (state bound reached")
    assert not res.stats.complete


def test_cli_depth_and_max_states(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ctr.tee"
    f.write_text(textwrap.dedent(COUNTER), encoding="utf-8")
    assert cli_main([str(f), "--engine", "explicit", "--depth", "4", "--no-trace"]) == 0
    out = capsys.readouterr().out
    assert "holds to depth 4" in out
    cli_main([str(f), "--engine", "explicit", "--max-states", "3", "--no-trace"])
    out = capsys.readouterr().out
    assert "unknown (state bound reached" in out


# ----------------------------------------------------------------------------- expect within
@pytest.mark.parametrize("expect,options,met", [
    ("expect small violated", None, True),
    ("expect small violated within 9", None, True),
    ("expect small violated within 8", None, False),
    ("expect small holds", None, False),
    ("expect small holds within 4", RunOptions(engine="explicit", depth=4), True),
    ("expect small holds within 5", RunOptions(engine="explicit", depth=4), False),
    ("expect five reachable within 5", None, True),
    ("expect five reachable within 4", None, False),
    ("expect five unreachable", None, False),
    ("expect five unreachable within 4", RunOptions(engine="explicit", depth=4), True),
    ("expect five unreachable within 5", RunOptions(engine="explicit", depth=4), False),
    ("expect well_defined holds", None, True),
])
def test_expect_within(expect: str, options: RunOptions | None, met: bool) -> None:
    res = check(COUNTER + expect + "\n", options)
    assert len(res.expectations) == 1
    e = res.expectations[0]
    assert e.met is met, (expect, e)
    assert res.ok is met


# ----------------------------------------------------------------------------- precedence
EXPRESSIONS = """
spec ex
type T = 0 .. 3
var x: T
init { x = 0 }
invariant implies_right: false implies false implies false
invariant and_over_or: true or false and false
invariant not_tight: not false and true
invariant binder_body_extends: forall i: T. i > 1 or i <= 1
invariant binder_after_and: true and forall i: T. i >= 0 or false
invariant count_two: (count i: T, j: T. i < j) == 6
invariant range_binder: exists i: 0 .. 3. i == 3
invariant hex: 0x10 == 16 and 0X0f == 15
invariant exact: x - 5 < 0 and x * 3 - 10 == -10
invariant iff_: (x == 0 iff true) and (false iff false)
invariant ite: (if x == 0 then 1 else 2) == 1
invariant unary_minus: -x - -1 == 1
"""


def test_expression_precedence_and_values() -> None:
    res = check(EXPRESSIONS)
    bad = [(r.prop, r.text()) for r in res.results if r.verdict is not Verdict.PROVED]
    assert not bad


def test_assert_and_require_in_init() -> None:
    source, spec = load("""
        spec ai
        var b: bool
        init {
          b = false
          assert b
        }
    """)
    res = run(spec, EXPLICIT)
    r = prop(res, "assert_init_L5")
    assert r.verdict is Verdict.VIOLATED and r.depth == 0
    res = check("""
        spec ri
        var b: bool
        init { b = false; require b }
    """)
    assert prop(res, "well_defined").verdict is Verdict.VIOLATED
