"""ITF traces: the Informal Trace Format of Apalache and Quint, one trace per file.

In: a `ReportModel`. Out: `render_trace(model, prop, cti=False) -> str` for one property's
trace, and `files(model) -> {relative file name: text}` for every trace
(`traces/<prop>.itf.json`, and `traces/<prop>.cti.itf.json` for a counterexample to
induction). Layout (ADR-015 of Apalache):
  {"#meta": {"format": "ITF", "format-description": ..., "source": spec path, "description": ...},
   "vars": [state variable names], "states": [{"#meta": {"index": i, "action": ...,
   "actor": ..., "args": {...}, "outcome": ...}, var: value, ...}]}
State 0 is the initial state (action "init"). Values: integers {"#bigint": "N"}, booleans
as JSON booleans, enum members as strings, records as objects, maps {"#map": [[k, v], ...]}
in key order, sets {"#set": [...]} sorted, options as the Quint variants
{"tag": "Some", "value": v} / {"tag": "None", "value": {}}. No timestamp: byte-stable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from checker.report.model import PropertyView, ReportModel, TraceView

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def encode(x: Any, desc: Any) -> Any:  # noqa: C901 - one case per kind of type
    """A plain JSON value (model.plain) of the type `desc` (model.type_desc) in ITF."""
    kind = desc.get("kind")
    if kind in ("int", "range"):
        return {"#bigint": str(int(x))}
    if kind == "bool":
        return bool(x)
    if kind == "enum":
        return str(x)
    if kind == "record":
        return {name: encode(x[name], fd) for name, fd in desc["fields"]}
    if kind == "map":
        kd = desc["key"]
        return {"#map": [[encode(_key(k, kd), kd), encode(v, desc["value"])] for k, v in x.items()]}
    if kind == "set":
        return {"#set": [encode(y, desc["elem"]) for y in x]}
    if kind == "option":
        if x is None:
            return {"tag": "None", "value": {}}
        return {"tag": "Some", "value": encode(x, desc["elem"])}
    if isinstance(x, int) and not isinstance(x, bool):
        return {"#bigint": str(x)}
    return x


def _key(k: str, desc: Any) -> Any:
    """A JSON object key back to the key value (model.key_text's inverse)."""
    kind = desc.get("kind")
    if kind == "bool":
        return k == "true"
    if kind in ("int", "range"):
        return int(k)
    return k


def file_name(prop: str, cti: bool = False) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", prop) or "_"
    return f"traces/{safe}{'.cti' if cti else ''}.itf.json"


def files(model: ReportModel) -> dict[str, str]:
    """Every trace of the model: {relative path: ITF text}, in property order."""
    out: dict[str, str] = {}
    for p in model.properties:
        if p.trace is not None:
            out[file_name(p.name)] = render_trace(model, p.name)
        if p.cti is not None:
            out[file_name(p.name, cti=True)] = render_trace(model, p.name, cti=True)
    return out


def render_trace(model: ReportModel, prop: str, cti: bool = False) -> str:
    p = model.property(prop)
    tr = p.cti if cti else p.trace
    if tr is None:
        raise KeyError(f"{prop} has no {'counterexample to induction' if cti else 'trace'}")
    return json.dumps(document(model, p, tr), indent=2, ensure_ascii=False) + "\n"


def document(model: ReportModel, p: PropertyView, tr: TraceView) -> dict[str, Any]:
    descs = {v.name: v.desc for v in model.vars}
    what = {"counterexample": f"{p.kind} {p.name} {p.text}",
            "witness": f"cover {p.name} {p.text}",
            "cti": f"{p.kind} {p.name}: counterexample to induction (the first state may be unreachable)"}[tr.kind]
    meta = {"format": "ITF", "format-description": FORMAT_DESCRIPTION, "source": model.path,
            "description": f"{model.tool} {model.version}: spec {model.spec}: {what}",
            "status": "violation" if tr.kind != "witness" else "witness"}
    states: list[dict[str, Any]] = []
    first = {"#meta": {"index": 0, "action": "init" if tr.kind != "cti" else "pre-state"}}
    states.append({**first, **{v: encode(x, descs[v]) for v, x in tr.init.values.items()}})
    for step in tr.steps:
        action = model.action(step.action)
        ptypes = {q.name: q.desc for q in action.params} if action else {}
        args = {n: encode(x, ptypes.get(n, {"kind": "any"})) for n, x in step.args_plain.items()}
        sm: dict[str, Any] = {"index": step.index, "action": step.action, "actor": step.actor,
                              "args": args, "outcome": step.outcome}
        states.append({"#meta": sm, **{v: encode(x, descs[v]) for v, x in step.state.values.items()}})
    return {"#meta": meta, "vars": [v.name for v in model.vars], "states": states}
