"""IC3 / PDR over the finite step encoding: proofs that find their own strengthening.

In: an `ir.Spec`, its `StepEncoding` (finite: every leaf a Bool or a bit-vector), the concrete
initial state, the names of the properties to prove (the goals: invariants; covers, proved
unreachable; transitions, asserts and `well_defined`, whose bad state is the pre-state of a
step that breaks them), the names of invariants already proved (assumed in every state), a
`Budget`. Out: `Ic3Outcome`: the goals proved, those refuted (a bad state is reachable, with
the length of the path IC3 found to it), the inductive strengthening it built (clauses over
the template's pre-state leaves), and counters.

The algorithm is Bradley's IC3 in the form of Een, Mishchenko and Brayton ("Efficient
implementation of property directed reachability", FMCAD 2011). Frames F_1..F_k are sets of
clauses over the state leaves; F_i over-approximates the states reachable in at most i steps,
F_0 is the initial state. A state of F_k that violates a goal is a proof obligation; it is
blocked at level i by showing F_{i-1} and not c and Trans imply not c' (relative induction),
else its predecessor (lifted to a cube by an unsat core) becomes an obligation at i-1. Blocked
cubes are generalised by the unsat core of the query and then by dropping literals (MIC), and
never so far that they would meet the initial state. After each level, clauses are pushed
forward; when a frame equals the next, it is an inductive invariant that excludes every bad
state: every goal is proved.

Soundness: a goal is reported proved only at that fixpoint; the invariants passed as `assumed`
must already be proved (they hold in every reachable state, so intersecting every frame with
them keeps each frame an over-approximation). Frames never depend on the goals, so when a goal
is refuted it is dropped and the others continue on the same frames. Literals are `leaf == v`
(bit-vectors) and `leaf` / `not leaf` (Booleans).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from typing import Any

import z3

from checker import ir
from checker.encode import SOpt, SSet, _and, lift
from checker.encode import eq as sym_eq
from checker.encode_step import StepEncoding
from checker.smt import Answer, Budget, check, new_solver

Cube = tuple[tuple[int, Any], ...]  # (leaf index, value) pairs, sorted by index
# goals whose bad state is the pre-state of a bad step: refuted at n steps = violated at n + 1
STEP_KINDS = frozenset({"transition", "assert", "well_defined"})


@dataclass(frozen=True)
class Ic3Outcome:
    """What one IC3 run established.

    proved: goals that hold in every reachable state (empty unless a fixpoint was reached).
    refuted: goal -> number of steps of the path IC3 found to a state violating it.
    unknown: the reason the run stopped without a fixpoint ("" when it reached one).
    lemmas: the inductive strengthening (z3 clauses over the template pre leaves) when proved.
    frames, queries, lemma_count: effort counters for reports and benchmarks.
    """

    proved: tuple[str, ...]
    refuted: tuple[tuple[str, int], ...]
    unknown: str
    lemmas: tuple[Any, ...]
    frames: int
    queries: int
    lemma_count: int


class _Obligation:
    __slots__ = ("cube", "level", "depth")

    def __init__(self, cube: Cube, level: int, depth: int) -> None:
        self.cube, self.level, self.depth = cube, level, depth


class Ic3:
    """One run; see the module docstring. Solvers:
    main: pre-state ranges and assumed invariants; under `step_lit` Trans and the assumed
    invariants of the post-state; the frame clauses under their level literals;
    lift: Trans's post-state definitions without its enabledness (predecessor lifting);
    lift_bad: the pre-state alone (shrinking a bad cube);
    init: the initial state's constraints (its values, for `meets_init`)."""

    def __init__(self, spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], goals: list[str],
                 assumed: list[str], seed: int = 0, facts: tuple[Any, ...] = ()) -> None:
        if enc.width is None:
            raise ValueError("IC3 needs the finite (bit-vector) encoding")
        self.enc, self.budget = enc, Budget()
        self.goals = list(goals)
        n = len(enc.pre_leaves)
        self.pre = list(enc.pre_leaves)
        self.post = list(enc.leaves.consts[n: 2 * n])
        # the step's inputs: the selector and every parameter leaf (all leaves after the
        # post-state but the outcome, which Trans defines)
        self.inputs = [c for c in enc.leaves.consts[2 * n:] if not c.eq(enc.out)]
        self.prime_pairs = list(zip(self.pre, self.post, strict=True))
        self.is_bool = [z3.is_bool(c) for c in self.pre]
        index = {c.get_id(): i for i, c in enumerate(self.pre)}
        by_id: dict[int, tuple[Any, ...]] = {}
        _option_guards(enc.pre, (), by_id)
        self.guards = [tuple(index[g.get_id()] for g in by_id.get(c.get_id(), ())) for c in self.pre]
        self.queries = 0
        self.query_limit: int | None = None
        self._lit_cache: dict[tuple[int, Any, bool], Any] = {}
        self._neg_cache: dict[tuple[int, Any, bool], Any] = {}
        self._clauses: dict[Cube, Any] = {}
        init_eq = _and(*(sym_eq(v, lift(x, var.type, enc.width), var.type)
                         for v, x, var in zip(enc.pre, init, spec.vars, strict=True)))
        inv_pre = [enc.good(a) for a in assumed] + list(facts)
        inv_post = [self.prime(f) for f in inv_pre]
        self.main = new_solver(seed, enc.logic)
        # Trans only under `step_lit`: a state with no enabled step (a deadlock) is still a
        # state, and the bad-state queries must see it
        self.step_lit = z3.Bool("ic3!step")
        self.main.add(enc.domain_pre, *inv_pre)
        self.main.add(z3.Implies(self.step_lit, _and(enc.domain, enc.trans, *inv_post)))
        self.init_lit = z3.Bool("ic3!init")
        self.main.add(z3.Implies(self.init_lit, init_eq))
        # lifting asks "does every state of the cube, with this step, either not take it or
        # land in the target?": the step must be enabled, so it is kept apart from the
        # definitions of the post-state (and post-state ranges are not assumed)
        self.lift = new_solver(seed, enc.logic)
        self.lift.add(enc.domain_pre, enc.domain_inputs, enc.trans_def, *inv_pre)
        self.lift_bad = new_solver(seed, enc.logic)
        self.lift_bad.add(enc.domain_pre, *inv_pre)
        self.init = new_solver(seed, enc.logic)
        self.init.add(enc.domain, init_eq)
        self.init_vals = self._init_values()
        self.bad_lit: dict[str, Any] = {}
        self.notbad_lit: dict[str, Any] = {}
        # a step goal's bad state is the pre-state of a step (in the parameters' ranges, as
        # in BMC) that breaks it; its cube is lifted with that step fixed and the post-state
        # defined by it, so every state of the cube takes the same bad step
        self.step_goal = {g: spec.property(g).kind in STEP_KINDS for g in self.goals}
        self.lift_step = new_solver(seed, enc.logic)
        if any(self.step_goal.values()):
            self.lift_step.add(enc.domain_pre, enc.domain_inputs, enc.trans_def, *inv_pre)
        for g in self.goals:
            b = enc.bad(spec.property(g))
            self.bad_lit[g] = z3.Bool(f"ic3!bad!{g}")
            self.notbad_lit[g] = z3.Bool(f"ic3!ok!{g}")
            if self.step_goal[g]:
                b = _and(enc.domain, b)
                self.lift_step.add(z3.Implies(self.notbad_lit[g], z3.Not(b)))
            else:
                self.lift_bad.add(z3.Implies(self.notbad_lit[g], z3.Not(b)))
            self.main.add(z3.Implies(self.bad_lit[g], b))
        self.levels: list[Any] = [None]  # activation literal of each level's clauses (index >= 1)
        self.lemmas: list[list[Cube]] = [[]]  # lemmas[i]: cubes blocked exactly at level i
        self.refuted: dict[str, int] = {}
        self.k = 0  # the frontier: F_k is the frame being cleared of bad states
        self.fixpoint: int | None = None

    # -- literals and cubes ---------------------------------------------------------------
    def prime(self, f: Any) -> Any:
        return z3.substitute(f, *self.prime_pairs)

    def lit(self, i: int, v: Any, primed: bool = False) -> Any:
        key = (i, v, primed)
        got = self._lit_cache.get(key)
        if got is None:
            c = (self.post if primed else self.pre)[i]
            got = (c if v else z3.Not(c)) if self.is_bool[i] else c == v
            self._lit_cache[key] = got
        return got

    def neg(self, i: int, v: Any, primed: bool = False) -> Any:
        key = (i, v, primed)
        got = self._neg_cache.get(key)
        if got is None:
            got = z3.Not(self.lit(i, v, primed))
            self._neg_cache[key] = got
        return got

    def lits(self, cube: Cube, primed: bool = False) -> list[Any]:
        return [self.lit(i, v, primed) for i, v in cube]

    def clause(self, cube: Cube) -> Any:
        """The lemma `not cube` over the pre leaves (built once per cube)."""
        got = self._clauses.get(cube)
        if got is None:
            got = self._clauses[cube] = _or_of([self.neg(i, v) for i, v in cube])
        return got

    def state_cube(self, m: z3.ModelRef, relevant: bool = True) -> Cube:
        """The model's pre-state as a cube; with `relevant`, without the value leaves of
        absent options (the encoding leaves them free, so they carry no information)."""
        vals = []
        for i, c in enumerate(self.pre):
            val = m.eval(c, model_completion=True)
            vals.append(z3.is_true(val) if self.is_bool[i] else val.as_long())
        if not relevant:
            return tuple(enumerate(vals))
        return tuple((i, v) for i, v in enumerate(vals) if all(vals[g] for g in self.guards[i]))

    def _check(self, solver: z3.Solver, *assumptions: Any) -> Answer:
        if self.query_limit is not None and self.queries >= self.query_limit:
            raise _Stop("query slice used up")
        self.queries += 1
        ans, why = check(solver, self.budget, *assumptions)
        if ans is Answer.UNKNOWN:
            raise _Stop(why or "solver gave up")
        return ans

    def _core_cube(self, solver: z3.Solver, cube: Cube, primed: bool) -> Cube:
        core = {x.get_id() for x in solver.unsat_core()}
        return tuple((i, v) for i, v in cube if self.lit(i, v, primed).get_id() in core)

    # -- frames -----------------------------------------------------------------------------
    def frame_lits(self, i: int) -> list[Any]:
        """Assumptions that select F_i (i >= 1): the clauses of every level >= i."""
        return self.levels[i:]

    def new_level(self) -> None:
        self.levels.append(z3.Bool(f"ic3!F{len(self.levels)}"))
        self.lemmas.append([])

    def add_lemma(self, cube: Cube, level: int) -> None:
        self.lemmas[level].append(cube)
        self.main.add(z3.Implies(self.levels[level], self.clause(cube)))

    def meets_init(self, cube: Cube) -> bool:
        """Does the initial state satisfy every literal of the cube? (Leaves the initial
        state leaves free, such as the value of an absent option, satisfy any literal.)"""
        vals = self.init_vals
        return all(vals[i] is None or vals[i] == v for i, v in cube)

    def _init_values(self) -> list[Any]:
        """The initial state's value of each pre leaf, None where it is left free: the
        initial state is concrete, so the only free leaves are the values of absent options."""
        if self._check(self.init) is not Answer.SAT:
            raise _Stop("the initial state violates the domain constraints")
        vals = [v for _, v in self.state_cube(self.init.model(), relevant=False)]
        return [v if all(vals[g] for g in self.guards[i]) else None for i, v in enumerate(vals)]

    # -- the three queries -------------------------------------------------------------------
    def bad_state(self, k: int) -> tuple[str, Cube] | None:
        """A cube of F_k states that violate an open goal (shrunk by lifting), or None."""
        for g in self.goals:
            if self._check(self.main, *self.frame_lits(k), self.bad_lit[g]) is Answer.SAT:
                m = self.main.model()
                full = self.state_cube(m)
                solver, fixed = self.lift_bad, []
                if self.step_goal[g]:
                    solver, fixed = self.lift_step, [c == m.eval(c, model_completion=True) for c in self.inputs]
                if self._check(solver, *fixed, *self.lits(full), self.notbad_lit[g]) is Answer.UNSAT:
                    return g, self._core_cube(solver, full, False)
                return g, self.state_cube(m, relevant=False)  # the one state the model shows
        return None

    def relative(self, cube: Cube, i: int, want_model: bool = False) -> tuple[bool, Any]:
        """Is F_{i-1} and not cube and Trans and cube' unsat? (True, core cube), else (False,
        the model if `want_model`). The clause `not cube` lives in a push/pop scope: guarded
        clauses that are later switched off make every model extraction of z3's SAT solver
        slower."""
        frame = [self.step_lit, self.init_lit] if i == 1 else [self.step_lit, *self.frame_lits(i - 1)]
        self.main.push()
        try:
            self.main.add(self.clause(cube))
            ans = self._check(self.main, *frame, *self.lits(cube, True))
            if ans is Answer.UNSAT:
                return True, self._core_cube(self.main, cube, True)
            return False, self.main.model() if want_model else None
        finally:
            self.main.pop()

    def predecessor(self, m: z3.ModelRef, target: Cube) -> Cube:
        """The model's pre-state, lifted: the literals that, with the model's action and
        parameters, still force every successor into `target`."""
        full = self.state_cube(m)
        fixed = [c == m.eval(c, model_completion=True) for c in self.inputs]
        self.lift.push()
        try:
            self.lift.add(z3.Or(z3.Not(self.enc.enabled), _or_of([self.neg(i, v, True) for i, v in target])))
            if self._check(self.lift, *fixed, *self.lits(full)) is Answer.UNSAT:
                return self._core_cube(self.lift, full, False)
            return self.state_cube(m, relevant=False)
        finally:
            self.lift.pop()

    # -- generalisation ------------------------------------------------------------------------
    def keep_off_init(self, small: Cube, big: Cube) -> Cube:
        """`small` (a subset of `big`, which misses the initial state), grown back by one
        literal of `big` if it meets the initial state."""
        if not self.meets_init(small):
            return small
        have = set(small)
        for lit in big:
            if lit not in have and not self.meets_init(tuple(sorted((*small, lit)))):
                return tuple(sorted((*small, lit)))
        return big

    def generalize(self, cube: Cube, core: Cube, i: int) -> Cube:
        g = self.keep_off_init(core, cube)
        for lit in list(g):
            if lit not in g or len(g) == 1:
                continue
            trial = tuple(x for x in g if x != lit)
            if self.meets_init(trial):
                continue
            ok, res = self.relative(trial, i)
            if ok:
                g = self.keep_off_init(res, trial)
        return g

    # -- the main loop ----------------------------------------------------------------------
    def block(self, cube: Cube, k: int) -> int | None:
        """Block the bad cube at level k. None when blocked; else the length of the path
        found from the initial state to it."""
        tie = itertools.count()
        queue: list[tuple[int, int, _Obligation]] = [(k, next(tie), _Obligation(cube, k, 0))]
        while queue:
            _, _, ob = queue[0]
            if ob.level == 0:
                return ob.depth
            if self.already_blocked(ob.cube, ob.level):
                heapq.heappop(queue)
                continue
            ok, res = self.relative(ob.cube, ob.level, want_model=True)
            if ok:
                heapq.heappop(queue)
                g = self.generalize(ob.cube, res, ob.level)
                level = ob.level
                while level < k and self.relative(g, level + 1)[0]:
                    level += 1
                self.add_lemma(g, level)
                if level < k:
                    heapq.heappush(queue, (level + 1, next(tie), _Obligation(ob.cube, level + 1, ob.depth)))
            else:
                if ob.level == 1:
                    return ob.depth + 1
                pred = self.predecessor(res, ob.cube)
                heapq.heappush(queue, (ob.level - 1, next(tie), _Obligation(pred, ob.level - 1, ob.depth + 1)))
        return None

    def already_blocked(self, cube: Cube, i: int) -> bool:
        """Does F_i already exclude the cube (syntactic subsumption by a lemma of level >= i)?"""
        have = set(cube)
        return any(set(lem) <= have for lvl in range(i, len(self.lemmas)) for lem in self.lemmas[lvl])

    def propagate(self, k: int) -> int | None:
        """Push clauses forward; the level i whose clauses all moved (F_i = F_{i+1}), if any."""
        for i in range(1, k + 1):
            for cube in list(self.lemmas[i]):
                ok, _ = self.relative_clause(cube, i)
                if ok:
                    self.lemmas[i].remove(cube)
                    self.add_lemma(cube, i + 1)
            if not self.lemmas[i]:
                return i
        return None

    def relative_clause(self, cube: Cube, i: int) -> tuple[bool, Any]:
        """Does F_i and Trans imply the clause (not cube) in the post-state?"""
        ans = self._check(self.main, self.step_lit, *self.frame_lits(i), *self.lits(cube, True))
        return ans is Answer.UNSAT, None

    def lemmas_within(self, i: int) -> list[Any]:
        """Clauses true in every state reachable within i steps: those of the levels >= i."""
        out: list[Any] = []
        for lvl in range(max(i, 1), len(self.lemmas)):
            out.extend(self.clause(c) for c in self.lemmas[lvl])
        return out

    def add_facts(self, facts: tuple[Any, ...]) -> None:
        """Assume more formulas over the pre leaves that hold in every reachable state (the
        invariants and lemmas another run proved); sound at any point of the run."""
        for f in facts:
            self.main.add(f, z3.Implies(self.step_lit, self.prime(f)))
            self.lift.add(f)
            self.lift_bad.add(f)

    def run(self, budget: Budget, queries: int | None = None) -> Ic3Outcome:
        """Continue the run (frames and lemmas are kept between calls) until every goal is
        proved or refuted, the budget ends, or `queries` more solver queries were made (a
        slice counted in queries, not seconds, makes a round robin reproducible)."""
        self.budget = budget
        self.query_limit = None if queries is None else self.queries + queries
        stopped = ""
        try:
            if self.k == 0:
                for g in list(self.goals):  # depth 0: the initial state itself
                    if self._check(self.main, self.init_lit, self.bad_lit[g]) is Answer.SAT:
                        self.refuted[g] = 0
                        self.goals.remove(g)
                self.new_level()
                self.k = 1
            while self.goals and self.fixpoint is None:
                while self.goals:
                    found = self.bad_state(self.k)
                    if found is None:
                        break
                    goal, cube = found
                    steps = self.block(cube, self.k)
                    if steps is not None:
                        self.refuted[goal] = steps
                        self.goals.remove(goal)
                if not self.goals:
                    break
                while len(self.levels) <= self.k + 1:
                    self.new_level()
                self.fixpoint = self.propagate(self.k)
                self.k += 1
        except _Stop as why:
            stopped = str(why)
        proved: tuple[str, ...] = ()
        lemmas: tuple[Any, ...] = ()
        if self.fixpoint is not None:
            proved = tuple(self.goals)
            lemmas = tuple(self.clause(c) for lvl in range(self.fixpoint + 1, len(self.lemmas))
                           for c in self.lemmas[lvl])
        return Ic3Outcome(proved, tuple(self.refuted.items()), stopped, lemmas, self.k, self.queries,
                          sum(len(x) for x in self.lemmas))


