"""The z3 engines: proofs, counterexamples to induction, bounds and time-outs.

The agreement of BMC with the explicit checker on every spec is in test_differential.py;
here each engine's own promises are pinned on small inline specs.
"""

from __future__ import annotations

import time

import pytest

from checker.encode_step import StepEncoding
from checker.engines.bmc import bmc
from checker.engines.induction import k_induction, one_induction
from checker.ir import Spec
from checker.pipeline import RunOptions, load_text, run
from checker.result import Verdict
from checker.smt import Budget
from checker.source import SourceFile

# `a != 8` holds (only 0 and 1 are reachable) but is not inductive: from the unreachable
# state 2 a chain of steps leads to 8, longer than k-induction's bound (4), so only an
# engine that finds the strengthening (PDR) proves it.
CHAIN = """
spec chain "a true invariant that needs strengthening"
var a: 0 .. 9
init { a = 0 }
action toggle() { require a <= 1; a = 1 - a }
action drift() { require a >= 2 and a < 9; a = a + 1 }
invariant not_eight: a != 8
expect not_eight holds
"""

TWO_STEP = """
spec two "2-inductive but not 1-inductive"
var a: 0 .. 3
init { a = 0 }
action flip() { require a <= 1; a = 1 - a }
action jump() { require a == 2; a = 3 }
invariant not_three: a != 3
expect not_three holds
"""

VIOLATED = """
spec counter "a bug three steps deep"
var x: 0 .. 5
init { x = 0 }
action inc() by env { require x < 5; x = x + 1 }
invariant small: x < 3
cover two: x == 2
transition up on inc: x == old(x) + 1
expect small violated within 3
"""


def _load(text: str) -> Spec:
    return load_text(SourceFile("inline.tee", text))


@pytest.mark.parametrize("engine", ["auto", "pdr", "spacer"])
def test_pdr_proves_what_induction_cannot_and_the_cti_is_kept(engine: str) -> None:
    spec = _load(CHAIN)
    r = run(spec, RunOptions(engine=engine, depth=3, vacuity=False)).results[0]
    assert r.verdict is Verdict.PROVED, r
    # IC3 over the finite encoding in auto and pdr; z3's Spacer on request
    assert (r.reason or "").startswith("PDR (Spacer)" if engine == "spacer" else "IC3 ("), r.reason
    if engine == "auto":  # 1-induction ran first and kept its counterexample to induction
        assert r.cti is not None
        pre, step = r.cti.init, r.cti.steps[0]
        assert pre[0] == 7 and step.action == "drift" and step.state[0] == 8


# `a == 8` is unreachable for the reason CHAIN's invariant holds: no cover check of one step
# from the (no) proved invariants shows it, IC3 does (the cover is its bad state); likewise
# the transitions and the assert hold only because no `drift` step is ever taken.
CHAIN_MACHINE = """
var a: 0 .. 9
init { a = 0 }
action toggle() { require a <= 1; a = 1 - a }
action drift() { require a >= 2 and a < 9; assert a != 5; a = a + 1 }
"""
COVER_CHAIN = '\nspec chain_cover "a cover that only a strengthening shows unreachable"' + CHAIN_MACHINE + """\
cover eight: a == 8
cover one: a == 1
cover five_deep: a == 5
transition stays_low: a <= 1
transition drift_ends_high on drift: a > old(a)
expect eight unreachable
"""


@pytest.mark.parametrize("engine", ["auto", "pdr", "spacer"])
def test_covers_and_step_properties_are_proved_by_pdr_and_never_assumed(engine: str) -> None:
    res = {r.prop: r for r in run(_load(COVER_CHAIN), RunOptions(engine=engine, depth=3, vacuity=False)).results}
    assert res["eight"].verdict is Verdict.UNREACHABLE, res["eight"]
    assert (res["eight"].reason or "").startswith("PDR (Spacer)" if engine == "spacer" else "IC3 ("), res["eight"]
    assert res["one"].verdict is Verdict.REACHABLE and res["one"].depth == 1
    # proving `eight` unreachable must not make the engines assume it (or any cover) holds
    assert res["five_deep"].verdict is Verdict.UNREACHABLE, res["five_deep"]
    # the step properties need the same strengthening (no step of `drift` is reachable)
    for name in ("stays_low", "assert_drift_L6", "drift_ends_high"):
        assert res[name].verdict is Verdict.PROVED, res[name]


