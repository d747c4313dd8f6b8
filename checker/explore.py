"""Explicit-state checking: breadth-first search over every reachable state.

In: an `ir.Spec` (through its `Interpreter`) and `ExploreOptions` (depth and state bounds,
deadline, progress callback). Out: one `Result` per property and `Stats`.
Guarantees: BFS, so every trace is a shortest one; an exhaustive search is a proof for the
spec's constants (`proved`, `unreachable (proved)`); a search cut short by --depth says
`holds to depth N`, by --max-states / time-out / Ctrl-C says `unknown (reason)` for what
it did not decide, and keeps everything it found. This is the ground truth that the z3
engines are tested against. Never prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checker import ir
from checker.interp import AssertFailure, Interpreter, SpecRuntimeError, State
from checker.result import Failure, Result, Stats, Step, Trace, Verdict

Progress = Callable[[int, int, int], None]  # (states, transitions, depth)


@dataclass(frozen=True)
class ExploreOptions:
    max_depth: int | None = None
    max_states: int | None = None
    deadline: float | None = None  # time.monotonic() value
    cpu_deadline: float | None = None  # time.process_time() value (load-independent budget)
    deadline_after: int = 0  # the deadlines count only once this many states are stored
    # stop as soon as the states still to expand cannot be expanded before cpu_deadline at the
    # rate so far (with a margin of 2): for a search whose result is used only if complete
    give_up_early: bool = False
    progress: Progress | None = None
    progress_every: int = 20000


class _OutOfTime(Exception):
    """A deadline passed in the middle of a state's expansion."""


@dataclass
class _Pending:
    prop: ir.Property
    verdict: Verdict | None = None
    depth: int | None = None
    node: int | None = None  # the state where it was decided
    extra: Step | None = None  # the step out of that state (transitions, step errors)
    failure: Failure | None = None
    ill_defined: bool = False  # the property itself could not be evaluated somewhere
    found_at: float = 0.0


