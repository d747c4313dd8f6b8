"""What a conformance failure says: the spec trace, the spec-vs-model difference, a replay.

In: the checked spec, its source, the spec trace run so far (a `result.Trace`) and what the
model did differently. Out: `observation_diff` (the paths where `model.observe()` differs
from the spec's non-ghost state, expected vs got), `message` (the text of the
AssertionError: numbered steps `1. hypervisor rmpupdate(p=0, g=1, a=0) -> ok` with the
state that changed, as in the terminal report, then the difference, the ITF file, and a
pytest function that replays the calls against the model), and `write_itf` (the trace
as ITF JSON, the format of report/itf.py, with the disagreement in its `#meta`).
Deterministic: the same trace and difference give the same text and the same file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker import ir
from checker.explain import explain
from checker.interp import Interpreter
from checker.report.text import trace_steps
from checker.report.write import write_atomic
from checker.result import Result, Trace, Verdict
from checker.source import SourceFile
from checker.values import from_plain, show

MISSING = object()  # a key the model's observation lacks
ITF_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


@dataclass(frozen=True)
class Difference:
    """One leaf where the model's observation differs: `rmp[0].validated: expected false, got true`."""

    path: str  # as the reports write it
    keys: tuple[Any, ...]  # the same path as Python subscripts into observe()
    expected: str
    got: str


@dataclass(frozen=True)
class Mismatch:
    """Why the run failed, at which step (0: the initial state)."""

    step: int
    kind: str  # outcome | observation | invariant | spec | model-error
    headline: str
    outcome: str | None = None  # what the model returned, for kind == outcome
    differences: tuple[Difference, ...] = ()
    details: tuple[str, ...] = field(default=())


def _text(x: Any, t: ir.Type | None) -> str:
    if x is MISSING:
        return "(missing)"
    if t is not None:
        try:
            return show(from_plain(x, t), t)
        except Exception:  # noqa: BLE001 - a malformed observation is shown as it is
            pass
    return repr(x)


def plain_diff(expected: Any, got: Any, t: ir.Type, path: str,
               keys: tuple[Any, ...] = ()) -> list[Difference]:
    """Leaves of two plain values of type `t` that differ, walking records and maps."""
    if expected == got:
        return []
    match t:
        case ir.RecordType(fields=fs) if isinstance(got, dict):
            out: list[Difference] = []
            for name, ft in fs:
                out.extend(plain_diff(expected[name], got.get(name, MISSING), ft,
                                      f"{path}.{name}", (*keys, name)))
            extra = sorted(set(got) - {name for name, _ in fs}, key=str)
            out.extend(Difference(f"{path}.{k}", (*keys, k), "(no such field)", repr(got[k])) for k in extra)
            return out
        case ir.MapType(key=kt, value=vt) if isinstance(got, dict):
            out = []
            for k in ir.domain(kt):
                out.extend(plain_diff(expected[k], got.get(k, MISSING), vt,
                                      f"{path}[{show(k, kt)}]", (*keys, k)))
            extra = sorted(set(got) - set(ir.domain(kt)), key=str)
            out.extend(Difference(f"{path}[{k!r}]", (*keys, k), "(outside the domain)", repr(got[k])) for k in extra)
            return out
    return [Difference(path, keys, _text(expected, t), _text(got, t))]


def observation_diff(spec: ir.Spec, expected: dict[str, Any], got: Any) -> list[Difference]:
    """Where `got` (model.observe()) differs from `expected` (the spec's non-ghost state)."""
    if not isinstance(got, dict):
        return [Difference("observe()", (), "a dict of state variables", repr(got))]
    out: list[Difference] = []
    for var in spec.vars:
        if var.name in expected:
            out.extend(plain_diff(expected[var.name], got.get(var.name, MISSING), var.type,
                                  var.name, (var.name,)))
    for name in sorted(set(got) - set(expected), key=str):
        ghost = any(v.name == name and v.ghost for v in spec.vars)
        out.append(Difference(name, (name,), "(ghost: not observed)" if ghost else "(no such variable)",
                              repr(got[name])))
    return out


def render_trace(spec: ir.Spec, source: SourceFile | None, trace: Trace, mismatch: Mismatch,
                 max_init_chars: int = 400) -> list[str]:
    """The spec's side of the run as numbered steps (report/text.py's rendering), with the
    step where the model departs marked."""
    mark = f"    <-- model: {mismatch.outcome}" if mismatch.kind == "outcome" else "    <-- here"
    return trace_steps(spec, source, trace, max_init_chars=max_init_chars, marks={mismatch.step: mark},
                       label_ghosts=True)


def explain_invariant(spec: ir.Spec, source: SourceFile | None, trace: Trace, prop: str,
                      interp: Interpreter) -> list[str]:
    """explain.py's sub-term values showing why `prop` is false at the end of the trace."""
    kind = spec.property(prop).kind
    try:
        why = explain(spec, Result(prop, kind, Verdict.VIOLATED, trace.length, trace), interp,
                      source.text if source else None)
    except Exception:  # noqa: BLE001 - an explanation is a courtesy, never a crash
        return []
    return [] if why is None else list(why.lines())


