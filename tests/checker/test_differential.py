"""Differential tests: the interpreter (explicit BFS) and the z3 encoding (BMC, auto) agree.

The product has two readings of one language: interp.py (the reference, used by
explore.py) and encode.py / encode_step.py (used by BMC, induction and PDR). A checker
that says `proved` wrongly is the worst bug, so these tests keep the two equal:

1. whole specs from spec/ and examples/: explicit vs BMC at the depth of the longest
   explicit trace (same verdicts, same shortest lengths), and z3 proofs (`auto` with a
   depth, which skips the explicit slice) never contradict the exhaustive search;
2. random well-typed specs (specgen.py) compared the same way, well_defined and asserts
   included;
3. one step on random concrete states, actions and arguments: enabledness, outcome code,
   post-state, well-definedness, asserts and property values, interp vs the z3 template.

Disagreements found so far are regression tests with the minimal spec inline (bottom).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checker import ir
from checker.diagnostics import SpecError
from checker.encode import decode, eq, lift
from checker.encode_step import StepEncoding
from checker.interp import AssertFailure, Interpreter, SpecRuntimeError, State, WellDefinedError
from checker.pipeline import RunOptions, load, load_text, run
from checker.result import Result, RunResult, Verdict
from checker.source import SourceFile

sys.path.insert(0, str(Path(__file__).parent))
from specgen import spec_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILES = sorted([*ROOT.glob("spec/**/*.tee"), *ROOT.glob("examples/**/*.tee")])
MAX_DEPTH = 12  # specs whose longest explicit trace is longer are skipped
REAL_STATES = 50_000  # explicit budget for a real spec; larger ones (the full SNP/TDX/CCA
REAL_SECONDS = 20.0  # specs) are skipped here and held to their expectations by test_specs
AUTO_TIMEOUT = 8.0  # seconds per real spec for `auto` in the default run (slow: none)
GEN_STATES = 5000  # explicit state budget for generated specs
FOUND = (Verdict.VIOLATED, Verdict.REACHABLE)
HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much]


def suite(n: int) -> settings:
    """The active profile (ci derandomizes) with n examples, scaled like conftest.scaled."""
    current = settings.default
    scale = 10 if current is not None and current.max_examples >= 1000 else 1  # the nightly profile
    return settings(deadline=None, max_examples=n * scale, suppress_health_check=HEALTH)


def _ids(p: Path) -> str:
    return str(p.relative_to(ROOT))


# ----------------------------------------------------------------------------- comparisons
def by_prop(res: RunResult) -> dict[str, Result]:
    return {r.prop: r for r in res.results}


def explicit_complete(res: RunResult) -> bool:
    return res.stats.complete or res.stats.stopped == "all properties decided"


def longest_trace(res: RunResult) -> int:
    return max([r.depth or 0 for r in res.results if r.verdict in FOUND] + [0])


def _ill_defined(r: Result) -> bool:
    return r.verdict is Verdict.UNKNOWN and (r.reason or "").startswith("not well defined")


def bmc_disagreements(ex: RunResult, bm: RunResult) -> list[str]:
    """Explicit (complete) vs BMC to some depth: same violations and reaches at the same
    step; proofs are `holds to depth` / `not reached within depth` for BMC."""
    out = []
    bmr = by_prop(bm)
    for name, e in by_prop(ex).items():
        b = bmr[name]
        if e.verdict in FOUND:
            ok = b.verdict is e.verdict and b.depth == e.depth
        elif e.verdict is Verdict.PROVED:
            ok = b.verdict is Verdict.HOLDS_TO_DEPTH
        elif e.verdict is Verdict.UNREACHABLE:
            ok = b.verdict is Verdict.UNKNOWN and (b.reason or "").startswith("not reached within depth")
        elif _ill_defined(e):
            # ill-definedness of the property itself may first occur deeper than BMC's depth
            ok = b.verdict not in FOUND and b.verdict is not Verdict.PROVED
        else:
            ok = True  # explicit did not decide it (not complete): nothing to compare
        if not ok:
            out.append(f"{name}: explicit {e.text()} but bmc {b.text()}")
    return out


def proof_disagreements(ex: RunResult, z: RunResult) -> list[str]:
    """What the z3 engines prove the exhaustive search must not refute; what they find it
    must find at the same step."""
    out = []
    exr = by_prop(ex)
    for name, zr in by_prop(z).items():
        e = exr[name]
        if zr.verdict in (Verdict.PROVED, Verdict.UNREACHABLE):
            ok = e.verdict is zr.verdict
        elif zr.verdict in FOUND:
            ok = e.verdict is zr.verdict and e.depth == zr.depth
        else:
            ok = e.verdict is not Verdict.VIOLATED or zr.verdict is Verdict.UNKNOWN or (
                zr.verdict is Verdict.HOLDS_TO_DEPTH and (zr.depth or 0) < (e.depth or 0))
        if not ok:
            out.append(f"{name}: explicit {e.text()} but z3 ({z.engine}) {zr.text()} [{zr.reason}]")
    return out


# ----------------------------------------------------------------------------- 1. real specs
@functools.cache
def _real(path: Path) -> tuple[ir.Spec, RunResult]:
    _, spec = load(str(path))
    return spec, run(spec, RunOptions(engine="explicit", max_states=REAL_STATES, timeout=REAL_SECONDS))


def _real_depth(path: Path) -> tuple[ir.Spec, RunResult, int]:
    spec, ex = _real(path)
    if not explicit_complete(ex):
        pytest.skip(f"explicit search of {_ids(path)} is not complete: {ex.stats.stopped}")
    d = longest_trace(ex)
    if d > MAX_DEPTH:
        pytest.skip(f"{_ids(path)}: longest explicit trace {d} > {MAX_DEPTH}")
    return spec, ex, d


def test_real_specs_found() -> None:
    assert len(SPEC_FILES) >= 2, SPEC_FILES


@pytest.mark.parametrize("path", SPEC_FILES, ids=_ids)
def test_real_spec_bmc_agrees_with_explicit(path: Path) -> None:
    spec, ex, d = _real_depth(path)
    bm = run(spec, RunOptions(engine="bmc", depth=d))
    assert not bmc_disagreements(ex, bm), bmc_disagreements(ex, bm)


def _auto_case(path: Path, timeout: float | None) -> None:
    spec, ex, d = _real_depth(path)
    z = run(spec, RunOptions(engine="auto", depth=max(d, 1), timeout=timeout))
    assert z.engine.startswith("auto (z3"), z.engine  # the depth forces the z3 path
    assert not proof_disagreements(ex, z), proof_disagreements(ex, z)


@pytest.mark.parametrize("path", SPEC_FILES, ids=_ids)
def test_real_spec_z3_proofs_never_contradict_explicit(path: Path) -> None:
    _auto_case(path, AUTO_TIMEOUT)


@pytest.mark.slow
@pytest.mark.parametrize("path", SPEC_FILES, ids=_ids)
def test_real_spec_z3_proofs_never_contradict_explicit_untimed(path: Path) -> None:
    _auto_case(path, None)


# ----------------------------------------------------------------------------- 2. random specs
def _load_generated(text: str) -> ir.Spec:
    try:
        return load_text(SourceFile("gen.tee", text))
    except SpecError:
        assume(False)
        raise AssertionError("unreachable") from None


def check_generated(text: str, with_auto: bool) -> None:
    spec = _load_generated(text)
    ex = run(spec, RunOptions(engine="explicit", max_states=GEN_STATES))
    assume(explicit_complete(ex))
    # one step beyond the longest trace and the deepest BFS layer: BMC sees every state
    d = min(max(longest_trace(ex), ex.stats.depth) + 1, MAX_DEPTH)
    bm = run(spec, RunOptions(engine="bmc", depth=d))
    assert not bmc_disagreements(ex, bm), (bmc_disagreements(ex, bm), text)
    if with_auto:
        z = run(spec, RunOptions(engine="auto", depth=d, timeout=10.0))
        assert not proof_disagreements(ex, z), (proof_disagreements(ex, z), text)


def check_ic3(text: str) -> None:
    """IC3 alone (no 1-induction first, no helper invariants) on a spec whose state space
    the explicit search covered: it proves exactly the properties that hold (invariants,
    transitions, asserts, well_defined) and the covers that are unreachable (IC3 is complete
    on finite systems; a generated spec is small enough to finish in the budget), and what it
    proves never contradicts the exhaustive search."""
    import time

    from checker.encode_step import StepEncoding
    from checker.engines.ic3 import STEP_KINDS, ic3_prove
    from checker.smt import Budget

    spec = _load_generated(text)
    ex = run(spec, RunOptions(engine="explicit", max_states=GEN_STATES))
    assume(explicit_complete(ex) and ex.stats.complete)
    enc = StepEncoding(spec)
    assume(enc.width is not None)
    try:
        init = Interpreter(spec).init()
    except SpecRuntimeError:
        assume(False)
        raise AssertionError("unreachable") from None
    exr = by_prop(ex)
    goals = [p.name for p in spec.properties if exr[p.name].verdict is not Verdict.UNKNOWN]
    out = ic3_prove(spec, enc, init, goals, Budget(time.monotonic() + 30.0))
    assert not out.unknown, (out.unknown, text)
    for name in goals:
        e = exr[name]
        kind = spec.property(name).kind
        if name in out.proved:  # a cover: proved unreachable
            assert e.verdict is (Verdict.UNREACHABLE if kind == "cover" else Verdict.PROVED), (name, e.text(), text)
        else:
            steps = dict(out.refuted).get(name)
            assert steps is not None, (name, e.text(), out, text)
            # IC3's bad states count an ill-defined evaluation as a violation (what the z3
            # engines prove is the property and its well-definedness); the explicit search
            # charges that to well_defined
            if exr["well_defined"].verdict is Verdict.VIOLATED and e.verdict not in (Verdict.VIOLATED, Verdict.REACHABLE):
                continue
            assert e.verdict is (Verdict.REACHABLE if kind == "cover" else Verdict.VIOLATED), (name, e.text(), out, text)
            # IC3's path ends in the bad state: for a step property, the pre-state of the bad step
            assert steps + (kind in STEP_KINDS) >= (e.depth or 0) or exr["well_defined"].verdict is Verdict.VIOLATED, \
                (name, e.text(), out, text)


@suite(200)
@given(text=spec_texts())
def test_generated_specs_ic3_proves_exactly_what_holds(text: str) -> None:
    check_ic3(text)


@suite(100)
@given(text=spec_texts(), with_auto=st.booleans())
def test_generated_specs_bmc_and_z3_agree_with_explicit(text: str, with_auto: bool) -> None:
    check_generated(text, with_auto)


@pytest.mark.slow
@suite(1000)
@given(text=spec_texts())
def test_generated_specs_agree_many(text: str) -> None:
    check_generated(text, True)


# ----------------------------------------------------------------------------- 3. one step
def values(t: ir.Type) -> st.SearchStrategy[Any]:
    """Every value of a finite type (values.py encoding), built directly."""
    match t:
        case ir.BoolType():
            return st.booleans()
        case ir.RangeType(lo=lo, hi=hi):
            return st.integers(lo, hi)
        case ir.EnumType(members=ms):
            return st.sampled_from(ms)
        case ir.RecordType(fields=fs):
            return st.tuples(*(values(ft) for _, ft in fs))
        case ir.MapType(key=k, value=v):
            return st.tuples(*(values(v) for _ in ir.domain(k)))
        case ir.SetType(elem=e):
            return st.frozensets(st.sampled_from(tuple(ir.all_values(e))))
        case ir.OptionType(elem=e):
            return st.none() | values(e).map(lambda x: (x,))
    raise TypeError(t)


def states(spec: ir.Spec) -> st.SearchStrategy[State]:
    return st.tuples(*(values(v.type) for v in spec.vars))


def _outcome(fn: Callable[[], Any]) -> tuple[Any, SpecRuntimeError | None]:
    try:
        return fn(), None
    except SpecRuntimeError as err:
        return None, err


def step_disagreements(spec: ir.Spec, enc: StepEncoding, interp: Interpreter, state: State,
                       action: str, args: tuple[Any, ...]) -> list[str]:
    """interp.step / interp.holds vs the z3 template on one concrete state and step."""
    act = spec.action(action)
    s = z3.Solver()
    for v, x, var in zip(enc.pre, state, spec.vars, strict=True):
        s.add(eq(v, lift(x, var.type, enc.width), var.type))
    s.add(enc.act == enc.index[action])
    for sym, x, p in zip(enc.params[action], args, act.params, strict=True):
        s.add(eq(sym, lift(x, p.type, enc.width), p.type))
    assert s.check() == z3.sat
    m = s.model()

    def true(e: Any) -> bool:
        return z3.is_true(m.eval(e, model_completion=True))

    out: list[str] = []
    ae = enc.actions[action]
    r, err = _outcome(lambda: interp.step(state, action, args))
    z_wd = true(enc.step_wd[action])
    # (a) well-definedness of the step
    if z_wd != isinstance(err, WellDefinedError):
        out.append(f"step well_defined: interp {'raises ' + err.message if err else 'ok'}, z3 step_wd={z_wd}")
    # (d) asserts (the encoding guards them by well-definedness only in the engines)
    if not isinstance(err, WellDefinedError):
        z_failed = {p for p, obs in ae.asserts.items() if any(true(o.cond) for o in obs)}
        i_failed = {err.prop} if isinstance(err, AssertFailure) else set()
        if z_failed != i_failed:
            out.append(f"asserts: interp fails {sorted(i_failed)}, z3 fails {sorted(z_failed)}")
    if err is None:
        # (b) enabled, (c) outcome and post-state
        z_en = true(ae.enabled)
        if z_en != (r is not None):
            out.append(f"enabled: interp {r is not None}, z3 {z_en}")
        if r is not None and z_en:
            code = enc.codes[m.eval(enc.outcome_index(ae), model_completion=True).as_long()]
            if code != r.outcome:
                out.append(f"outcome: interp {r.outcome}, z3 {code}")
            if true(ae.ok) != (r.outcome == "ok"):
                out.append(f"ok: interp outcome {r.outcome}, z3 ok={true(ae.ok)}")
            post = tuple(decode(x, var.type, m) for x, var in zip(ae.next, spec.vars, strict=True))
            if post != r.state:
                out.append(f"post-state: interp {r.state}, z3 {post}")
            out += _transition_disagreements(spec, enc, interp, s, state, r.state, action)
    # (e) invariants and covers on the pre-state
    for prop in spec.properties:
        if prop.kind not in ("invariant", "cover"):
            continue
        name = prop.name
        val, perr = _outcome(functools.partial(interp.holds, name, state))
        z_bad = any(true(o.cond) for o in enc.prop_wd[name])
        if z_bad != (perr is not None):
            out.append(f"{name} well-definedness: interp {'raises ' + perr.message if perr else 'ok'}, z3 {z_bad}")
        elif perr is None and true(enc.props[name]) != val:
            out.append(f"{name}: interp {val}, z3 {not val}")
    return out


def _transition_disagreements(spec: ir.Spec, enc: StepEncoding, interp: Interpreter, s: z3.Solver,
                              pre: State, post: State, action: str) -> list[str]:
    trans = [p for p in spec.properties if p.kind == "transition"]
    if not trans:
        return []
    s.push()
    for v, x, var in zip(enc.post, post, spec.vars, strict=True):
        s.add(eq(v, lift(x, var.type, enc.width), var.type))
    assert s.check() == z3.sat
    m = s.model()
    s.pop()
    out = []
    for p in trans:
        applies = p.on is None or action in p.on
        val, perr = _outcome(functools.partial(interp.holds, p.name, post, pre)) if applies else (True, None)
        z_bad = any(z3.is_true(m.eval(o.cond, model_completion=True)) for o in enc.prop_wd[p.name])
        z_val = z3.is_true(m.eval(enc.props[p.name], model_completion=True))
        if z_bad != (perr is not None):
            out.append(f"{p.name} well-definedness: interp {'raises ' + perr.message if perr else 'ok'}, z3 {z_bad}")
        elif perr is None and z_val != val:
            out.append(f"{p.name} on {action}: interp {val}, z3 {z_val}")
    return out


@functools.cache
def _encoded(path: Path) -> tuple[ir.Spec, StepEncoding, Interpreter]:
    spec = _real(path)[0]
    return spec, StepEncoding(spec), Interpreter(spec)


@st.composite
def steps(draw: st.DrawFn, spec: ir.Spec, interp: Interpreter) -> tuple[State, str, tuple[Any, ...]]:
    state = draw(states(spec))
    act = draw(st.sampled_from(spec.actions))
    args = draw(st.sampled_from(interp.args(act)))
    return state, act.name, args


@pytest.mark.parametrize("path", SPEC_FILES, ids=_ids)
@suite(25)
@given(data=st.data())
def test_real_spec_step_agrees_on_random_states(path: Path, data: st.DataObject) -> None:
    spec, enc, interp = _encoded(path)
    state, action, args = data.draw(steps(spec, interp))
    bad = step_disagreements(spec, enc, interp, state, action, args)
    assert not bad, (bad, state, action, args)


@suite(60)
@given(text=spec_texts(), data=st.data(), ints=st.booleans())
def test_generated_spec_step_agrees_on_random_states(text: str, data: st.DataObject, ints: bool) -> None:
    """Both integer encodings: bit-vectors of the analysed width (the default), and Ints."""
    spec = _load_generated(text)
    enc, interp = StepEncoding(spec, None if ints else "auto"), Interpreter(spec)
    for _ in range(4):
        state, action, args = data.draw(steps(spec, interp))
        bad = step_disagreements(spec, enc, interp, state, action, args)
        assert not bad, (bad, state, action, args, text)


# ----------------------------------------------------------------------------- known bugs
# A false `assert` stops the step in interp.py (AssertFailure), but encode_step.py keeps
# executing the rest of the action: its well-definedness obligations and later asserts
# are not guarded by the earlier asserts holding. BMC then reports violations that the
# interpreter cannot replay (ReplayMismatch), and auto can disagree with explicit.
ASSERT_THEN_UNWRAP = """
spec t
var x: 0 .. 2
var o: option 0 .. 2
init { x = 0; o = none }
action a() { assert x == 1; let y = o!; x = y }
"""

ASSERT_THEN_ASSERT = """
spec t
var x: 0 .. 2
init { x = 0 }
action a() { assert x == 1; assert x == 2; x = 1 }
"""


# Regression: the z3 encoding once kept evaluating statements after a false assert
# (interp stops there), so BMC reported well_defined and the trace failed replay.
@pytest.mark.parametrize("text", [ASSERT_THEN_UNWRAP, ASSERT_THEN_ASSERT], ids=["unwrap", "assert"])
def test_a_false_assert_stops_the_step_in_z3_too(text: str) -> None:
    spec = load_text(SourceFile("t.tee", text))
    ex = run(spec, RunOptions(engine="explicit"))
    bm = run(spec, RunOptions(engine="bmc", depth=2))
    assert not bmc_disagreements(ex, bm), bmc_disagreements(ex, bm)


def test_no_well_definedness_obligation_after_a_false_assert() -> None:
    spec = load_text(SourceFile("t.tee", ASSERT_THEN_UNWRAP))
    interp = Interpreter(spec)
    bad = step_disagreements(spec, StepEncoding(spec), interp, interp.init(), "a", ())
    assert not bad, bad