class _Search:
    def __init__(self, spec: ir.Spec, options: ExploreOptions) -> None:
        self.spec = spec
        self.opts = options
        self.interp = Interpreter(spec)
        self.states: list[State] = []
        self.parent: list[tuple[int, Step] | None] = []
        self.depth_of: list[int] = []
        self.index: dict[State, int] = {}
        self.transitions = 0
        self.expanded = 0  # states whose successors were computed
        self.cpu_start = time.process_time()
        self.coverage: dict[tuple[str, str], int] = {}
        self.first_step: dict[tuple[str, str], int] = {}  # breadth-first: the least step
        # a transition property's value depends only on (pre, post) and on whether the
        # action is in its `on` list: many steps share a pair (every require-else self-loop)
        self.trans_seen: dict[str, set[tuple[int, State]]] = {}
        self.pending = {p.name: _Pending(p) for p in spec.properties}
        self.invariants = [p for p in spec.properties if p.kind == "invariant"]
        self.covers = [p for p in spec.properties if p.kind == "cover"]
        self.transition_props = [p for p in spec.properties if p.kind == "transition"]
        self.t0 = time.monotonic()

    # ------------------------------------------------------------------ bookkeeping
    def decide(self, name: str, verdict: Verdict, node: int, extra: Step | None = None,
               failure: Failure | None = None) -> None:
        p = self.pending[name]
        if p.verdict is not None:
            return
        p.verdict, p.node, p.extra, p.failure = verdict, node, extra, failure
        p.depth = self.depth_of[node] + (1 if extra is not None else 0)
        p.found_at = time.monotonic() - self.t0

    def ill_defined(self, name: str, node: int, err: SpecRuntimeError, extra: Step | None = None) -> None:
        self.pending[name].ill_defined = True
        self.decide("well_defined", Verdict.VIOLATED, node, extra, Failure(err.span, err.message))

    def open_props(self) -> bool:
        return any(p.verdict is None for p in self.pending.values())

    def check_state(self, node: int) -> None:
        state = self.states[node]
        wd_open = self.pending["well_defined"].verdict is None if "well_defined" in self.pending else False
        for p in self.invariants:
            if self.pending[p.name].verdict is None or (wd_open and not self.pending[p.name].ill_defined):
                try:
                    if not self.interp.holds(p.name, state) and self.pending[p.name].verdict is None:
                        self.decide(p.name, Verdict.VIOLATED, node)
                except SpecRuntimeError as err:
                    self.ill_defined(p.name, node, err)
        for p in self.covers:
            if self.pending[p.name].verdict is None or (wd_open and not self.pending[p.name].ill_defined):
                try:
                    if self.interp.holds(p.name, state) and self.pending[p.name].verdict is None:
                        self.decide(p.name, Verdict.REACHABLE, node)
                except SpecRuntimeError as err:
                    self.ill_defined(p.name, node, err)

    def add(self, state: State, parent: tuple[int, Step] | None, depth: int) -> int | None:
        if state in self.index:
            return None
        node = len(self.states)
        self.states.append(state)
        self.parent.append(parent)
        self.depth_of.append(depth)
        self.index[state] = node
        self.check_state(node)
        return node

    # ------------------------------------------------------------------ search
    def run(self) -> tuple[list[Result], Stats]:
        stopped: str | None = None
        complete = False
        try:
            init = self.interp.init()
        except SpecRuntimeError as err:
            self.states.append(())
            self.parent.append(None)
            self.depth_of.append(0)
            name = err.prop if isinstance(err, AssertFailure) else "well_defined"
            self.decide(name, Verdict.VIOLATED, 0, failure=Failure(err.span, err.message))
            return self.results(False, "the initial state is not well defined", 0), self.stats(False, None, 0)
        self.add(init, None, 0)
        frontier = [0]
        depth = 0
        max_depth = self.opts.max_depth
        try:
            while frontier:
                if max_depth is not None and depth >= max_depth:
                    stopped = f"depth {max_depth}"
                    break
                nxt: list[int] = []
                for i, node in enumerate(frontier):
                    self.expand(node, depth, nxt)
                    self.expanded += 1
                    if self.opts.max_states is not None and len(self.states) >= self.opts.max_states and nxt:
                        stopped = f"state bound reached: {len(self.states)} states"
                        break
                    if len(self.states) >= self.opts.deadline_after and self._out_of_time():
                        stopped = "time-out"
                        break
                    if self._cannot_finish(len(frontier) - i - 1 + len(nxt)):
                        stopped = "time-out (cannot finish in time)"
                        break
                if stopped:
                    break
                if not self.open_props():
                    stopped = "all properties decided"
                    depth += 1
                    break
                frontier = nxt
                depth += 1
            else:
                complete = True
        except _OutOfTime:  # inside one state's expansion (a state with very many steps)
            stopped = "time-out"
        except KeyboardInterrupt:
            stopped = "interrupted"
        if stopped == "all properties decided":
            complete = False
        return self.results(complete, stopped, depth), self.stats(complete, stopped, depth)

    def _cannot_finish(self, left: int) -> bool:
        """`give_up_early`: `left` states are still to expand (at least; their successors
        come on top), and at the rate so far that takes more than twice the CPU time left."""
        o = self.opts
        if not o.give_up_early or o.cpu_deadline is None or len(self.states) < o.deadline_after:
            return False
        now = time.process_time()
        per_state = (now - self.cpu_start) / self.expanded
        return left * per_state > 2 * (o.cpu_deadline - now)

    def _out_of_time(self) -> bool:
        o = self.opts
        return ((o.deadline is not None and time.monotonic() > o.deadline)
                or (o.cpu_deadline is not None and time.process_time() > o.cpu_deadline))

    def expand(self, node: int, depth: int, nxt: list[int]) -> None:
        state = self.states[node]
        interp = self.interp
        for act in self.spec.actions:
            names = tuple(p.name for p in act.params)
            for n_args, args in enumerate(interp.args(act)):
                if n_args % 1024 == 1023 and len(self.states) >= self.opts.deadline_after and self._out_of_time():
                    raise _OutOfTime
                try:
                    r = interp.step(state, act.name, args)
                except SpecRuntimeError as err:
                    step = Step(act.name, act.actor_label(args), tuple(zip(names, args, strict=True)),
                                "error", state)
                    target = err.prop if isinstance(err, AssertFailure) else "well_defined"
                    self.decide(target, Verdict.VIOLATED, node, step, Failure(err.span, err.message))
                    continue
                if r is None:
                    continue
                self.transitions += 1
                key = (act.name, r.outcome)
                self.coverage[key] = self.coverage.get(key, 0) + 1
                self.first_step.setdefault(key, depth + 1)
                step = Step(act.name, act.actor_label(args), tuple(zip(names, args, strict=True)),
                            r.outcome, r.state, r.failed)
                wd_open = self.pending["well_defined"].verdict is None
                for p in self.transition_props:
                    pend = self.pending[p.name]
                    if (pend.verdict is None or (wd_open and not pend.ill_defined)) and (p.on is None or act.name in p.on):
                        seen = self.trans_seen.setdefault(p.name, set())
                        edge = (node, r.state)
                        if edge in seen:
                            continue
                        seen.add(edge)
                        try:
                            if not interp.holds(p.name, r.state, state) and pend.verdict is None:
                                self.decide(p.name, Verdict.VIOLATED, node, step)
                        except SpecRuntimeError as err:
                            self.ill_defined(p.name, node, err, step)
                child = self.add(r.state, (node, step), depth + 1)
                if child is not None:
                    nxt.append(child)
                    if self.opts.progress and len(self.states) % self.opts.progress_every == 0:
                        self.opts.progress(len(self.states), self.transitions, depth + 1)

    # ------------------------------------------------------------------ output
    def trace(self, node: int, extra: Step | None, failure: Failure | None) -> Trace:
        steps: list[Step] = []
        n: int | None = node
        while n is not None:
            link = self.parent[n]
            if link is None:
                break
            steps.append(link[1])
            n = link[0]
        steps.reverse()
        if extra is not None:
            steps.append(extra)
        return Trace(self.states[0], tuple(steps), failure)

    def results(self, complete: bool, stopped: str | None, depth: int) -> list[Result]:
        out = []
        for name, p in self.pending.items():
            kind = p.prop.kind
            if p.verdict is not None:
                assert p.node is not None
                tr = self.trace(p.node, p.extra, p.failure)
                out.append(Result(name, kind, p.verdict, p.depth, tr, time_s=p.found_at))
                continue
            elapsed = time.monotonic() - self.t0
            if p.ill_defined:
                out.append(Result(name, kind, Verdict.UNKNOWN, reason="not well defined in a reachable state: see well_defined",
                                  time_s=elapsed))
            elif complete:
                v = Verdict.UNREACHABLE if kind == "cover" else Verdict.PROVED
                out.append(Result(name, kind, v, reason="exhaustive search of every reachable state", time_s=elapsed))
            elif stopped and stopped.startswith("depth") and kind != "cover":
                out.append(Result(name, kind, Verdict.HOLDS_TO_DEPTH, depth, time_s=elapsed))
            elif stopped and stopped.startswith("depth"):
                out.append(Result(name, kind, Verdict.UNKNOWN, reason=f"not reached within depth {depth}", time_s=elapsed))
            else:
                out.append(Result(name, kind, Verdict.UNKNOWN, reason=stopped or "search incomplete", time_s=elapsed))
        return out

    def stats(self, complete: bool, stopped: str | None, depth: int) -> Stats:
        cov = tuple(sorted((a, o, n) for (a, o), n in self.coverage.items()))
        first = tuple(sorted((a, o, n) for (a, o), n in self.first_step.items()))
        return Stats(len(self.states), self.transitions, depth, time.monotonic() - self.t0, complete, stopped, cov,
                     first)


def explore(spec: ir.Spec, options: ExploreOptions | None = None) -> tuple[list[Result], Stats]:
    """Check every property of `spec` by breadth-first search. Never prints."""
    return _Search(spec, options or ExploreOptions()).run()


def reachable_states(spec: ir.Spec, max_states: int = 100000) -> list[State]:
    """Every reachable state (for tests that compare semantics); stops at max_states."""
    s = _Search(spec, ExploreOptions(max_states=max_states))
    s.invariants, s.covers, s.transition_props = [], [], []
    s.run()
    return list(s.states)


__all__ = ["explore", "ExploreOptions", "reachable_states", "Any"]