def _py(x: Any) -> str:
    """A plain value as Python source (frozensets sorted, so the text is stable)."""
    if isinstance(x, frozenset):
        return "frozenset({" + ", ".join(sorted(_py(y) for y in x)) + "})" if x else "frozenset()"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in x.items()) + "}"
    if isinstance(x, tuple):
        return "(" + ", ".join(_py(y) for y in x) + ("," if len(x) == 1 else "") + ")"
    return repr(x)


def pytest_snippet(spec: ir.Spec, trace: Trace, setup: Sequence[str], mismatch: Mismatch,
                   expected_plain: dict[str, Any], plain_args: Sequence[tuple[Any, ...]]) -> str:
    """A pytest function replaying the model calls with asserts of the spec's outcomes."""
    name = re.sub(r"\W", "_", spec.name)
    body = [f"def test_{name}_conformance_replay() -> None:"]
    body.extend(f"    {line}" for line in setup if not line.startswith(("from ", "import ")))
    last = mismatch.step if mismatch.kind == "outcome" else len(trace.steps)
    for step, args in zip(trace.steps[:last], plain_args, strict=False):
        call = f"model.{step.action}({', '.join(_py(a) for a in args)})"
        body.append(f"    assert {call} == {step.outcome!r}")
    if mismatch.kind == "observation":
        body.append("    seen = model.observe()")
        for d in mismatch.differences:
            if not d.keys or d.keys[0] not in expected_plain:
                continue
            want: Any = expected_plain
            try:
                for k in d.keys:
                    want = want[k]
            except (KeyError, TypeError):
                continue
            op = "is" if want is None or isinstance(want, bool) else "=="
            body.append(f"    assert seen{''.join(f'[{_py(k)}]' for k in d.keys)} {op} {_py(want)}")
    imports = [line for line in setup if line.startswith(("from ", "import "))]
    return "\n".join([*imports, "", "", *body]) if imports else "\n".join(body)


def itf_value(v: Any, t: ir.Type) -> Any:
    """A value in ITF, as report/itf.py encodes it (maps in key order, sets sorted)."""
    match t:
        case ir.BoolType():
            return bool(v)
        case ir.IntType() | ir.RangeType():
            return {"#bigint": str(int(v))}
        case ir.RecordType(fields=fs):
            return {name: itf_value(x, ft) for (name, ft), x in zip(fs, v, strict=True)}
        case ir.MapType(key=k, value=vt):
            return {"#map": [[itf_value(key, k), itf_value(x, vt)] for key, x in zip(ir.domain(k), v, strict=True)]}
        case ir.SetType(elem=e):
            order = {x: i for i, x in enumerate(ir.all_values(e))} if ir.is_finite(e) else {}
            return {"#set": [itf_value(x, e) for x in sorted(v, key=lambda x: (order.get(x, 0), repr(x)))]}
        case ir.OptionType(elem=e):
            return {"tag": "None", "value": {}} if v is None else {"tag": "Some", "value": itf_value(v[0], e)}
    return v


def itf_text(spec: ir.Spec, trace: Trace, mismatch: Mismatch) -> str:
    """The spec trace as ITF (the layout of report/itf.py), the disagreement in #meta.conformance."""
    def state(values: tuple[Any, ...], meta: dict[str, Any]) -> dict[str, Any]:
        return {"#meta": meta, **{var.name: itf_value(x, var.type) for var, x in zip(spec.vars, values, strict=True)}}

    states = [state(trace.init, {"index": 0, "action": "init"})]
    for i, step in enumerate(trace.steps, start=1):
        params = {p.name: p.type for p in spec.action(step.action).params}
        states.append(state(step.state, {"index": i, "action": step.action, "actor": step.actor,
                                         "args": {n: itf_value(v, params[n]) for n, v in step.args},
                                         "outcome": step.outcome}))
    meta = {"format": "ITF", "format-description": ITF_DESCRIPTION, "source": spec.path,
            "description": f"tee-check conformance: spec {spec.name}: {mismatch.headline}", "status": "violation",
            "conformance": {
                "step": mismatch.step, "kind": mismatch.kind, "message": mismatch.headline,
                **({"model_outcome": mismatch.outcome} if mismatch.outcome is not None else {}),
                "differences": [{"path": d.path, "expected": d.expected, "got": d.got} for d in mismatch.differences]}}
    doc = {"#meta": meta, "vars": [v.name for v in spec.vars], "states": states}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_itf(path: Path, text: str) -> Path:
    """Write atomically (a reader never sees half a file); returns the path."""
    write_atomic(path, text)
    return path


def message(spec: ir.Spec, source: SourceFile | None, trace: Trace, mismatch: Mismatch,
            model_name: str, itf_path: Path | None, snippet: str) -> str:
    out = [f"conformance failure: spec {spec.name} ({spec.path}) vs model {model_name}",
           f"{mismatch.headline}"]
    if mismatch.differences:
        out.append("  model.observe() differs from the spec's non-ghost state (expected = spec, got = model):")
        out.extend(f"    {d.path}: expected {d.expected}, got {d.got}" for d in mismatch.differences)
    out.extend(f"  {line}" for line in mismatch.details)
    out.append("")
    out.append(f"spec trace ({trace.length} steps):")
    out.extend(render_trace(spec, source, trace, mismatch))
    out.append("")
    if itf_path is not None:
        out.append(f"ITF trace: {itf_path}")
    out.append("replay against the model with pytest:")
    out.append("")
    out.extend(f"    {line}" if line else "" for line in snippet.splitlines())
    return "\n".join(out)