@pytest.mark.parametrize("engine", ["auto", "pdr"])
def test_ic3_proves_step_properties_that_need_a_strengthening(engine: str) -> None:
    text = ('\nspec chain_steps "a transition and an assert that hold only because drift never runs"'
            + CHAIN_MACHINE + "transition stays_low: a <= 1\n")
    res = {r.prop: r for r in run(_load(text), RunOptions(engine=engine, depth=3, vacuity=False)).results}
    for name in ("stays_low", "assert_drift_L6"):
        assert res[name].verdict is Verdict.PROVED, res[name]
        assert (res[name].reason or "").startswith("IC3 ("), res[name]


def test_ic3_says_how_deep_a_cover_beyond_the_bmc_depth_is() -> None:
    text = """
spec deep "a cover deeper than the BMC bound"
var a: 0 .. 9
init { a = 0 }
action inc() { require a < 9; a = a + 1 }
cover six: a == 6
"""
    r = run(_load(text), RunOptions(engine="pdr", depth=2, vacuity=False)).results[0]
    assert r.verdict is Verdict.UNKNOWN and (r.reason or "").startswith("not reached within depth 2"), r
    assert r.note == "IC3: a path of 6 steps to it (rerun with --depth 6 for the trace)", r.note


def test_induction_engine_alone_reports_the_cti_and_only_a_bound() -> None:
    r = run(_load(CHAIN), RunOptions(engine="induction", depth=3, vacuity=False)).results[0]
    assert r.verdict is Verdict.HOLDS_TO_DEPTH and r.depth == 3
    assert r.cti is not None


def test_one_induction_fails_and_k_induction_proves() -> None:
    spec = _load(TWO_STEP)
    enc = StepEncoding(spec)
    out = one_induction(spec, enc, ["not_three"], Budget())
    assert "not_three" in out.ctis and not out.proved
    k, why = k_induction(spec, enc, "not_three", [], 4, Budget())
    assert k == 2 and why is None
    r = run(spec, RunOptions(engine="induction", depth=3, vacuity=False)).results[0]
    assert r.verdict is Verdict.PROVED and r.reason == "2-induction"


def test_bmc_shortest_trace_and_cover_and_transition() -> None:
    spec = _load(VIOLATED)
    res = {r.prop: r for r in run(spec, RunOptions(engine="bmc", depth=6, vacuity=False)).results}
    assert res["small"].verdict is Verdict.VIOLATED and res["small"].depth == 3
    assert [s.action for s in res["small"].trace.steps] == ["inc"] * 3  # type: ignore[union-attr]
    assert res["two"].verdict is Verdict.REACHABLE and res["two"].depth == 2
    assert res["up"].verdict is Verdict.HOLDS_TO_DEPTH


def test_an_expired_budget_gives_unknown_with_the_reason_never_a_verdict() -> None:
    spec = _load(VIOLATED)
    results, _ = bmc(spec, StepEncoding(spec), 5, Budget(time.monotonic() - 1))
    assert {r.verdict for r in results} == {Verdict.UNKNOWN}
    assert all(r.reason == "time-out" for r in results)


def test_vacuity_warnings() -> None:
    text = """
spec vac
var x: 0 .. 2
init { x = 0 }
action never() { require x == 3 - 0 and false; x = 1 }
action step() { require x < 2 else FULL; require x >= 0 else NEGATIVE; x = x + 1 }
invariant tautology: x <= 2
invariant real: x != 3
"""
    for engine in ("explicit", "bmc"):
        w = run(_load(text), RunOptions(engine=engine, depth=4)).warnings
        assert any("`never` never takes a step" in x for x in w), (engine, w)
        assert any("NEGATIVE" in x for x in w), (engine, w)
        assert not any("FULL" in x for x in w), (engine, w)
        assert any("`tautology` is true of every state" in x for x in w), (engine, w)


def test_coverage_says_proved_never_from_proved_invariants() -> None:
    """With the z3 engines, a pair no state satisfying the proved invariants can take is
    reported as impossible in any reachable state; a pair merely not seen says its depth."""
    text = """
spec cov
var x: 0 .. 3
init { x = 0 }
action inc() { require x < 2 else FULL; x = x + 1 }
action probe() { require x != 3 else THREE }
invariant le2: x <= 2
"""
    w = run(_load(text), RunOptions(engine="induction", depth=4)).warnings
    assert any("`probe` never ends in `THREE` in any reachable state (proved)" in x for x in w), w
    w = run(_load(text), RunOptions(engine="bmc", depth=4)).warnings  # nothing proved: a bound
    assert any("`probe` never ends in `THREE` within 4 steps" in x for x in w), w


