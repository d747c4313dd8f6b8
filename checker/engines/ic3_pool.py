"""IC3 on several invariants at once: one run per invariant, round robin, sharing proofs.

In: an `ir.Spec`, its finite `StepEncoding`, the initial state, the open goals (invariants;
covers to prove unreachable; transitions, asserts, `well_defined`: see engines/ic3.py), the
invariants already proved, a seed. `advance(budget)` gives every open invariant a slice
(doubling each round) until all are decided or the budget ends; it can be called again later
(each run keeps its frames). Slices are counted in solver queries, so a run with the same
seed does the same work whatever the machine's load, up to the deadline. Out: `decided()`: invariant -> how it was proved, or why not;
`facts`: every strengthening found (clauses true in every reachable state), for the engines
that prove transitions, asserts and covers from invariants.

Why round robin: one invariant's proof is often the missing lemma of another's (on
spec/snp.tee without its helper invariants, vmpl0_full is proved in ~4 s and then integrity
in ~16 s instead of not within 40 s). When a run proves its goal, the goal and its lemmas
are added to every other run; a goal refuted by IC3 (a path to a violating state) is left to
BMC, which reports the shortest trace.
"""

from __future__ import annotations

import time
from typing import Any

from checker import ir
from checker.encode import _not
from checker.encode_step import StepEncoding
from checker.engines.ic3 import STEP_KINDS, Ic3
from checker.smt import Budget

FIRST_SLICE = 1000  # solver queries (~1-2 s on snp.tee); doubled every round


class Ic3Pool:
    """See the module docstring."""

    def __init__(self, spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], goals: list[str],
                 proved: list[str], seed: int = 0) -> None:
        self.spec, self.enc, self.init, self.seed = spec, enc, init, seed
        self.goals = list(goals)
        self.proved = list(proved)
        self.runs: dict[str, Ic3] = {}
        self.how: dict[str, str] = {}  # goal -> "IC3 (...)" once proved
        self.why: dict[str, str] = {}  # goal -> reason it is not (yet) proved
        self.facts: list[Any] = []
        self.slice = FIRST_SLICE

    def facts_within(self, k: int) -> list[Any]:
        """Clauses that hold in every state reachable within k steps (the frames of the runs
        that have not finished; the finished ones' lemmas are in `facts`)."""
        return [f for g, run in self.runs.items() if g not in self.how for f in run.lemmas_within(k)]

    def open(self) -> list[str]:
        return [g for g in self.goals if g not in self.how and g not in self.refuted()]

    def refuted(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for g, run in self.runs.items():
            out.update((n, s) for n, s in run.refuted.items() if n == g)
        return out

    def _run(self, goal: str) -> Ic3:
        run = self.runs.get(goal)
        if run is None:
            run = Ic3(self.spec, self.enc, self.init, [goal], self.proved, self.seed, tuple(self.facts))
            self.runs[goal] = run
        return run

    def advance(self, budget: Budget, cap_s: float | None = None) -> None:
        """Round robin until every goal is decided, the budget ends, or `cap_s` seconds pass
        (what was proved is kept; a later call goes on where this one stopped)."""
        end = budget.deadline
        if cap_s is not None:
            cap_end = time.monotonic() + cap_s
            end = cap_end if end is None else min(end, cap_end)
        try:
            self._rounds(budget, end)
        finally:  # the open goals were stopped by the clock (or Ctrl-C), whatever their last slice said
            for goal in self.open():
                run = self.runs.get(goal)
                if run is not None:
                    lemmas = sum(len(x) for x in run.lemmas)
                    self.why[goal] = f"no proof within the time ({run.k} frames, {lemmas} lemmas)"

    def _rounds(self, budget: Budget, end: float | None) -> None:
        while self.open():
            for goal in self.open():
                now = time.monotonic()
                if end is not None and now >= end:
                    return
                run = self._run(goal)
                out = run.run(Budget(end), self.slice)
                kind = self.spec.property(goal).kind
                if goal in out.proved:
                    self.how[goal] = f"IC3 ({out.frames} frames, {len(out.lemmas)} lemmas)"
                    self.why.pop(goal, None)
                    # what now holds in every reachable state: the invariant, a cover's
                    # negation, the lemmas (only an invariant's name is ever assumed)
                    new = tuple(out.lemmas)
                    if kind == "invariant":
                        new = (self.enc.good(goal), *new)
                        self.proved.append(goal)
                    elif kind == "cover":
                        new = (_not(self.enc.bad(self.spec.property(goal))), *new)
                    self.facts.extend(new)
                    for other, r in self.runs.items():
                        if other != goal and other not in self.how:
                            r.add_facts(new)
                elif goal in dict(out.refuted):
                    self.why[goal] = _refuted(kind, dict(out.refuted)[goal])
                if budget.expired():
                    return
            self.slice *= 2


def _refuted(kind: str, steps: int) -> str:
    """Why a goal IC3 refuted is not proved. IC3's bad states over-approximate the violations
    (an ill-defined evaluation counts as one), so this is a path to check, not a verdict."""
    if kind in STEP_KINDS:  # the path ends in the pre-state of the bad step
        return f"a path of {steps} steps to a step that breaks it (rerun with --depth {steps + 1} for the trace)"
    what = "it" if kind == "cover" else "a state where it fails"
    return f"a path of {steps} steps to {what} (rerun with --depth {steps} for the trace)"


__all__ = ["Ic3Pool"]