class _Stop(Exception):
    """The solver answered unknown (time-out, interrupted): the run stops."""


def _or_of(xs: list[Any]) -> Any:
    """z3.Or over a list of Boolean terms through the C API (z3.Or re-checks every argument's
    sort in Python, which dominated the run time on large cubes)."""
    if not xs:
        return z3.BoolVal(False)
    if len(xs) == 1:
        return xs[0]
    ctx = xs[0].ctx
    arr = (z3.Ast * len(xs))(*(x.as_ast() for x in xs))
    return z3.BoolRef(z3.Z3_mk_or(ctx.ref(), len(xs), arr), ctx)


def _option_guards(v: Any, guards: tuple[Any, ...], out: dict[int, tuple[Any, ...]]) -> None:
    """Map the id of every leaf inside an option's value to the `present` leaves guarding it."""
    if isinstance(v, tuple):
        for x in v:
            _option_guards(x, guards, out)
    elif isinstance(v, SOpt):
        if v.value is not None:
            _option_guards(v.value, (*guards, v.present), out)
    elif isinstance(v, SSet):
        for member, _elem in v.elems:
            if guards:
                out[member.get_id()] = guards
    elif guards:
        out[v.get_id()] = guards


def ic3_prove(spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], goals: list[str], budget: Budget,
              assumed: list[str] | None = None, seed: int = 0, facts: tuple[Any, ...] = ()) -> Ic3Outcome:
    """Prove the invariants `goals` together (see the module docstring). `assumed`: proved
    invariants; `facts`: other formulas over the template pre leaves that hold in every
    reachable state (the lemmas of an earlier run); both are assumed in every frame."""
    return Ic3(spec, enc, init, goals, list(assumed or []), seed, facts).run(budget)


__all__ = ["Ic3", "Ic3Outcome", "ic3_prove"]
