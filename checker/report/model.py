"""The report model: everything any report format shows, as plain frozen data.

In: a `RunResult`, its `ir.Spec` and the spec's source text. Out: a `ReportModel` — per
property its name, kind, verdict, status, time, engine, reason, source location and, for
each trace, the steps (actor, action, arguments shown with `values.show`, outcome, the
require that stopped it, the cells that changed, every state leaf) and the explanation of
the violated property (explain.py). States are also kept as plain JSON values (records
and maps as objects with string keys, sets as sorted lists, options as null or the value)
with a JSON description of each type, so json_report.py can save a model and every other
format can be regenerated from the saved file alone.
Guarantees: deterministic (sorted sets, maps in key order, no timestamps; `strip_times`
zeroes the measured times for byte-stable goldens); writers only read this model — the
status of a property is decided here, once, from the verdicts and expectations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from checker import __version__, ir
from checker.explain import Explanation, explain, explain_require
from checker.interp import Interpreter
from checker.result import ExpectationResult, Result, RunResult, Trace, Verdict
from checker.source import Span
from checker.values import leaves, show, state_diff

TOOL = "tee-check"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Location:
    """A region of the spec (1-based, end column exclusive) and the source lines it covers."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    snippet: str = ""


@dataclass(frozen=True)
class VarInfo:
    name: str
    type: str  # as written in the spec (`Page -> RmpEntry`)
    ghost: bool
    desc: Any  # JSON description of the type (see type_desc)


@dataclass(frozen=True)
class ParamInfo:
    name: str
    type: str
    desc: Any


@dataclass(frozen=True)
class ActionInfo:
    name: str
    params: tuple[ParamInfo, ...]
    location: Location | None


@dataclass(frozen=True)
class StateView:
    values: dict[str, Any]  # var -> plain JSON value
    leaves: tuple[tuple[str, str], ...]  # (path, value text), e.g. ("rmp[0].asid", "1")


@dataclass(frozen=True)
class StepView:
    index: int  # 1-based
    actor: str
    action: str
    args: tuple[tuple[str, str], ...]  # (parameter, value text)
    args_plain: dict[str, Any]  # parameter -> plain JSON value
    outcome: str
    changes: tuple[tuple[str, str, str], ...]  # (path, before, after)
    state: StateView  # after the step
    location: Location | None  # the action's declaration
    failed: Location | None = None  # the require that gave a non-ok outcome
    require: str = ""  # explain_require's sentence for a non-ok outcome

    @property
    def call(self) -> str:
        return f"{self.actor} {self.action}(" + ", ".join(f"{n}={v}" for n, v in self.args) + ")"

    @property
    def text(self) -> str:
        """`3. hypervisor rmpupdate(p=1, g=1, a=0) -> ok`"""
        return f"{self.index}. {self.call} -> {self.outcome}"


@dataclass(frozen=True)
class FailureView:
    message: str
    location: Location | None


@dataclass(frozen=True)
class TraceView:
    kind: str  # counterexample (violated), witness (cover reached), cti (counterexample to induction)
    init: StateView
    steps: tuple[StepView, ...]
    failure: FailureView | None = None
    explanation: Explanation | None = None


@dataclass(frozen=True)
class ExpectationView:
    name: str
    kind: str
    within: int | None
    met: bool
    detail: str


@dataclass(frozen=True)
class PropertyView:
    name: str
    kind: str  # invariant transition cover assert well_defined
    verdict: str  # Verdict value: proved, holds to depth, violated, reachable, unreachable, unknown
    text: str  # Result.text(): "violated at step 7"
    status: str  # pass | fail | skip (see property_status)
    depth: int | None
    time_s: float
    engine: str
    reason: str | None
    note: str | None
    location: Location | None
    expectation: ExpectationView | None
    trace: TraceView | None
    cti: TraceView | None


@dataclass(frozen=True)
class StatsView:
    states: int
    transitions: int
    depth: int
    time_s: float
    complete: bool
    stopped: str | None
    coverage: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True)
