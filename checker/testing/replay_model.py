"""Replay an ITF trace (a counterexample from the checker, or a conformance failure) on a
model: the counterexample becomes a regression test.

In: the ITF JSON text, the spec it came from, a model. Out: `ReplayReport`: the number of
steps replayed and the first disagreement (None when the model follows the trace): an
outcome that differs, or an `observe()` that differs from the trace's non-ghost state.
ITF values are read per the spec's types (`#bigint`, `#set`, `#map`, `{tag, value}`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from checker import ir


@dataclass(frozen=True)
class ReplayReport:
    steps: int
    disagreement: str | None


def itf_to_plain(x: Any, t: ir.Type) -> Any:
    """An ITF value of spec type t as the plain Python data observe() returns."""
    match t:
        case ir.IntType() | ir.RangeType():
            return int(x["#bigint"]) if isinstance(x, dict) else int(x)
        case ir.BoolType():
            return bool(x)
        case ir.EnumType():
            return x if isinstance(x, str) else x.get("tag")
        case ir.RecordType(fields=fs):
            return {name: itf_to_plain(x[name], ft) for name, ft in fs}
        case ir.MapType(key=k, value=v):
            return {itf_to_plain(kk, k): itf_to_plain(vv, v) for kk, vv in x["#map"]}
        case ir.SetType(elem=e):
            return frozenset(_hashable(itf_to_plain(y, e)) for y in x["#set"])
        case ir.OptionType(elem=e):
            return None if x.get("tag") == "None" else itf_to_plain(x["value"], e)
    return x


def _hashable(x: Any) -> Any:
    return tuple(sorted(x.items())) if isinstance(x, dict) else x


def replay_on_model(text: str, spec: ir.Spec, model: Any, methods: dict[str, str] | None = None) -> ReplayReport:
    doc = json.loads(text)
    states = doc["states"]
    visible = [v for v in spec.vars if not v.ghost]

    def expected(state: dict[str, Any]) -> dict[str, Any]:
        return {v.name: itf_to_plain(state[v.name], v.type) for v in visible}

    def differs(i: int, state: dict[str, Any]) -> str | None:
        got, want = model.observe(), expected(state)
        bad = [n for n in want if got.get(n) != want[n]]
        if bad:
            return (f"after step {i}: observe() differs from the trace in " + ", ".join(f"`{n}`" for n in bad)
                    + "".join(f"\n  {n}: trace {want[n]!r}\n  {' ' * len(n)}  model {got.get(n)!r}" for n in bad))
        return None

    if states:
        bad0 = differs(0, states[0])
        if bad0:
            return ReplayReport(0, bad0)
    for i, state in enumerate(states[1:], start=1):
        meta = state.get("#meta", {})
        name = meta.get("action")
        try:
            action = spec.action(name)
        except KeyError:
            return ReplayReport(i - 1, f"step {i}: the trace names action `{name}`, which the spec does not have")
        args = tuple(itf_to_plain(meta.get("args", {})[p.name], p.type) for p in action.params)
        if meta.get("outcome") == "error":
            return ReplayReport(i - 1, None)  # the spec itself went wrong here: nothing to compare
        try:
            got = getattr(model, (methods or {}).get(name, name))(*args)
        except Exception as err:  # noqa: BLE001 - a crashing model is a disagreement, not our error
            return ReplayReport(i - 1, f"step {i}: the model raised {type(err).__name__}: {err} in {name}{args}")
        if got != meta.get("outcome"):
            return ReplayReport(i - 1, f"step {i}: {name}{args} returns {got!r} in the model; the trace says "
                                f"{meta.get('outcome')!r}")
        bad = differs(i, state)
        if bad:
            return ReplayReport(i, bad)
    return ReplayReport(len(states) - 1, None)
