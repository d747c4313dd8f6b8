"""Terminal report: one line per property, traces for violations, expectations, summary.

In: a `RunResult`, its `ir.Spec` and `SourceFile`, and whether to use colour. Out: text
(the CLI prints it). Trace steps read `3. hypervisor rmpupdate(p=1, g=1, a=0) -> ok`,
followed only by the state that changed. Writers never compute verdicts.
"""

from __future__ import annotations

from typing import Any

from checker import ir
from checker.explain import explain
from checker.interp import Interpreter
from checker.result import Result, RunResult, Trace, Verdict
from checker.source import SourceFile, Span
from checker.values import leaves, show, state_diff

_COLOURS = {
    Verdict.PROVED: "32", Verdict.UNREACHABLE: "32", Verdict.HOLDS_TO_DEPTH: "36",
    Verdict.REACHABLE: "32", Verdict.VIOLATED: "31", Verdict.UNKNOWN: "33",
}


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text


def verdict_colour(r: Result) -> str:
    if r.kind == "cover" and r.verdict is Verdict.UNREACHABLE:
        return "33"
    return _COLOURS[r.verdict]


def render(run: RunResult, spec: ir.Spec, source: SourceFile | None, color: bool = False,
           traces: bool = True, max_init_chars: int = 400) -> str:
    st = Style(color)
    out: list[str] = []
    consts = " ".join(f"{k}={v}" for k, v in run.consts)
    out.append(st("1", f"{run.path}: spec {run.spec}") + (f"  ({consts})" if consts else ""))
    width = max([len(r.prop) for r in run.results] + [8])
    kind_w = max([len(r.kind) for r in run.results] + [9])
    for r in run.results:
        label = f"{r.kind:<{kind_w}} {r.prop:<{width}}"
        how = f"  [{r.reason}]" if r.verdict in (Verdict.PROVED, Verdict.UNREACHABLE) and r.reason else ""
        if r.note and not how and not (traces and r.cti is not None):  # else the CTI shows it
            how = f"  [{r.note}]"
        line = f"  {label}  {st(verdict_colour(r), r.text())}"
        out.append(f"{line:<{len(label) + 34 + (9 if color else 0)}}  {r.time_s:6.2f}s{how}")
    if traces:
        interp = Interpreter(spec)  # one for every explanation of this report
        for r in run.results:
            if r.trace is not None and r.verdict in (Verdict.VIOLATED, Verdict.REACHABLE):
                out.append("")
                out.extend(render_trace(r, spec, source, st, max_init_chars, interp))
        for r in run.results:
            if r.cti is not None and r.verdict is not Verdict.VIOLATED:
                out.append("")
                out.extend(render_cti(r, spec, source, st, interp))
    if run.warnings:
        out.append("")
        out.append(st("1", "warnings"))
        for w in run.warnings:
            out.append(st("33", f"  warning: {w}"))
    unexpected = [r for r in run.results if r.verdict is Verdict.VIOLATED
                  and r.prop not in {e.name for e in run.expectations}]
    if run.expectations:
        out.append("")
        out.append(st("1", "expectations"))
        for e in run.expectations:
            mark = st("32", "met  ") if e.met else st("31", "UNMET")
            within = f" within {e.within}" if e.within is not None else ""
            out.append(f"  {mark}  expect {e.name} {e.kind}{within}: {e.detail}")
        for r in unexpected:
            out.append(st("33", f"  note   {r.prop} is violated and has no `expect` line"))
    out.append("")
    out.append(summary(run, st))
    return "\n".join(out)


def summary(run: RunResult, st: Style) -> str:
    counts: dict[str, int] = {}
    for r in run.results:
        key = r.verdict.value if r.verdict is not Verdict.HOLDS_TO_DEPTH else "holds to depth"
        counts[key] = counts.get(key, 0) + 1
    parts = [f"{n} {k}" for k, n in counts.items()]
    met = sum(1 for e in run.expectations if e.met)
    s = run.stats
    work = (f"{s.states} states, {s.transitions} steps, depth {s.depth}, {s.time_s:.2f}s "
            f"({s.states_per_s:,.0f} states/s, engine {run.engine})" if s.states else
            f"bmc depth {s.depth}, {s.time_s:.2f}s (engine {run.engine})")
    text = (f"{len(run.results)} properties: {', '.join(parts)}; "
            f"{met}/{len(run.expectations)} expectations met; {work}")
    if s.stopped and s.stopped != "all properties decided":
        text += f"; stopped: {s.stopped}"
    return st("1", ("OK: " if run.ok else "FAILED: ") + text)


