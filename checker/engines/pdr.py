"""Unbounded proofs that find their own strengthening: z3's Spacer (CHC / IC3-style PDR).

In: an `ir.Spec`, its `StepEncoding`, the concrete initial state, a property, a `Budget`.
Out: "proved" (the query is unsat: no reachable state violates the property), "violated"
(sat: some reachable state does; BMC finds the shortest trace), or "unknown" with the
reason. The reachable states are the least relation Reach with
    Reach(init)      and      Reach(s) and Trans(s, s') -> Reach(s'),
over the template's own leaves, so the encoding is the one BMC and induction use.
Invariants already proved may be given as extra facts about Reach (they only prune).
"""

from __future__ import annotations

from typing import Any

import z3

from checker import ir
from checker.encode import _and, lift
from checker.encode import eq as sym_eq
from checker.encode_step import StepEncoding
from checker.smt import Budget


def pdr_prove(spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], prop: ir.Property,
              budget: Budget, assumed: list[str] | None = None, seed: int = 0) -> tuple[str, str | None]:
    pre = [c for c in enc.pre_leaves]
    n = len(pre)
    post = enc.leaves.consts[n: 2 * n]
    others = enc.leaves.consts[2 * n:]
    sorts = [c.sort() for c in pre]
    reach = z3.Function(f"Reach_{id(enc)}", *sorts, z3.BoolSort())
    fp = z3.Fixedpoint()
    fp.set(engine="spacer")
    fp.set("spacer.random_seed", seed)
    ms = budget.remaining_ms()
    if ms is not None:
        fp.set("timeout", ms)
    fp.register_relation(reach)
    fp.declare_var(*pre, *post, *others)
    init_eq = _and(*(sym_eq(v, lift(x, var.type, enc.width), var.type) for v, x, var in zip(enc.pre, init, spec.vars, strict=True)))
    fp.rule(reach(*pre), init_eq)
    fp.rule(reach(*post), [reach(*pre), enc.domain, enc.trans])
    try:
        bad = enc.bad(prop)
    except ValueError:
        return "unknown", f"unsupported property kind {prop.kind}"
    facts = [enc.props[a] for a in (assumed or []) if a in enc.props]
    query = _and(reach(*pre), enc.domain, bad, *facts)
    try:
        r = fp.query(query)
    except z3.Z3Exception as err:
        if "canceled" in str(err):
            return "unknown", "time-out" if budget.expired() else "interrupted"
        return "unknown", f"solver error: {err}"
    if r == z3.unsat:
        return "proved", None
    if r == z3.sat:
        return "violated", None
    why = fp.reason_unknown() or "solver gave up"
    if budget.expired() or "timeout" in why or "canceled" in why:
        why = "time-out"
    return "unknown", why