def test_jobs_run_the_proofs_in_processes_with_the_same_verdicts(tmp_path: object) -> None:
    from pathlib import Path

    from checker.pipeline import load

    text = CHAIN.replace("expect not_eight holds", "") + """
var b: 0 .. 9
action toggle_b() { require b <= 1; b = 1 - b }
action drift_b() { require b >= 2 and b < 9; b = b + 1 }
invariant b_not_eight: b != 8
""".replace("init { a = 0 }", "")
    text = text.replace("init { a = 0 }", "init { a = 0  b = 0 }")
    path = Path(str(tmp_path)) / "two.tee"
    path.write_text(text)
    _, spec = load(str(path))
    for jobs in (1, 2):  # Spacer's queries run in processes with --jobs
        res = run(spec, RunOptions(engine="spacer", depth=3, jobs=jobs, vacuity=False)).results
        by = {r.prop: r for r in res}
        assert by["not_eight"].verdict is Verdict.PROVED and by["b_not_eight"].verdict is Verdict.PROVED, jobs
        assert by["b_not_eight"].reason == "PDR (Spacer)"


def test_a_violated_invariant_is_no_premise_of_follows_from_the_others() -> None:
    text = """
spec premise
var x: 0 .. 2
init { x = 0 }
action up() { require x < 2; x = x + 1 }
invariant zero: x == 0
invariant small: x <= 1
"""
    w = run(_load(text), RunOptions(engine="explicit")).warnings
    assert not any("`small` follows" in x for x in w), w  # `zero` is violated: no premise


def test_reachable_states_lists_every_state_and_honours_the_bound() -> None:
    """explore.reachable_states (for tests that compare semantics) on the 3-step counter."""
    from checker.explore import reachable_states

    spec = _load(VIOLATED)
    assert sorted(s[0] for s in reachable_states(spec)) == [0, 1, 2, 3, 4, 5]
    assert len(reachable_states(spec, 3)) == 3


SNP_HELPERS = ("integrity_sealed", "launch_once", "record_complete", "wrote_recorded", "sealed_perms")


def snp_without_helpers() -> str:
    """spec/snp.tee without the invariants it states to make the others 1-inductive."""
    from pathlib import Path

    out, skipping = [], False
    for line in (Path(__file__).parents[2] / "spec" / "snp.tee").read_text().splitlines():
        words = line.split()
        if line and not line[0].isspace():
            skipping = len(words) >= 2 and words[0] == "invariant" and words[1].rstrip(":") in SNP_HELPERS
            if len(words) >= 2 and words[0] == "expect" and words[1] in SNP_HELPERS:
                continue
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n"


def test_ic3_proves_an_snp_invariant_that_needs_strengthening_without_helpers() -> None:
    """vmpl0_full of spec/snp.tee is not 1-inductive once the helper invariants are gone
    (1-induction shows a counterexample to induction); IC3 finds the strengthening."""
    import time

    from checker.encode_step import StepEncoding
    from checker.engines.ic3 import ic3_prove
    from checker.engines.induction import one_induction
    from checker.interp import Interpreter
    from checker.smt import Budget

    spec = load_text(SourceFile("snp_nohelp.tee", snp_without_helpers()))
    assert not set(SNP_HELPERS) & {p.name for p in spec.properties}
    enc = StepEncoding(spec)
    invs = [p.name for p in spec.properties if p.kind == "invariant"]
    ind = one_induction(spec, enc, invs, Budget())
    assert "vmpl0_full" in ind.ctis and "vmpl0_full" not in ind.proved
    out = ic3_prove(spec, enc, Interpreter(spec).init(), ["vmpl0_full"], Budget(time.monotonic() + 120),
                    list(ind.proved))
    assert out.proved == ("vmpl0_full",), out.unknown
    assert out.lemmas  # the strengthening it found, true in every reachable state


