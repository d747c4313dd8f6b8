"""Bounded model checking: every property of a spec in one incremental unrolling.

In: an `ir.Spec`, its `StepEncoding`, a depth N, a `Budget` and a seed. Out: one `Result`
per property and `Stats`. One solver; the template step is instantiated per step; at
depth k the solver holds exactly k steps from the initial state, and every undecided
property is asked about depth k before step k+1 is added, so each trace is a shortest
one. Traces are decoded from the encoder's own table of per-step constants (`_Frame`),
then the pipeline replays them through interp.py. Never prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import z3

from checker import ir
from checker.encode import _and, _or, decode, lift
from checker.encode import eq as sym_eq
from checker.encode_step import StepEncoding
from checker.interp import AssertFailure, Interpreter, SpecRuntimeError
from checker.result import Failure, Result, Stats, Step, Trace, Verdict
from checker.smt import Answer, Budget, check, new_solver


@dataclass
class _Frame:
    """The constants of step k: state k (pre), state k+1 (post), act, out, params."""

    k: int
    pairs: list[tuple[Any, Any]]
    table: dict[int, Any] | None = None

    def lookup(self, x: Any) -> Any:
        """The step-k constant for template leaf `x` (a dictionary lookup: substituting
        per leaf made decoding quadratic in the state size); an expression that is not a
        template constant is substituted as a whole."""
        if self.table is None:
            self.table = {c.get_id(): new for c, new in self.pairs}
        if z3.is_const(x):  # a template constant, or a literal/other constant left as is
            return self.table.get(x.get_id(), x)
        return z3.substitute(x, *self.pairs)


def sym_map(v: Any, f: Any) -> Any:
    """Apply f to every z3 leaf of a symbolic value."""
    from checker.encode import SOpt, SSet

    if isinstance(v, tuple):
        return tuple(sym_map(x, f) for x in v)
    if isinstance(v, SOpt):
        return SOpt(f(v.present), None if v.value is None else sym_map(v.value, f))
    if isinstance(v, SSet):
        return SSet(tuple((f(g), sym_map(x, f)) for g, x in v.elems))
    return f(v)


class Unroller:
    """Shared by BMC and k-induction: frames, instantiation and trace decoding."""

    def __init__(self, spec: ir.Spec, enc: StepEncoding) -> None:
        self.spec = spec
        self.enc = enc
        self.frames: list[_Frame] = []

    def frame(self, k: int) -> _Frame:
        while len(self.frames) <= k:
            n = len(self.frames)
            self.frames.append(_Frame(n, self.enc.frame_pairs(n)))
        return self.frames[k]

    def at(self, f: Any, k: int) -> Any:
        return self.enc.instantiate(f, self.frame(k).pairs)

    def state(self, k: int) -> tuple[Any, ...]:
        """The symbolic state k (the pre-state of frame k)."""
        fr = self.frame(k)
        return tuple(sym_map(v, fr.lookup) for v in self.enc.pre)

    def decode_state(self, k: int, model: z3.ModelRef) -> tuple[Any, ...]:
        st = self.state(k)
        return tuple(decode(v, var.type, model) for v, var in zip(st, self.spec.vars, strict=True))

    def decode_step(self, k: int, model: z3.ModelRef, error: bool = False) -> Step:
        """Step k (from state k to state k+1) as the model chose it."""
        fr = self.frame(k)
        act_i = model.eval(fr.lookup(self.enc.act), model_completion=True).as_long()
        action = self.spec.actions[act_i]
        params = self.enc.params[action.name]
        args = tuple(decode(sym_map(v, fr.lookup), p.type, model)
                     for v, p in zip(params, action.params, strict=True))
        if error:
            return Step(action.name, action.actor_label(args), tuple(zip((p.name for p in action.params), args, strict=True)),
                        "error", self.decode_state(k, model))
        out = model.eval(fr.lookup(self.enc.out), model_completion=True).as_long()
        return Step(action.name, action.actor_label(args), tuple(zip((p.name for p in action.params), args, strict=True)),
                    self.enc.codes[out], self.decode_state(k + 1, model))


def _failure_of(spec: ir.Spec, interp: Interpreter, trace: Trace, prop: str) -> Failure | None:
    """Ask the interpreter where the last step or state goes wrong (for error traces)."""
    state = trace.steps[-2].state if len(trace.steps) >= 2 else trace.init
    last = trace.steps[-1] if trace.steps else None
    if last is not None and last.outcome == "error":
        try:
            interp.step(state, last.action, tuple(v for _, v in last.args))
        except SpecRuntimeError as err:
            if prop == "well_defined" or (isinstance(err, AssertFailure) and err.prop == prop):
                return Failure(err.span, err.message)
        return None
    final = trace.final
    prev = trace.steps[-2].state if len(trace.steps) >= 2 else trace.init
    for p in spec.properties:
        if p.expr is None or p.kind == "assert":
            continue
        if p.kind == "transition" and (last is None or (p.on is not None and last.action not in p.on)):
            continue
        try:
            interp.holds(p.name, final, prev if p.kind == "transition" else None)
        except SpecRuntimeError as err:
            return Failure(err.span, err.message)
    return None


def bmc(spec: ir.Spec, enc: StepEncoding, depth: int, budget: Budget, seed: int = 0,
        progress: Any = None, decided: frozenset[str] = frozenset(),
        assume: tuple[str, ...] = (), facts: tuple[Any, ...] = (),
        facts_within: Callable[[int], list[Any]] | None = None) -> tuple[list[Result], Stats]:
    """`decided`: properties already proved elsewhere (not asked about; a decided
    `well_defined` means no evaluation is ill-defined in a reachable state, so invariants
    are assumed where they held without asking about their own well-definedness);
    `assume`: invariants proved to hold in every reachable state, added to every frame to
    prune; `facts`: other formulas over the template pre-state that hold in every reachable
    state (IC3's strengthening lemmas); `facts_within(k)`: formulas that hold in every state
    reachable within k steps (the clauses of IC3's frame k), added to state k."""
    t0 = time.monotonic()
    interp = Interpreter(spec)
    un = Unroller(spec, enc)
    results: dict[str, Result] = {}
    invs = [p for p in spec.properties if p.kind == "invariant" and p.name not in decided]
    covers = [p for p in spec.properties if p.kind == "cover" and p.name not in decided]
    trans = [p for p in spec.properties if p.kind == "transition" and p.name not in decided]
    asserts = [p for p in spec.properties if p.kind == "assert" and p.name not in decided]
    wd_open = "well_defined" not in decided
    ill: set[str] = set()

    def found(name: str, kind: str, verdict: Verdict, k: int, trace: Trace) -> None:
        if name not in results:
            results[name] = Result(name, kind, verdict, k, trace, time_s=time.monotonic() - t0, engine="bmc")

    try:
        init = interp.init()
    except SpecRuntimeError as err:
        name = err.prop if isinstance(err, AssertFailure) else "well_defined"
        found(name, spec.property(name).kind, Verdict.VIOLATED, 0, Trace((), (), Failure(err.span, err.message)))
        return _finish(spec, results, ill, 0, t0, "the initial state is not well defined"), \
            Stats(0, 0, 0, time.monotonic() - t0, False, "init failed")

    solver = new_solver(seed, enc.logic)
    s0 = un.state(0)
    solver.add(_and(*(sym_eq(v, lift(x, var.type, enc.width), var.type) for v, x, var in zip(s0, init, spec.vars, strict=True))))
    stopped: str | None = None
    reached = 0

    def ask(query: Any) -> tuple[Answer, str | None, z3.ModelRef | None]:
        solver.push()
        solver.add(query)
        ans, why = check(solver, budget)
        model = solver.model() if ans is Answer.SAT else None
        solver.pop()
        return ans, why, model

    def trace_to(k: int, model: z3.ModelRef, error_step: bool = False) -> Trace:
        states_init = un.decode_state(0, model)
        steps = [un.decode_step(i, model) for i in range(k)]
        if error_step:
            steps.append(un.decode_step(k, model, error=True))
        return Trace(states_init, tuple(steps))

    # The local pre-check: a goal at depth k >= 1 needs a state reachable in k-1 steps, and
    # every invariant not violated within k-1 steps (`held`) holds there. If no state that
    # satisfies `held` steps into the goal, the goal is unsatisfiable at depth k, without
    # the k-step unrolling; and at every later depth while `held` stays the same. When the
    # invariants are inductive (a well-written spec) every depth then costs one small query.
    local = new_solver(seed, enc.logic)
    local.add(un.at(enc.domain, 0), un.at(enc.trans, 0), un.at(enc.domain, 1))
    lits: dict[tuple[str, int], Any] = {}
    for p in invs:
        for i in (0, 1):
            lits[p.name, i] = z3.Bool(f"held!{p.name}@{i}")
            local.add(z3.Implies(lits[p.name, i], un.at(enc.good(p.name), i)))
    for name in assume:
        local.add(un.at(enc.good(name), 0), un.at(enc.good(name), 1))
    for f in facts:
        local.add(un.at(f, 0), un.at(f, 1))
    local_known: dict[tuple[frozenset[str], frozenset[str], tuple[str, str, bool, bool]], bool] = {}

    def held() -> frozenset[str]:
        return frozenset(p.name for p in invs if p.name not in results and p.name not in ill)

    def locally_impossible(g: Goal, k: int, frame0_held: frozenset[str], frame1_held: frozenset[str]) -> bool:
        """A goal at depth k >= 1 that no step from a `held` state reaches (see above). One
        query per goal and set of held invariants: the answer is the same at every depth."""
        if k == 0:
            return False
        key = (frame0_held, frame1_held, (g[0], g[1], g[2] is None, g[5]))
        if key not in local_known:
            local.push()
            local.add(un.at(g[3], g[4] - k + 1))
            ans, _ = check(local, budget, *(lits[n, 0] for n in frame0_held), *(lits[n, 1] for n in frame1_held))
            local.pop()
            if ans is Answer.UNKNOWN and budget.expired():
                return False  # the unrolling reports the time-out
            local_known[key] = ans is Answer.UNSAT  # unknown: ask the unrolling
        return local_known[key]

    def settle(goals: list[Goal], k: int, frame1_held: frozenset[str] = frozenset()) -> None:
        """Decide every goal satisfiable at this depth: one query for all, then one more per
        model found (each model settles every goal it satisfies). goal: (name, kind,
        verdict or None for an ill-definedness goal, template formula, frame, ends with an
        error step)."""
        nonlocal stopped
        open_goals = [g for g in goals if not _done(g) and not locally_impossible(g, k, held_before, frame1_held)]
        while open_goals:
            ans, why, m = ask(_or(*(un.at(g[3], g[4]) for g in open_goals)))
            if ans is Answer.UNKNOWN:
                stopped = why
                raise _Stop
            if ans is Answer.UNSAT or m is None:
                return
            hit = [g for g in open_goals if z3.is_true(m.eval(un.at(g[3], g[4]), model_completion=True))]
            for name, kind, verdict, _f, _frame, error_step in hit:
                length = k + 1 if error_step else k
                tr = trace_to(k, m, error_step)
                if verdict is None:  # the property's own evaluation is ill-defined here
                    ill.add(name)
                    found("well_defined", "well_defined", Verdict.VIOLATED, length,
                          Trace(tr.init, tr.steps, _failure_of(spec, interp, tr, "well_defined")))
                elif kind in ("well_defined", "assert"):
                    found(name, kind, verdict, length, Trace(tr.init, tr.steps, _failure_of(spec, interp, tr, name)))
                else:
                    found(name, kind, verdict, length, tr)
            open_goals = [g for g in open_goals if not _done(g) and g not in hit]

    def _done(g: Goal) -> bool:
        name, _kind, verdict, _f, _frame, _e = g
        return name in ill if verdict is None else name in results

    held_before: frozenset[str] = frozenset()  # invariants held in every state of depth < k
    try:
        for k in range(depth + 1):
            reached = k
            if progress:
                progress(k, len(results), 0)
            for name in assume:
                solver.add(un.at(enc.good(name), k))
            for f in (*facts, *(facts_within(k) if facts_within is not None else ())):
                solver.add(un.at(f, k))
            goals: list[Goal] = []
            # ---- properties of state k (traces of k steps)
            for p in invs + covers:
                wd = enc.prop_wd[p.name]
                if wd and p.name not in ill and wd_open:
                    goals.append((p.name, p.kind, None, _or(*(o.cond for o in wd)), k, False))
                if p.name in results:
                    continue
                good = _and(*(z3.Not(o.cond) for o in wd)) if wd else z3.BoolVal(True)
                goal = z3.Not(enc.props[p.name]) if p.kind == "invariant" else enc.props[p.name]
                verdict = Verdict.VIOLATED if p.kind == "invariant" else Verdict.REACHABLE
                goals.append((p.name, p.kind, verdict, _and(goal, good), k, False))
            # ---- transition properties on step k-1 -> k
            if k >= 1:
                for p in trans:
                    wd = enc.prop_wd[p.name]
                    if wd and p.name not in ill and wd_open:
                        goals.append((p.name, p.kind, None, _or(*(o.cond for o in wd)), k - 1, False))
                    if p.name in results:
                        continue
                    good = _and(*(z3.Not(o.cond) for o in wd)) if wd else z3.BoolVal(True)
                    goals.append((p.name, p.kind, Verdict.VIOLATED, _and(z3.Not(enc.props[p.name]), good), k - 1, False))
            settle(goals, k)
            # Every invariant not violated within k steps holds in every state reachable in
            # k steps, so it may be assumed of state k from now on: shortest traces are kept
            # (their earlier states are such states) and the solver prunes with it.
            held_now = held()
            for name in held_now - set(assume):
                solver.add(un.at(enc.good(name), k))
            if k == depth:
                break
            # ---- errors in step k (traces of k+1 steps)
            solver.add(un.at(enc.domain, k))
            goals = []
            if "well_defined" not in results and wd_open:
                goals.append(("well_defined", "well_defined", Verdict.VIOLATED, enc.step_error(), k, True))
            for p in asserts:
                if p.name in results:
                    continue
                goals.append((p.name, "assert", Verdict.VIOLATED, enc.assert_fails(p.name, exclusive=True), k, True))
            settle(goals, k, frame1_held=held_now)
            solver.add(un.at(enc.trans, k))
            held_before = held_now
            if all(p.name in results or p.name in decided for p in spec.properties):
                stopped = "all properties decided"
                break
    except _Stop:
        pass
    except KeyboardInterrupt:
        stopped = "interrupted"
    out = [r for r in _finish(spec, results, ill, reached, t0, stopped) if r.prop not in decided]
    return out, Stats(0, 0, reached, time.monotonic() - t0, False, stopped)


class _Stop(Exception):
    pass


# (name, kind, verdict or None for an ill-definedness goal, template formula, frame, error step)
Goal = tuple[str, str, Verdict | None, Any, int, bool]



def _finish(spec: ir.Spec, results: dict[str, Result], ill: set[str], depth: int, t0: float,
            stopped: str | None) -> list[Result]:
    out = []
    elapsed = time.monotonic() - t0
    for p in spec.properties:
        if p.name in results:
            out.append(results[p.name])
        elif p.name in ill:
            out.append(Result(p.name, p.kind, Verdict.UNKNOWN, reason="not well defined in a reachable state: see well_defined",
                              time_s=elapsed, engine="bmc"))
        elif stopped and stopped not in ("all properties decided",):
            done = depth - 1  # depth `depth` was being checked when the run stopped
            why = f"{stopped}; holds to depth {done}" if done >= 0 and p.kind != "cover" else (
                f"{stopped}; not reached within depth {done}" if done >= 0 else stopped)
            out.append(Result(p.name, p.kind, Verdict.UNKNOWN, reason=why, time_s=elapsed, engine="bmc"))
        elif p.kind == "cover":
            out.append(Result(p.name, p.kind, Verdict.UNKNOWN, reason=f"not reached within depth {depth}",
                              time_s=elapsed, engine="bmc"))
        else:
            out.append(Result(p.name, p.kind, Verdict.HOLDS_TO_DEPTH, depth, time_s=elapsed, engine="bmc"))
    return out
