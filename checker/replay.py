"""Replay a trace through the interpreter and confirm it says what the engine claimed.

In: an `ir.Spec`, a `Result` with a trace. Out: nothing when the trace is a real run of the
spec that ends where the verdict says (invariant false, cover true, transition false on
the last step, the recorded ill-defined expression or false assert); otherwise
`ReplayMismatch`, which the pipeline reports as an internal error (never a silent report).
"""

from __future__ import annotations

from checker import ir
from checker.interp import AssertFailure, Interpreter, SpecRuntimeError
from checker.result import Result, Trace, Verdict


class ReplayMismatch(Exception):
    """An engine produced a trace that the interpreter does not reproduce."""


def replay(spec: ir.Spec, result: Result, interp: Interpreter | None = None) -> None:
    if result.trace is None or result.verdict not in (Verdict.VIOLATED, Verdict.REACHABLE):
        return
    interp = interp or Interpreter(spec)
    trace: Trace = result.trace
    where = f"{result.prop} ({result.engine})"
    try:
        state = interp.init()
    except SpecRuntimeError as err:
        if trace.failure is not None and not trace.steps and err.span == trace.failure.span:
            return
        raise ReplayMismatch(f"{where}: init failed during replay: {err.message}") from None
    if state != trace.init:
        raise ReplayMismatch(f"{where}: the trace's initial state is not the spec's")
    prev = state
    for i, step in enumerate(trace.steps, start=1):
        args = tuple(v for _, v in step.args)
        action = spec.action(step.action)
        if len(args) != len(action.params):
            raise ReplayMismatch(f"{where}: step {i} gives {len(args)} arguments to {step.action}")
        try:
            r = interp.step(state, step.action, args)
        except SpecRuntimeError as err:
            last = i == len(trace.steps)
            if step.outcome == "error" and last and trace.failure is not None and err.span == trace.failure.span:
                expected = "well_defined" if not isinstance(err, AssertFailure) else err.prop
                if expected == result.prop:
                    return
            raise ReplayMismatch(f"{where}: step {i} {step.action} failed during replay: {err.message}") from None
        if r is None:
            raise ReplayMismatch(f"{where}: step {i} {step.action}{args} is not enabled during replay")
        if r.outcome != step.outcome or r.state != step.state:
            raise ReplayMismatch(f"{where}: step {i} {step.action}{args} gives {r.outcome} and a different state during replay")
        prev, state = state, r.state
    prop = spec.property(result.prop)
    if prop.kind == "invariant" and interp.holds(prop.name, state):
        raise ReplayMismatch(f"{where}: the invariant holds in the trace's last state")
    if prop.kind == "cover" and not interp.holds(prop.name, state):
        raise ReplayMismatch(f"{where}: the cover is false in the trace's last state")
    if prop.kind == "transition" and (not trace.steps or interp.holds(prop.name, state, prev)):
        raise ReplayMismatch(f"{where}: the transition property holds across the trace's last step")
    if prop.kind == "well_defined" and trace.failure is not None and _property_fails(
            spec, interp, state, prev if trace.steps else None, trace):
        return
    if prop.kind in ("well_defined", "assert"):
        raise ReplayMismatch(f"{where}: the trace ends without the recorded failure")


def _property_fails(spec: ir.Spec, interp: Interpreter, state: tuple[object, ...],
                    prev: tuple[object, ...] | None, trace: Trace) -> bool:
    """Is the recorded failure an ill-defined property evaluated at the trace's end?"""
    assert trace.failure is not None
    last = trace.steps[-1].action if trace.steps else None
    for p in spec.properties:
        if p.expr is None or p.kind == "assert":
            continue
        if p.kind == "transition" and (prev is None or (p.on is not None and last not in p.on)):
            continue
        try:
            interp.holds(p.name, state, prev if p.kind == "transition" else None)
        except SpecRuntimeError as err:
            if err.span == trace.failure.span:
                return True
    return False