class ReportModel:
    tool: str
    version: str
    spec: str
    title: str | None
    path: str
    engine: str
    consts: tuple[tuple[str, int], ...]
    ok: bool  # the exit-code answer of the run (RunResult.ok)
    stats: StatsView
    vars: tuple[VarInfo, ...]
    actions: tuple[ActionInfo, ...]
    properties: tuple[PropertyView, ...]
    expectations: tuple[ExpectationView, ...]
    warnings: tuple[str, ...]

    def property(self, name: str) -> PropertyView:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def action(self, name: str) -> ActionInfo | None:
        for a in self.actions:
            if a.name == name:
                return a
        return None

    def counts(self) -> dict[str, int]:
        """pass / fail / skip counts over the properties."""
        out = {"pass": 0, "fail": 0, "skip": 0}
        for p in self.properties:
            out[p.status] += 1
        return out


# ----------------------------------------------------------------------------- building
def build(run: RunResult, spec: ir.Spec, source_text: str | None = None,
          interp: Interpreter | None = None) -> ReportModel:
    """The report model of one run. `source_text` gives snippets and sub-term text."""
    interp = interp or Interpreter(spec)
    lines = source_text.splitlines() if source_text is not None else None
    expects = {e.name: e for e in run.expectations}
    actions = tuple(
        ActionInfo(a.name, tuple(ParamInfo(p.name, str(p.type), type_desc(p.type)) for p in a.params),
                   _location(a.span, lines, head_only=True))
        for a in spec.actions)
    props: list[PropertyView] = []
    for r in run.results:
        try:
            loc = _location(spec.property(r.prop).span, lines)
        except KeyError:
            loc = None
        ex = expects.get(r.prop)
        trace = None
        if r.trace is not None:
            kind = "witness" if r.verdict is Verdict.REACHABLE else "counterexample"
            trace = _trace(kind, r.trace, spec, interp, lines, explain(spec, r, interp, source_text))
        cti = _trace("cti", r.cti, spec, interp, lines, None) if r.cti is not None else None
        props.append(PropertyView(
            r.prop, r.kind, r.verdict.value, r.text(), property_status(r, ex), r.depth, r.time_s,
            r.engine, r.reason, r.note, loc, _expectation(ex) if ex else None, trace, cti))
    s = run.stats
    return ReportModel(
        TOOL, __version__, run.spec, spec.title, run.path, run.engine, tuple(run.consts), run.ok,
        StatsView(s.states, s.transitions, s.depth, s.time_s, s.complete, s.stopped, tuple(s.coverage)),
        tuple(VarInfo(v.name, str(v.type), v.ghost, type_desc(v.type)) for v in spec.vars),
        actions, tuple(props), tuple(_expectation(e) for e in run.expectations), tuple(run.warnings))


def property_status(r: Result, expectation: ExpectationResult | None) -> str:
    """fail: its `expect` line is unmet, or it is violated and has none; skip: unknown and no
    `expect` line; pass otherwise. (A violation with no `expect` line fails here even in a run
    whose other expectations make the exit code 0: a dashboard should show it.)"""
    if expectation is not None:
        return "pass" if expectation.met else "fail"
    if r.verdict is Verdict.VIOLATED:
        return "fail"
    if r.verdict is Verdict.UNKNOWN:
        return "skip"
    return "pass"


def strip_times(m: ReportModel) -> ReportModel:
    """The same model with every measured time set to 0 (for golden files and diffs)."""
    return replace(m, stats=replace(m.stats, time_s=0.0),
                   properties=tuple(replace(p, time_s=0.0) for p in m.properties))


def _expectation(e: ExpectationResult) -> ExpectationView:
    return ExpectationView(e.name, e.kind, e.within, e.met, e.detail)


def _location(sp: Span, lines: list[str] | None, head_only: bool = False) -> Location | None:
    if sp.line < 1:
        return None
    snippet = ""
    if lines is not None and sp.line <= len(lines):
        last = sp.line if head_only else min(sp.end_line, len(lines))
        snippet = "\n".join(lines[sp.line - 1:last]).rstrip()
    return Location(sp.path, sp.line, sp.col, sp.end_line, sp.end_col, snippet)


def _state(spec: ir.Spec, state: tuple[Any, ...]) -> StateView:
    values = {v.name: plain(x, v.type) for v, x in zip(spec.vars, state, strict=True)}
    lv: list[tuple[str, str]] = []
    for v, x in zip(spec.vars, state, strict=True):
        lv.extend(leaves(x, v.type, v.name))
    return StateView(values, tuple(lv))


