"""Unbounded proofs by induction: 1-induction over all invariants, then k-induction.

In: an `ir.Spec`, its `StepEncoding`, the invariants BMC did not refute (each holds in the
initial state: BMC checked depth 0), a `Budget`. Out: `InductionOutcome`: the invariants
proved, one counterexample to induction (CTI: pre-state, step, post-state) per invariant
that is not inductive, and the other property kinds proved from the proved invariants.

Soundness: 1-induction assumes the conjunction of the candidate invariants in an
arbitrary (domain-respecting) state and drops every candidate that a step can break,
until the remaining set is inductive (the Houdini fixpoint); only that set is `proved`.
k-induction assumes the property on k consecutive distinct states (simple path) of the
same transition relation. Transition properties, asserts, `well_defined` and covers are
proved by showing that no state satisfying the proved invariants can violate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from checker import ir
from checker.encode import _and, _or
from checker.encode import eq as sym_eq
from checker.encode_step import StepEncoding
from checker.engines.bmc import Unroller
from checker.result import Step
from checker.smt import Answer, Budget, check, new_solver


@dataclass(frozen=True)
class CTI:
    """A counterexample to induction: an unreachable-or-not pre-state, a step, a post-state."""

    prop: str
    pre: tuple[Any, ...]
    step: Step


@dataclass
class InductionOutcome:
    proved: dict[str, str] = field(default_factory=dict)  # property -> how ("1-induction", "2-induction", ...)
    ctis: dict[str, CTI] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)  # property -> reason



def one_induction(spec: ir.Spec, enc: StepEncoding, candidates: list[str], budget: Budget,
                  seed: int = 0) -> InductionOutcome:
    out = InductionOutcome()
    un = Unroller(spec, enc)
    cands = list(candidates)
    solver = new_solver(seed, enc.logic)
    solver.add(un.at(enc.domain, 0), un.at(enc.trans, 0))
    lits = {n: z3.Bool(f"assume!{n}") for n in cands}
    for n in cands:
        solver.add(z3.Implies(lits[n], un.at(enc.good(n), 0)))
    changed = True
    while changed and cands:
        changed = False
        for n in list(cands):
            goal = z3.Not(un.at(enc.good(n), 1))
            solver.push()
            solver.add(goal)
            ans, why = check(solver, budget, *(lits[c] for c in cands))
            if ans is Answer.SAT:
                m = solver.model()
                out.ctis[n] = CTI(n, un.decode_state(0, m), un.decode_step(0, m))
                cands.remove(n)
                changed = True
            elif ans is Answer.UNKNOWN:
                out.unknown[n] = why or "solver gave up"
                cands.remove(n)
                changed = True
            solver.pop()
            if changed:
                break
    for n in cands:
        out.proved[n] = "1-induction"
        out.ctis.pop(n, None)
    return out


def k_induction(spec: ir.Spec, enc: StepEncoding, name: str, proved: list[str], max_k: int,
                budget: Budget, seed: int = 0) -> tuple[int | None, str | None]:
    """Try k = 2..max_k for one invariant; assumes the already proved invariants in every
    state. Returns (k, None) when proved, (None, reason) otherwise. The base case (no
    violation within k-1 steps) must already be known from BMC."""
    un = Unroller(spec, enc)
    solver = new_solver(seed, enc.logic)
    known = [p for p in proved]

    def good_at(n: str, i: int) -> Any:
        return un.at(enc.good(n), i)

    types = [v.type for v in spec.vars]
    for i in range(0, max_k + 1):
        solver.add(un.at(enc.domain, i))
        for p in known:
            solver.add(good_at(p, i))
    for k in range(1, max_k + 1):
        i = k - 1
        solver.add(un.at(enc.trans, i))
        solver.add(good_at(name, i))
        si = un.state(i)
        for j in range(i):
            sj = un.state(j)
            solver.add(z3.Not(_and(*(sym_eq(a, b, t) for a, b, t in zip(si, sj, types, strict=True)))))
        solver.push()
        solver.add(z3.Not(good_at(name, k)))
        ans, why = check(solver, budget)
        solver.pop()
        if ans is Answer.UNSAT:
            return k, None
        if ans is Answer.UNKNOWN:
            return None, why
    return None, f"not {max_k}-inductive"


def derived(spec: ir.Spec, enc: StepEncoding, inv_names: list[str], budget: Budget,
            todo: list[ir.Property], seed: int = 0, facts: tuple[Any, ...] = ()) -> dict[str, str | None]:
    """Prove transitions, asserts, covers (unreachable) and well_defined from invariants.

    Returns property -> "proved from invariants" when proved, None when the query was sat
    or unknown (nothing is claimed then)."""
    un = Unroller(spec, enc)
    solver = new_solver(seed, enc.logic)
    solver.add(un.at(enc.domain, 0))
    for n in inv_names:
        solver.add(un.at(enc.good(n), 0))
    for f in facts:
        solver.add(un.at(f, 0))
    res: dict[str, str | None] = {}
    for p in todo:
        if p.kind not in ("transition", "assert", "cover", "well_defined"):
            continue
        q = un.at(enc.bad(p), 0)
        solver.push()
        solver.add(q)
        ans, _ = check(solver, budget)
        solver.pop()
        res[p.name] = "proved from invariants" if ans is Answer.UNSAT else None
    return res


__all__ = ["one_induction", "k_induction", "derived", "CTI", "InductionOutcome", "_or"]
