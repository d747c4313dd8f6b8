"""Vacuity and coverage: is the spec checking anything?

In: an `ir.Spec` and its `StepEncoding`. Out: warnings (plain strings with the property
or action named) for
  * an invariant true of every state of the types alone (it checks nothing),
  * an invariant implied by the other invariants alone (it adds nothing),
and, for the z3 path, which (action, outcome) pairs can happen within a depth: every
action never enabled and every `require ... else CODE` never taken is worth a look (the
explicit checker counts them during its search instead). Never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from checker import ir
from checker.encode import _and, _or, lift
from checker.encode import eq as sym_eq
from checker.encode_step import StepEncoding
from checker.engines.bmc import Unroller
from checker.smt import Answer, Budget, check, new_solver


def invariant_warnings(spec: ir.Spec, enc: StepEncoding, budget: Budget, seed: int = 0,
                       holding: frozenset[str] | None = None) -> list[str]:
    """`holding`: the invariants not refuted by the run; only they may serve as premises
    of "follows from the others" (a violated invariant implies anything useful)."""
    invs = [p.name for p in spec.properties if p.kind == "invariant"]
    out: list[str] = []
    if not invs:
        return out
    s = new_solver(seed, enc.logic)
    s.add(enc.domain)
    for name in invs:
        s.push()
        s.add(z3.Not(enc.props[name]))
        ans, _ = check(s, budget)
        s.pop()
        if ans is Answer.UNSAT:
            out.append(f"invariant `{name}` is true of every state of its types: it checks nothing")
            continue
        others = [n for n in invs if n != name and (holding is None or n in holding)]
        if others:
            s.push()
            s.add(*(enc.props[n] for n in others), z3.Not(enc.props[name]))
            ans, _ = check(s, budget)
            s.pop()
            if ans is Answer.UNSAT:
                out.append(f"invariant `{name}` follows from the other invariants alone: it adds nothing")
    return out


@dataclass(frozen=True)
class Coverage:
    """first: (action, outcome) -> the first step at which it can happen (None: not seen);
    never: the pairs no reachable state takes (shown from proved invariants); depth: the
    steps searched completely (less than asked when the budget ran out)."""

    first: dict[tuple[str, str], int | None]
    never: frozenset[tuple[str, str]]
    depth: int


def coverage_bmc(spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], depth: int,
                 budget: Budget, seed: int = 0, lemmas: tuple[str, ...] = (),
                 known: dict[tuple[str, str], int] | None = None) -> Coverage:
    """Which (action, outcome) pairs can happen within `depth` steps (see `Coverage`).

    `known`: pairs already seen, with the first step they took (an explicit search of the
    first layers of the state space; breadth-first, so that step is the least): those within
    `depth` are not searched again.

    `lemmas`: invariants proved to hold in every reachable state. They are assumed in every
    frame, and each pair is first asked of one step from any state that satisfies them: if
    none takes it, it never happens (None) and the unrolling does not look for it, which is
    what made the search run out of time on specs whose never-taken codes are real."""
    un = Unroller(spec, enc)
    s = new_solver(seed, enc.logic)
    s0 = un.state(0)
    s.add(_and(*(sym_eq(v, lift(x, var.type, enc.width), var.type) for v, x, var in zip(s0, init, spec.vars, strict=True))))
    pairs: dict[tuple[str, str], Any] = {}
    for a in spec.actions:
        for code in ("ok", *a.codes):
            pairs[(a.name, code)] = _and(enc.act == enc.index[a.name], enc.out == enc.codes.index(code))
    first: dict[tuple[str, str], int | None] = dict.fromkeys(pairs)
    for p, step in (known or {}).items():
        if p in first and step <= depth:
            first[p] = step
    never: set[tuple[str, str]] = set()
    if lemmas:
        good = [enc.good(n) for n in lemmas]
        local = new_solver(seed, enc.logic)
        local.add(enc.domain, enc.trans, *good)
        for p, f in pairs.items():
            local.push()
            local.add(f)
            ans, _ = check(local, budget)
            local.pop()
            if ans is Answer.UNSAT:
                never.add(p)
    done = 0
    for k in range(depth):
        if all(first[p] is not None or p in never for p in pairs):
            done = depth  # every pair found or impossible: no need to unroll further
            break
        s.add(un.at(enc.domain, k), un.at(enc.trans, k))
        for n in lemmas:
            s.add(un.at(enc.good(n), k))
        while True:
            todo = [p for p in pairs if first[p] is None and p not in never]
            if not todo or budget.expired():
                break
            s.push()
            s.add(un.at(_or(*(pairs[p] for p in todo)), k))
            ans, _ = check(s, budget)
            m = s.model() if ans is Answer.SAT else None
            s.pop()
            if m is None:
                break
            hit = [p for p in todo if z3.is_true(m.eval(un.at(pairs[p], k), model_completion=True))]
            if not hit:
                break
            for p in hit:
                first[p] = k + 1
        if budget.expired():
            break
        done = k + 1
    return Coverage(first, frozenset(never), done)


def coverage_warnings(spec: ir.Spec, seen: dict[tuple[str, str], int | None], where: str,
                      never: frozenset[tuple[str, str]] = frozenset()) -> list[str]:
    """`where` qualifies a pair not seen; a pair in `never` is impossible in any reachable
    state (proved), and says so."""
    out = []

    def at(*ps: tuple[str, str]) -> str:
        return "in any reachable state (proved)" if all(p in never for p in ps) else where

    for a in spec.actions:
        outcomes = ("ok", *a.codes)
        if all(seen.get((a.name, c)) is None for c in outcomes):
            out.append(f"action `{a.name}` never takes a step {at(*((a.name, c) for c in outcomes))}: "
                       "check its `require`s")
            continue
        if seen.get((a.name, "ok")) is None:
            out.append(f"action `{a.name}` never completes with `ok` {at((a.name, 'ok'))}")
        for c in a.codes:
            if seen.get((a.name, c)) is None:
                out.append(f"`{a.name}` never ends in `{c}` {at((a.name, c))}: that `require ... else {c}` is never false")
    return out