def _trace(kind: str, tr: Trace, spec: ir.Spec, interp: Interpreter, lines: list[str] | None,
           explanation: Explanation | None) -> TraceView:
    steps: list[StepView] = []
    prev = tr.init
    for i, st in enumerate(tr.steps, start=1):
        try:
            act: ir.Action | None = spec.action(st.action)
        except KeyError:
            act = None
        types = {p.name: p.type for p in act.params} if act else {}
        args = tuple((n, show(v, types[n]) if n in types else str(v)) for n, v in st.args)
        args_plain = {n: plain(v, types[n]) if n in types else v for n, v in st.args}
        changes = tuple(state_diff(spec, prev, st.state)) if st.outcome != "error" else ()
        require = ""
        failed = None
        if st.failed is not None and st.outcome != "ok":
            failed = _location(st.failed, lines)
            require = explain_require(spec, prev, st, interp, "\n".join(lines) if lines is not None else None)
        steps.append(StepView(i, st.actor, st.action, args, args_plain, st.outcome, changes,
                              _state(spec, st.state), _location(act.span, lines, head_only=True) if act else None,
                              failed, require))
        if st.outcome != "error":
            prev = st.state
    failure = None
    if tr.failure is not None:
        failure = FailureView(tr.failure.message, _location(tr.failure.span, lines))
    return TraceView(kind, _state(spec, tr.init), tuple(steps), failure, explanation)


# ----------------------------------------------------------------------------- plain values
def type_desc(t: ir.Type) -> Any:
    """A JSON description of a type: enough to re-encode plain values (ITF) without the spec."""
    match t:
        case ir.BoolType():
            return {"kind": "bool"}
        case ir.IntType():
            return {"kind": "int"}
        case ir.RangeType(lo=lo, hi=hi):
            return {"kind": "range", "lo": lo, "hi": hi}
        case ir.EnumType(name=n, members=ms):
            return {"kind": "enum", "name": n, "members": list(ms)}
        case ir.RecordType(name=n, fields=fs):
            return {"kind": "record", "name": n, "fields": [[f, type_desc(ft)] for f, ft in fs]}
        case ir.MapType(key=k, value=v):
            return {"kind": "map", "key": type_desc(k), "value": type_desc(v)}
        case ir.SetType(elem=e):
            return {"kind": "set", "elem": type_desc(e)}
        case ir.OptionType(elem=e):
            return {"kind": "option", "elem": type_desc(e)}
    return {"kind": "any"}


def key_text(k: Any) -> str:
    """A map key as a JSON object key: true/false, a number, an enum member."""
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(k)


def plain(v: Any, t: ir.Type) -> Any:
    """A value as plain JSON (compatible with values.to_plain, keys as strings)."""
    match t:
        case ir.RecordType(fields=fs):
            return {name: plain(x, ft) for (name, ft), x in zip(fs, v, strict=True)}
        case ir.MapType(key=k, value=vt):
            return {key_text(key): plain(x, vt) for key, x in zip(ir.domain(k), v, strict=True)}
        case ir.SetType(elem=e):
            return sorted((plain(x, e) for x in v), key=_order_key(e))
        case ir.OptionType(elem=e):
            return None if v is None else plain(v[0], e)
    return v


def _order_key(t: ir.Type) -> Any:
    if ir.is_key_type(t):
        pos = {x: i for i, x in enumerate(ir.domain(t))}
        return lambda x: (pos.get(x, len(pos)), str(x))
    return lambda x: json.dumps(x, sort_keys=True)


def trace_lines(p: PropertyView, tr: TraceView) -> list[str]:
    """A trace as plain text lines (JUnit failure bodies and the like)."""
    what = {"counterexample": "violated", "witness": "reached", "cti": "not inductive"}[tr.kind]
    out = [f"{p.name}: {what}" + (f" at step {p.depth}" if p.depth is not None and tr.kind != "cti" else "")]
    out.append("0. init" if tr.kind != "cti" else "0. pre-state (may be unreachable)")
    for step in tr.steps:
        out.append(step.text)
        if step.require:
            out.append(f"     {step.require}")
        for path, a, b in step.changes:
            out.append(f"     {path}: {a} -> {b}")
    if tr.failure is not None:
        where = f" (line {tr.failure.location.line})" if tr.failure.location else ""
        out.append(f"{tr.failure.message}{where}")
    if tr.explanation is not None:
        out.append(f"{p.name} is {tr.explanation.value} because:" if tr.kind == "counterexample"
                   else f"{p.name} is {tr.explanation.value}:")
        out.extend(tr.explanation.lines(2))
    return out