def trace_steps(spec: ir.Spec, source: SourceFile | None, tr: Trace, st: Style | None = None, *,
                max_init_chars: int = 400, marks: dict[int, str] | None = None,
                label_ghosts: bool = False) -> list[str]:
    """`0. init` with the initial state, then `i. actor action(args) -> outcome` with the
    failed require and only the state that changed. `marks`: text appended to step i's line."""
    st = st or Style(False)
    marks = marks or {}
    out = ["  0. init" + marks.get(0, "")]
    for var, v in zip(spec.vars, tr.init, strict=True) if tr.init else ():  # () when init failed
        text = show(v, var.type)
        if len(text) > max_init_chars:
            text = text[:max_init_chars] + " ..."
        out.append(f"       {'ghost ' if label_ghosts and var.ghost else ''}{var.name} = {text}")
    prev = tr.init
    for i, step in enumerate(tr.steps, start=1):
        outcome = step.outcome if step.outcome == "ok" else st("31", step.outcome)
        out.append(f"  {i}. {step_text(step.actor, step.action, step.args, spec)} -> {outcome}" + marks.get(i, ""))
        if step.failed is not None and step.outcome not in ("ok", "error"):
            out.append(f"       require false at line {step.failed.line}: {source_line(source, step.failed)}")
        if step.outcome != "error":
            for path, a, b in state_diff(spec, prev, step.state):
                out.append(f"       {path}: {a} -> {b}")
            prev = step.state
    return out


def render_trace(r: Result, spec: ir.Spec, source: SourceFile | None, st: Style,
                 max_init_chars: int = 400, interp: Interpreter | None = None) -> list[str]:
    assert r.trace is not None
    tr: Trace = r.trace
    what = "violated" if r.verdict is Verdict.VIOLATED else "reached"
    out = [st("1", f"{r.prop}: {what} at step {r.depth}") + f" ({r.kind}; trace of {tr.length} steps)"]
    out.extend(trace_steps(spec, source, tr, st, max_init_chars=max_init_chars))
    if tr.failure is None:
        try:
            why = explain(spec, r, interp or Interpreter(spec), source.text if source else None)
        except Exception:  # noqa: BLE001 - an explanation is a courtesy, never a crash
            why = None
        if why is not None:
            what = "false" if r.verdict is Verdict.VIOLATED else "true"
            out.append(st("1", f"  why `{r.prop}` is {what} here:"))
            out.extend("    " + line for line in why.lines())
    if tr.failure is not None:
        sp = tr.failure.span
        out.append(st("31", f"  {tr.failure.message}") + f"  ({sp.path}:{sp.line}:{sp.col})")
        out.extend(_caret(source, sp))
    return out


def render_cti(r: Result, spec: ir.Spec, source: SourceFile | None, st: Style,
               interp: Interpreter | None = None) -> list[str]:
    """A counterexample to induction: a state where every invariant assumed holds, a step,
    and a state where this one fails. The pre-state need not be reachable."""
    assert r.cti is not None
    tr = r.cti
    how = f"; {r.text()}" + (f" by {r.reason}" if r.verdict is Verdict.PROVED and r.reason else "")
    how += f" ({r.note})" if r.note and r.verdict is not Verdict.PROVED else ""
    out = [st("1", f"{r.prop}: not inductive on its own{how}"),
           "  counterexample to induction (the pre-state satisfies the invariants assumed, it may be unreachable):",
           "  pre-state"]
    for var, v in zip(spec.vars, tr.init, strict=True):
        out.append(f"       {var.name} = {show(v, var.type)}")
    prev = tr.init
    for step in tr.steps:
        out.append(f"  step {step_text(step.actor, step.action, step.args, spec)} -> {step.outcome}")
        for path, a, b in state_diff(spec, prev, step.state):
            out.append(f"       {path}: {a} -> {b}")
        prev = step.state
    out.append(f"  post-state: `{r.prop}` is false")
    try:
        as_violation = Result(r.prop, r.kind, Verdict.VIOLATED, len(tr.steps), tr)
        why = explain(spec, as_violation, interp or Interpreter(spec), source.text if source else None)
    except Exception:  # noqa: BLE001 - an explanation is a courtesy, never a crash
        why = None
    if why is not None:
        out.append(st("1", f"  why `{r.prop}` is false in the post-state:"))
        out.extend("    " + line for line in why.lines())
    return out


def step_text(actor: str, action: str, args: tuple[tuple[str, Any], ...], spec: ir.Spec) -> str:
    try:
        params = spec.action(action).params
        shown = ", ".join(f"{n}={show(v, p.type)}" for (n, v), p in zip(args, params, strict=True))
    except KeyError:
        shown = ", ".join(f"{n}={v}" for n, v in args)
    return f"{actor} {action}({shown})"


def source_line(source: SourceFile | None, sp: Span) -> str:
    if source is None:
        return ""
    return source.line(sp.line).strip()


def _caret(source: SourceFile | None, sp: Span) -> list[str]:
    if source is None or sp.line < 1:
        return []
    text = source.line(sp.line)
    start = sp.col - 1
    end = sp.end_col - 1 if sp.end_line == sp.line else len(text)
    return [f"     | {text}", f"     | {' ' * start}{'^' * max(end - start, 1)}"]


__all__ = ["render", "render_trace", "leaves"]