def test_the_auto_pre_pass_gives_up_only_when_the_frontier_cannot_be_expanded_in_time() -> None:
    """`give_up_early`: stop when the states left to expand, at the rate so far, need more
    than twice the CPU time left; never before `deadline_after` states, never without it."""
    from checker.explore import ExploreOptions, _Search

    def search(**kw: object) -> _Search:
        s = _Search(_load(CHAIN), ExploreOptions(**kw))  # type: ignore[arg-type]
        s.states = [()] * 3000  # as if 3000 states were stored
        s.expanded, s.cpu_start = 100, time.process_time() - 1.0  # 10 ms per state so far
        return s

    now = time.process_time()
    on = {"give_up_early": True, "cpu_deadline": now + 1.0, "deadline_after": 2000}
    assert search(**on)._cannot_finish(1000)  # ~10 s of work, 1 s left
    assert not search(**on)._cannot_finish(50)  # ~0.5 s of work: within twice the time left
    assert not search(**{**on, "give_up_early": False})._cannot_finish(10**6)
    assert not search(**{**on, "deadline_after": 10**6})._cannot_finish(10**6)
    # the examples' exhaustive searches still finish under `auto`
    r = run(_load(CHAIN), RunOptions(engine="auto", vacuity=False))
    assert r.engine == "auto (explicit: exhaustive)" and r.results[0].verdict is Verdict.PROVED


def test_coverage_takes_the_pairs_a_partial_explicit_search_saw() -> None:
    """The explicit pre-pass of `auto` reports the first step of every (action, outcome) it
    saw; the z3 coverage pass does not search those again, and ignores what lies beyond its
    depth."""
    from checker.engines.vacuity import coverage_bmc
    from checker.explore import ExploreOptions, explore
    from checker.interp import Interpreter

    spec = _load(VIOLATED)
    _, stats = explore(spec, ExploreOptions(max_states=3))
    assert not stats.complete and ("inc", "ok", 1) in stats.coverage_first
    enc, init = StepEncoding(spec), Interpreter(spec).init()
    assert coverage_bmc(spec, enc, init, 2, Budget()).first[("inc", "ok")] == 1
    # a known pair is taken as given (this one is "seen" later than BMC would find it)
    assert coverage_bmc(spec, enc, init, 2, Budget(), known={("inc", "ok"): 2}).first[("inc", "ok")] == 2
    assert coverage_bmc(spec, enc, init, 2, Budget(), known={("inc", "ok"): 3}).first[("inc", "ok")] == 1


def test_the_timeout_watchdog_stops_what_no_engine_can_and_keeps_what_was_found(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A step that never looks at the clock (here: building the encoding, made to hang) is
    stopped by the --timeout watchdog; the violation the explicit pre-pass had found is still
    reported, with its trace, and the rest is `unknown (time-out)`."""
    import checker.encode_step

    def hang(self: object, spec: object) -> None:
        time.sleep(60)
        raise AssertionError("the watchdog did not fire")

    monkeypatch.setattr(checker.encode_step.StepEncoding, "__init__", hang)
    text = """
spec big "a violation at step 1 in a state space too big to search"
var x: 0 .. 1
var m: 0 .. 200 -> 0 .. 200
init { x = 0; m = map i: 0 .. 200. 0 }
action flip() { x = 1 }
action put(i: 0 .. 200, v: 0 .. 200) { m[i] = v }
invariant zero: x == 0
invariant small: m[0] + m[1] <= 400
"""
    res = run(_load(text), RunOptions(engine="auto", timeout=1.0, vacuity=True))
    got = {r.prop: r for r in res.results}
    assert got["zero"].verdict is Verdict.VIOLATED and got["zero"].depth == 1 and got["zero"].trace is not None
    assert got["small"].verdict is Verdict.UNKNOWN and got["small"].reason == "time-out", got["small"]
    assert res.stats.stopped == "time-out"


def test_ctrl_c_in_a_proof_step_keeps_what_was_proved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or the time-out watchdog, a KeyboardInterrupt too) in k-induction, which does
    not catch it itself: 1-induction's proof and BMC's bound are still reported."""
    import checker.engines.portfolio as portfolio

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(portfolio, "k_induction", interrupted)
    text = TWO_STEP.replace("invariant not_three", "invariant in_range: a <= 3\ninvariant not_three")
    res = {r.prop: r for r in run(_load(text), RunOptions(engine="induction", depth=3, vacuity=False)).results}
    assert res["in_range"].verdict is Verdict.PROVED
    assert res["not_three"].verdict is Verdict.HOLDS_TO_DEPTH or (
        res["not_three"].verdict is Verdict.UNKNOWN and res["not_three"].reason == "interrupted"), res["not_three"]
