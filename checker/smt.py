"""The z3 wrapper: solver set-up, time-outs, seeds, and three-valued answers.

In: formulas built by encode.py and the engines. Out: `Answer` (SAT / UNSAT / UNKNOWN
with the solver's reason) and models. Guarantees: a fixed seed unless asked otherwise;
every `check` honours the remaining time of its `Budget`; `unknown` never looks like
success (callers must match on the answer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import z3


class Answer(Enum):
    SAT = "sat"
    UNSAT = "unsat"
    UNKNOWN = "unknown"


@dataclass
class Budget:
    """A deadline shared by every solver call of one run (None: no limit)."""

    deadline: float | None = None

    def remaining_ms(self) -> int | None:
        if self.deadline is None:
            return None
        return max(1, int((self.deadline - time.monotonic()) * 1000))

    def expired(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def new_solver(seed: int = 0, logic: str | None = None) -> z3.Solver:
    s = z3.SolverFor(logic) if logic else z3.Solver()
    s.set("random_seed", seed)
    return s


def check(solver: z3.Solver, budget: Budget, *assumptions: z3.BoolRef) -> tuple[Answer, str | None]:
    """Check with the budget's remaining time; the reason is set when the answer is UNKNOWN."""
    if budget.expired():
        return Answer.UNKNOWN, "time-out"
    ms = budget.remaining_ms()
    if ms is not None:
        solver.set("timeout", ms)
    if assumptions:
        # z3's Solver.check re-checks each assumption's sort in Python (~10 us each); engines
        # that pass hundreds of literals per query (IC3) pay that on every call
        arr = (z3.Ast * len(assumptions))(*(a.as_ast() for a in assumptions))
        r = z3.CheckSatResult(z3.Z3_solver_check_assumptions(solver.ctx.ref(), solver.solver, len(assumptions), arr))
    else:
        r = solver.check()
    if r == z3.sat:
        return Answer.SAT, None
    if r == z3.unsat:
        return Answer.UNSAT, None
    reason = solver.reason_unknown() or "solver gave up"
    if budget.expired() or "timeout" in reason:
        reason = "time-out"
    elif "canceled" in reason:
        reason = "interrupted"
    return Answer.UNKNOWN, reason

