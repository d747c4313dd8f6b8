"""SARIF 2.1.0 for code-scanning: one result per violated property.

In: a `ReportModel`. Out: `render(model) -> str`, a SARIF log with one run: the tool's
rules are the spec's properties (ruleId = property name); each violated property is a
result (level "error") located at the property's declaration in the spec, whose message
carries the verdict and the sub-terms that make it false, and whose codeFlow walks the
trace: one threadFlow location per step at the action's declaration (message = the step
text), then the property itself. URIs are the spec path as given (relative paths stay
relative, resolved against %SRCROOT%). Deterministic: no timestamps, no absolute paths
added.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from checker.report.model import Location, PropertyView, ReportModel

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(model: ReportModel) -> str:
    return json.dumps(log(model), indent=2, ensure_ascii=False) + "\n"


def uri(path: str) -> tuple[str, str | None]:
    """(uri, uriBaseId) for a spec path: relative paths against %SRCROOT%."""
    p = path.replace("\\", "/")
    if PurePosixPath(p).is_absolute() or PureWindowsPath(path).is_absolute():
        return PurePosixPath(p).as_uri() if p.startswith("/") else "file:///" + p, None
    return p, "%SRCROOT%"


def _physical(loc: Location, with_snippet: bool = True) -> dict[str, Any]:
    u, base = uri(loc.path)
    art: dict[str, Any] = {"uri": u}
    if base:
        art["uriBaseId"] = base
    region: dict[str, Any] = {"startLine": loc.line, "startColumn": max(loc.col, 1)}
    if (loc.end_line, loc.end_col) > (loc.line, loc.col):
        region["endLine"] = loc.end_line
        region["endColumn"] = max(loc.end_col, 1)
    if with_snippet and loc.snippet:
        region["snippet"] = {"text": loc.snippet}
    return {"artifactLocation": art, "region": region}


def _message(p: PropertyView) -> str:
    text = f"{p.kind} `{p.name}` is {p.text}"
    tr = p.trace
    if tr is not None and tr.failure is not None:
        text += f": {tr.failure.message}"
    if tr is not None and tr.explanation is not None:
        text += "\n" + "\n".join(tr.explanation.lines(0))
    return text


def log(model: ReportModel) -> dict[str, Any]:
    rules = []
    for p in model.properties:
        rule: dict[str, Any] = {"id": p.name, "name": p.name,
                                "shortDescription": {"text": f"{p.kind} {p.name}"},
                                "defaultConfiguration": {"level": "error"},
                                "properties": {"kind": p.kind, "verdict": p.verdict}}
        if p.location is not None and p.location.snippet:
            rule["fullDescription"] = {"text": p.location.snippet}
        rules.append(rule)
    index = {p.name: i for i, p in enumerate(model.properties)}
    results = []
    for p in model.properties:
        if p.verdict != "violated":
            continue
        res: dict[str, Any] = {"ruleId": p.name, "ruleIndex": index[p.name], "level": "error",
                               "message": {"text": _message(p)}}
        if p.location is not None:
            res["locations"] = [{"physicalLocation": _physical(p.location)}]
        tr = p.trace
        if tr is not None:
            flow: list[dict[str, Any]] = []
            for step in tr.steps:
                loc: dict[str, Any] = {"message": {"text": step.text + (f" ({step.require})" if step.require else "")}}
                if step.location is not None:
                    loc["physicalLocation"] = _physical(step.location, with_snippet=False)
                state = {path: {"text": f"{a} -> {b}"} for path, a, b in step.changes}
                tfl: dict[str, Any] = {"location": loc, "executionOrder": step.index}
                if state:
                    tfl["state"] = state
                flow.append(tfl)
            if tr.failure is not None and tr.failure.location is not None:
                flow.append({"location": {"message": {"text": tr.failure.message},
                                          "physicalLocation": _physical(tr.failure.location, with_snippet=False)},
                             "executionOrder": len(tr.steps) + 1})
            elif p.location is not None:
                flow.append({"location": {"message": {"text": f"`{p.name}` is false"},
                                          "physicalLocation": _physical(p.location, with_snippet=False)},
                             "executionOrder": len(tr.steps) + 1})
            res["codeFlows"] = [{"message": {"text": f"a trace of {len(tr.steps)} steps violating {p.name}"},
                                 "threadFlows": [{"locations": flow}]}]
        results.append(res)
    u, base = uri(model.path)
    artifact: dict[str, Any] = {"uri": u}
    if base:
        artifact["uriBaseId"] = base
    run: dict[str, Any] = {
        "tool": {"driver": {"name": model.tool, "version": model.version,
                            "rules": rules}},
        "artifacts": [{"location": artifact, "sourceLanguage": "tee"}],
        "results": results,
        "properties": {"spec": model.spec, "engine": model.engine, "ok": model.ok},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
