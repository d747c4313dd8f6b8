"""The z3 engines in sequence: proofs first, then BMC, then more proofs.

In: an `ir.Spec`, the engine name (bmc | induction | pdr | spacer | auto), the depth, a
`Budget`, a seed. Out: one `Result` per property and `Stats`. Order: 1-induction over all
invariants together (Houdini); transitions, asserts, covers and `well_defined` derived from
the proved invariants; IC3 (engines/ic3_pool.py) on the invariants still open, with part of
the time (each invariant it proves is one BMC need not unroll, and its frame clauses are
assumed by BMC at the depths they cover); BMC to the depth for violations and covers
(shortest traces); k-induction (k <= 4, simple paths); IC3 again with the rest of the time,
on the invariants and every other property still open (covers it proves unreachable;
transitions, asserts and `well_defined`) (z3's Spacer instead with `spacer` or an
unbounded-Int encoding). `proved` is reported only
when one of these succeeded; the counterexample to 1-induction of an invariant is kept in
the result either way.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from checker import ir
from checker.encode_step import StepEncoding
from checker.engines.bmc import bmc
from checker.engines.ic3_pool import Ic3Pool
from checker.engines.induction import derived, k_induction, one_induction
from checker.engines.pdr import pdr_prove
from checker.interp import Interpreter, SpecRuntimeError
from checker.result import Result, Stats, Trace, Verdict
from checker.smt import Budget

ENGINES = ("bmc", "induction", "pdr", "spacer", "auto")
MAX_K = 4
# IC3's time when the run has no --timeout: before BMC, and in all (it runs until every
# invariant is decided otherwise, and a true invariant it cannot prove would never end)
IC3_FIRST_CAP_S = 180.0
IC3_TOTAL_CAP_S = 300.0


def _pdr_job(path: str, consts: tuple[tuple[str, int], ...], name: str, deadline: float | None,
             seed: int) -> tuple[str, str, str | None]:
    """One PDR query in a worker process: reload the spec (same constants), encode, prove."""
    from checker.parse import parse
    from checker.source import SourceFile
    from checker.typecheck import check as typecheck

    with open(path, encoding="utf-8") as fh:
        spec = typecheck(parse(SourceFile(path, fh.read())), dict(consts))
    init = _init(spec)
    if init is None:
        return name, "unknown", "init failed"
    verdict, why = pdr_prove(spec, StepEncoding(spec), init, spec.property(name), Budget(deadline), None, seed)
    return name, verdict, why


def _pdr_many(spec: ir.Spec, enc: StepEncoding, init: tuple[Any, ...], names: list[str], budget: Budget,
              seed: int, jobs: int) -> dict[str, tuple[str, str | None]]:
    """PDR for several properties: in `jobs` processes when there is more than one."""
    import os

    if jobs > 1 and len(names) > 1 and os.path.exists(spec.path):
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(names))) as pool:
            futures = [pool.submit(_pdr_job, spec.path, spec.consts, n, budget.deadline, seed) for n in names]
            return {n: (v, why) for n, v, why in (f.result() for f in futures)}
    out: dict[str, tuple[str, str | None]] = {}
    for n in names:
        if budget.expired():
            out[n] = ("unknown", "time-out")
            continue
        out[n] = pdr_prove(spec, enc, init, spec.property(n), budget, None, seed)
    return out


def run_engines(spec: ir.Spec, engine: str, depth: int, budget: Budget, seed: int = 0,
                progress: Any = None, jobs: int = 1, enc: StepEncoding | None = None) -> tuple[list[Result], Stats]:
    """`enc`: the spec's encoding if the caller already built it (it is built otherwise).
    Ctrl-C (or the time-out watchdog) anywhere keeps what was proved or found so far."""
    t0 = time.monotonic()
    enc = enc if enc is not None else StepEncoding(spec)
    init = _init(spec)
    if engine == "bmc" or init is None:
        return bmc(spec, enc, depth, budget, seed, progress)
    by: dict[str, Result] = {}
    ctis: dict[str, Trace] = {}
    try:
        return _run(spec, engine, depth, budget, seed, progress, jobs, enc, init, by, ctis, t0)
    except KeyboardInterrupt:  # in a step that does not catch it itself (1-induction, say)
        return _stop(spec, by, ctis, "interrupted", t0)


def _run(spec: ir.Spec, engine: str, depth: int, budget: Budget, seed: int, progress: Any, jobs: int,
         enc: StepEncoding, init: tuple[Any, ...], by: dict[str, Result], ctis: dict[str, Trace],
         t0: float) -> tuple[list[Result], Stats]:
    """`run_engines` after its set-up: fills `by` (and `ctis`) as it goes."""
    interp = Interpreter(spec)
    proved_invs: list[str] = []
    invariants = [p.name for p in spec.properties if p.kind == "invariant"]
    # 1. 1-induction over the invariants true (and well defined) in the initial state:
    #    the base case is that evaluation; the Houdini loop keeps the inductive subset.
    base = [n for n in invariants if _holds(interp, n, init)]
    if engine in ("induction", "auto") and base:
        out = one_induction(spec, enc, base, budget, seed)
        for name, how in out.proved.items():
            by[name] = Result(name, "invariant", Verdict.PROVED, reason=how, time_s=time.monotonic() - t0,
                              engine=engine)
            proved_invs.append(name)
        for name, cti in out.ctis.items():
            ctis[name] = Trace(cti.pre, (cti.step,))
    # 2. the other kinds, from the proved invariants
    _derive(spec, enc, proved_invs, budget, seed, by, engine, t0)
    # 3. IC3 finds the strengthening of the others itself (before BMC: every invariant it
    #    proves is one BMC need not check at every depth, and is assumed in its frames)
    pool: Ic3Pool | None = None
    use_ic3 = engine in ("pdr", "auto") and enc.width is not None
    if use_ic3 and [n for n in base if n not in proved_invs]:
        pool = Ic3Pool(spec, enc, init, [n for n in base if n not in proved_invs], proved_invs, seed)
        rem = budget.remaining_ms()
        if _advance(pool, budget, IC3_FIRST_CAP_S if rem is None else rem / 2000):
            return _stop(spec, by, ctis, "interrupted", t0)
        _absorb(spec, pool, by, proved_invs, t0, ctis, engine)
        _derive(spec, enc, proved_invs, budget, seed, by, engine, t0, facts=tuple(pool.facts))
    # 4. BMC for what is open, with the proved invariants assumed in every frame
    results, stats = bmc(spec, enc, depth, budget, seed, progress, decided=frozenset(by),
                         assume=tuple(proved_invs), facts=tuple(pool.facts) if pool else (),
                         facts_within=pool.facts_within if pool else None)
    for r in results:
        by[r.prop] = replace(r, cti=ctis.get(r.prop))
    if pool is not None:
        _absorb(spec, pool, by, proved_invs, t0, ctis, engine)  # IC3's word on what it left open
    if stats.stopped in ("interrupted", "time-out"):
        return [by[p.name] for p in spec.properties], replace(stats, time_s=time.monotonic() - t0)
    open_invs = [n for n in invariants if by[n].verdict is Verdict.HOLDS_TO_DEPTH]
    # 5. k-induction (its base case, no violation within k-1 steps, is what BMC just showed)
    if engine in ("induction", "auto"):
        for name in open_invs:
            if budget.expired():
                break
            k, _why = k_induction(spec, enc, name, proved_invs, min(MAX_K, stats.depth + 1), budget, seed)
            if k is not None and k >= 2:
                by[name] = _proved(by[name], f"{k}-induction", t0)
                proved_invs.append(name)
    # 6. IC3 goes on with the rest of the time (Spacer instead on unbounded-integer encodings);
    #    IC3 also takes the other properties still open: the covers BMC did not reach (the
    #    cover is the bad state, so a fixpoint proves it unreachable), and the transitions,
    #    asserts and well_defined that hold to the depth (the bad state: the pre-state of a
    #    step that breaks them)
    facts: list[Any] = []
    todo = [n for n in open_invs if n not in proved_invs]
    cap_end = None if budget.remaining_ms() is not None else time.monotonic() + IC3_TOTAL_CAP_S - IC3_FIRST_CAP_S
    if use_ic3:
        # the invariants first (what they prove often gives the rest in one step), then the
        # other properties that are still open, in what is left of the time
        for stage in ("invariants", "others"):
            if stage == "others":
                _derive(spec, enc, proved_invs, budget, seed, by, engine, t0, facts=tuple(pool.facts) if pool else ())
                todo = [p.name for p in spec.properties if p.kind != "invariant" and _open(by.get(p.name))]
            if not todo or budget.expired():
                continue
            pool = pool or Ic3Pool(spec, enc, init, todo, proved_invs, seed)
            for name in todo:
                if name not in pool.goals:
                    pool.goals.append(name)
            left = None if cap_end is None else max(0.0, cap_end - time.monotonic())
            interrupted = _advance(pool, budget, left)
            _absorb(spec, pool, by, proved_invs, t0, ctis, engine)
            if interrupted:
                return [by[p.name] for p in spec.properties], replace(stats, time_s=time.monotonic() - t0,
                                                                      stopped="interrupted")
    elif engine in ("pdr", "auto", "spacer") and todo:
        for name, (verdict, why) in _pdr_many(spec, enc, init, todo, budget, seed, jobs).items():
            if verdict == "proved":
                by[name] = _proved(by[name], "PDR (Spacer)", t0)
                proved_invs.append(name)
            elif verdict == "unknown" and why:
                by[name] = replace(by[name], note=f"PDR: {why}")
    if pool is not None:
        facts = pool.facts
    _derive(spec, enc, proved_invs, budget, seed, by, engine, t0, use_pdr=engine in ("pdr", "auto", "spacer")
            and not use_ic3, init=init, jobs=jobs, facts=tuple(facts))
    return [by[p.name] for p in spec.properties], replace(stats, time_s=time.monotonic() - t0)


def _advance(pool: Ic3Pool, budget: Budget, cap_s: float | None) -> bool:
    """Run the pool; True when Ctrl-C stopped it (what it proved so far is kept)."""
    try:
        pool.advance(budget, cap_s)
    except KeyboardInterrupt:
        return True
    return False


def _absorb(spec: ir.Spec, pool: Ic3Pool, by: dict[str, Result], proved_invs: list[str], t0: float,
            ctis: dict[str, Trace], engine: str) -> None:
    """Record what the pool proved (and why the rest is open) in the results; an invariant
    proved keeps its counterexample to 1-induction (it needed the strengthening)."""
    for name in pool.goals:
        kind = spec.property(name).kind
        done = by.get(name) is not None and by[name].verdict in (Verdict.PROVED, Verdict.UNREACHABLE)
        if name in pool.how and not done:
            base = by.get(name) or Result(name, kind, Verdict.UNKNOWN, engine=engine, cti=ctis.get(name))
            by[name] = _proved(base, pool.how[name], t0)  # a cover: `unreachable (proved)`
            if kind == "invariant":  # only invariants are assumed by the later proofs
                proved_invs.append(name)
        elif name in pool.why and name in by:
            by[name] = replace(by[name], note=f"IC3: {pool.why[name]}")


def _stop(spec: ir.Spec, by: dict[str, Result], ctis: dict[str, Trace], why: str,
          t0: float) -> tuple[list[Result], Stats]:
    """The results so far when the run is stopped before BMC: the rest `unknown (why)`."""
    out = [by.get(p.name) or Result(p.name, p.kind, Verdict.UNKNOWN, reason=why, cti=ctis.get(p.name))
           for p in spec.properties]
    return out, Stats(stopped=why, time_s=time.monotonic() - t0)


def _derive(spec: ir.Spec, enc: StepEncoding, proved_invs: list[str], budget: Budget, seed: int,
            by: dict[str, Result], engine: str, t0: float, use_pdr: bool = False,
            init: tuple[Any, ...] | None = None, jobs: int = 1, facts: tuple[Any, ...] = ()) -> None:
    """Prove open transitions, asserts, covers (unreachable) and well_defined (`facts`:
    strengthening lemmas that hold in every reachable state, assumed with the invariants)."""
    rest = [p for p in spec.properties if p.kind != "invariant" and _open(by.get(p.name))]
    if not rest or budget.expired():
        return
    d = derived(spec, enc, proved_invs, budget, rest, seed, facts)
    for p in rest:
        if d.get(p.name):
            base = by.get(p.name) or Result(p.name, p.kind, Verdict.UNKNOWN, engine=engine)
            by[p.name] = _proved(base, "from the proved invariants" if proved_invs else "induction", t0)
    todo = [p.name for p in rest if not d.get(p.name)]
    if use_pdr and init is not None and todo and not budget.expired():
        for name, (verdict, _why) in _pdr_many(spec, enc, init, todo, budget, seed, jobs).items():
            if verdict == "proved" and name in by:
                by[name] = _proved(by[name], "PDR (Spacer)", t0)


def _open(r: Result | None) -> bool:
    if r is None:
        return True
    if r.verdict is Verdict.HOLDS_TO_DEPTH:
        return True
    return r.verdict is Verdict.UNKNOWN and (r.reason or "").startswith("not reached")


def _holds(interp: Interpreter, name: str, state: tuple[Any, ...]) -> bool:
    try:
        return interp.holds(name, state)
    except SpecRuntimeError:
        return False


def _proved(r: Result, how: str, t0: float) -> Result:
    v = Verdict.UNREACHABLE if r.kind == "cover" else Verdict.PROVED
    return replace(r, verdict=v, depth=None, reason=how, time_s=time.monotonic() - t0)


def _init(spec: ir.Spec) -> tuple[Any, ...] | None:
    try:
        return Interpreter(spec).init()
    except SpecRuntimeError:
        return None
