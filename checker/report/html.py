"""One self-contained HTML page for a run: open it in a browser, no network needed.

In: a `ReportModel`. Out: `render(model) -> str`: a header (spec, title, file, engine,
constants, statistics, warnings), an index table of the properties with colour-coded
verdicts that link to their traces, then per trace (a violation, a reached cover, a
counterexample to induction): an inline SVG sequence diagram (one lifeline per actor, one
box per step labelled with the action, an arrow to the state lifeline labelled with the
outcome and what changed), the step table (#, actor, action(args), outcome, changed cells
with class `changed`, the full state after each step in a collapsed <details>), the
failure message of a well_defined / assert violation and the explanation as a nested list
(class `explanation`).
Guarantees: every text from the spec or the run goes through html.escape (names,
messages, values, source lines, the title); inline CSS only, no script, no external
resource (a Content-Security-Policy forbids scripts and fetches as a second line of
defence); deterministic: the same model gives the same bytes (times only as the model
carries them; see model.strip_times).
"""

from __future__ import annotations

import html
import re

from checker.explain import Explanation
from checker.report.model import Location, PropertyView, ReportModel, StateView, StepView, TraceView

CHAR_W = 7.3  # width of one character of the SVG's 12px monospace text, in px
MAX_LABEL = 48  # characters of a label in the diagram; longer ones are cut with …
MAX_DIAGRAM_CHANGES = 2  # changed cells written next to the state lifeline per step

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa;
  --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
  --skip: #9a6700; --skip-bg: #fff8c5; --info: #0969da; --info-bg: #ddf4ff;
  --changed-bg: #fff1b8; --changed-fg: #6b4e00; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: var(--fg); margin: 0; padding: 24px 32px 48px; max-width: 1400px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h1 code, h2 code, h3 code { font-size: 0.9em; }
h1 .title { font-weight: normal; color: var(--muted); }
h2 { font-size: 17px; margin: 16px 0 8px; }
section.trace h2 { margin-top: 0; }
h3 { font-size: 14px; margin: 18px 0 6px; }
a { color: var(--info); text-decoration: none; }
a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 12px; font-size: 13px;
  font-weight: 600; vertical-align: middle; margin-left: 8px; }
.badge.ok { background: var(--pass-bg); color: var(--pass); }
.badge.failed { background: var(--fail-bg); color: var(--fail); }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.index tr.status-fail td:first-child { box-shadow: inset 4px 0 var(--fail); }
table.index tr.status-pass td:first-child { box-shadow: inset 4px 0 var(--pass); }
table.index tr.status-skip td:first-child { box-shadow: inset 4px 0 var(--skip); }
.status { font-weight: 600; white-space: nowrap; }
.status.pass { color: var(--pass); } .status.fail { color: var(--fail); } .status.skip { color: var(--skip); }
.verdict { display: inline-block; padding: 0 8px; border-radius: 10px; white-space: nowrap; }
.verdict.violated { background: var(--fail-bg); color: var(--fail); }
.verdict.proved, .verdict.holds-to-depth { background: var(--pass-bg); color: var(--pass); }
.verdict.reachable { background: var(--info-bg); color: var(--info); }
.verdict.unreachable { background: var(--bg-soft); color: var(--muted); }
.verdict.unknown { background: var(--skip-bg); color: var(--skip); }
.unmet { color: var(--fail); font-weight: 600; }
section.trace { border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 24px 0; }
section.trace.counterexample { border-top: 4px solid var(--fail); }
section.trace.witness { border-top: 4px solid var(--info); }
section.trace.cti { border-top: 4px solid var(--skip); }
.where { color: var(--muted); }
.reason { color: var(--muted); font-size: 12px; }
pre.snippet { background: var(--bg-soft); border: 1px solid var(--line); border-radius: 6px;
  padding: 6px 10px; margin: 6px 0; overflow-x: auto; }
.diagram { overflow-x: auto; margin: 8px 0 12px; }
table.steps td.changes { min-width: 260px; }
.changed { background: var(--changed-bg); color: var(--changed-fg); border-radius: 3px; }
td.changes .changed { display: inline-block; padding: 0 4px; margin: 1px 0; }
.outcome.ok { color: var(--pass); }
.outcome.bad { color: var(--fail); font-weight: 600; }
.require { color: var(--fail); font-size: 12.5px; margin-bottom: 2px; }
details > summary { cursor: pointer; color: var(--info); }
table.state { margin: 4px 0; }
table.state td { padding: 1px 6px; }
.failure { background: var(--fail-bg); border-left: 4px solid var(--fail); padding: 6px 10px;
  margin: 10px 0; border-radius: 0 6px 6px 0; }
ul.explanation, ul.explanation ul { list-style: none; margin: 0; padding-left: 18px; }
ul.explanation { padding-left: 0; }
ul.explanation li { margin: 1px 0; }
ul.explanation ul { border-left: 1px dotted var(--line); margin-left: 4px; }
.val { font-weight: 600; }
.val.false { color: var(--fail); } .val.true { color: var(--pass); }
.warnings li { color: var(--skip); }
footer { color: var(--muted); margin-top: 32px; font-size: 12px; }
"""


def esc(text: object) -> str:
    """Any text from the spec or the run, for element content and attribute values."""
    return html.escape(str(text), quote=True)


def _code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def _cut(text: str, n: int = MAX_LABEL) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _slug(i: int, name: str, suffix: str = "") -> str:
    """A unique, safe id: property index plus its name reduced to [A-Za-z0-9_-]."""
    return f"p{i}-" + re.sub(r"[^A-Za-z0-9_-]", "_", name) + suffix


def _where(loc: Location | None) -> str:
    return f"{loc.path}:{loc.line}" if loc is not None else ""


def _snippet(loc: Location | None) -> str:
    if loc is None or not loc.snippet:
        return ""
    return f'<pre class="snippet">{esc(loc.snippet)}</pre>'


def _args(st: StepView) -> str:
    return f"{st.action}(" + ", ".join(f"{n}={v}" for n, v in st.args) + ")"


# ----------------------------------------------------------------------------- page
def render(model: ReportModel) -> str:
    head = "OK" if model.ok else "FAILED"
    title = f"tee-check: {model.spec}" + (f" — {model.title}" if model.title else "") + f": {head}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
    ]
    out.extend(_header(model))
    out.extend(_index(model))
    for i, p in enumerate(model.properties):
        if p.trace is not None:
            out.extend(_trace(_slug(i, p.name, "-trace"), p, p.trace))
        if p.cti is not None:
            out.extend(_trace(_slug(i, p.name, "-cti"), p, p.cti))
    out.append(f"<footer>{esc(model.tool)} {esc(model.version)}</footer>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


def _header(model: ReportModel) -> list[str]:
    counts = model.counts()
    badge = '<span class="badge ok">OK</span>' if model.ok else '<span class="badge failed">FAILED</span>'
    title = f' <span class="title">— {esc(model.title)}</span>' if model.title else ""
    out = ["<header>", f"<h1>tee-check: {_code(model.spec)}{title}{badge}</h1>", '<dl class="meta">']
    s = model.stats
    work = f"{s.states} states, {s.transitions} transitions, depth {s.depth}" if s.states else f"depth {s.depth}"
    work += f", {s.time_s:.2f}s"
    if not s.complete:
        work += " (incomplete" + (f": {s.stopped}" if s.stopped else "") + ")"
    rows = [
        ("file", _code(model.path)),
        ("engine", esc(model.engine)),
        ("explored", esc(work)),
        ("constants", ", ".join(_code(f"{k} = {v}") for k, v in model.consts) or "none"),
        ("properties", f'<span class="status pass">{counts["pass"]} passed</span>, '
                       f'<span class="status fail">{counts["fail"]} failed</span>, '
                       f'<span class="status skip">{counts["skip"]} unknown</span>'),
    ]
    out.extend(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    out.append("</dl>")
    if model.warnings:
        out.append('<h3>Warnings</h3><ul class="warnings">')
        out.extend(f"<li>{esc(w)}</li>" for w in model.warnings)
        out.append("</ul>")
    if model.vars:
        out.append("<details><summary>State variables</summary>")
        out.append("<table><tr><th>variable</th><th>type</th></tr>")
        out.extend(f"<tr><td>{_code(v.name)}{' <em>(ghost)</em>' if v.ghost else ''}</td>"
                   f"<td>{_code(v.type)}</td></tr>" for v in model.vars)
        out.append("</table></details>")
    if s.coverage:
        out.append("<details><summary>Action coverage</summary>")
        out.append('<table><tr><th>action</th><th>outcome</th><th class="num">steps</th></tr>')
        out.extend(f'<tr><td>{_code(a)}</td><td>{esc(o)}</td><td class="num">{n}</td></tr>'
                   for a, o, n in s.coverage)
        out.append("</table></details>")
    out.append("</header>")
    return out


def _index(model: ReportModel) -> list[str]:
    out = ["<h2>Properties</h2>", '<table class="index">',
           "<tr><th>status</th><th>property</th><th>kind</th><th>verdict</th><th>expectation</th>"
           '<th>engine</th><th class="num">time</th><th>declared</th></tr>']
    for i, p in enumerate(model.properties):
        name = _code(p.name)
        if p.trace is not None:
            name = f'<a href="#{_slug(i, p.name, "-trace")}">{name}</a>'
        elif p.cti is not None:
            name = f'<a href="#{_slug(i, p.name, "-cti")}">{name}</a>'
        verdict = f'<span class="verdict {esc(p.verdict.replace(" ", "-"))}">{esc(p.text)}</span>'
        if p.reason:
            verdict += f'<br><span class="reason">{esc(p.reason)}</span>'
        if p.note:
            verdict += f'<br><span class="reason">{esc(p.note)}</span>'
        expect = ""
        if p.expectation is not None:
            e = p.expectation
            within = f" within {e.within}" if e.within is not None else ""
            expect = esc(e.kind + within) + (": met" if e.met else ': <span class="unmet">unmet</span>')
        mark = {"pass": "✔ pass", "fail": "✘ fail", "skip": "? unknown"}.get(p.status, p.status)
        out.append(f'<tr id="{_slug(i, p.name)}" class="status-{esc(p.status)}">'
                   f'<td class="status {esc(p.status)}">{esc(mark)}</td><td>{name}</td><td>{esc(p.kind)}</td>'
                   f"<td>{verdict}</td><td>{expect}</td><td>{esc(p.engine)}</td>"
                   f'<td class="num">{p.time_s:.2f}s</td><td class="where">{esc(_where(p.location))}</td></tr>')
    out.append("</table>")
    return out


# ----------------------------------------------------------------------------- traces
_HEADING = {"counterexample": "counterexample", "witness": "witness",
            "cti": "counterexample to induction"}


def _trace(sid: str, p: PropertyView, tr: TraceView) -> list[str]:
    what = p.text if tr.kind != "cti" else "not inductive (its pre-state may be unreachable)"
    out = [f'<section class="trace {esc(tr.kind)}" id="{sid}">',
           f"<h2>{esc(p.kind)} {_code(p.name)}: {esc(what)} "
           f'<span class="where">— {esc(_HEADING.get(tr.kind, tr.kind))}, {len(tr.steps)} '
           f'step{"" if len(tr.steps) == 1 else "s"}</span></h2>']
    if p.location is not None:
        out.append(f'<div class="where">{esc(_where(p.location))}</div>')
        out.append(_snippet(p.location))
    out.append(f'<div class="diagram">{_diagram(sid, p, tr)}</div>')
    out.extend(_steps(tr))
    if tr.failure is not None:
        f = tr.failure
        where = f' <span class="where">({esc(_where(f.location))})</span>' if f.location else ""
        out.append(f'<div class="failure"><strong>{esc(f.message)}</strong>{where}{_snippet(f.location)}</div>')
    if tr.explanation is not None:
        intro = (f"{_code(p.name)} is {esc(tr.explanation.value)} because:" if tr.kind == "counterexample"
                 else f"{_code(p.name)} is {esc(tr.explanation.value)}:")
        out.append(f"<h3>{intro}</h3>")
        out.append('<ul class="explanation">')
        out.extend(_explanation(tr.explanation))
        out.append("</ul>")
    out.append("</section>")
    return out


def _explanation(e: Explanation) -> list[str]:
    value = ""
    if e.value:
        cls = e.value if e.value in ("true", "false") else ""
        value = f' = <span class="val {cls}">{esc(e.value)}</span>'
    out = [f"<li>{_code(e.text)}{value}"]
    if e.children:
        out.append("<ul>")
        for c in e.children:
            out.extend(_explanation(c))
        out.append("</ul>")
    out.append("</li>")
    return out


_CHANGED = ' class="changed"'


def _state_table(state: StateView, changed: set[str]) -> str:
    rows = "".join(
        f"<tr{_CHANGED if path in changed else ''}><td>{_code(path)}</td><td>{_code(v)}</td></tr>"
        for path, v in state.leaves)
    return f'<table class="state">{rows}</table>'


def _state_details(state: StateView, changed: set[str], label: str) -> str:
    return (f"<details><summary>{esc(label)} ({len(state.leaves)} cells)</summary>"
            f"{_state_table(state, changed)}</details>")


def _declared(loc: Location | None) -> str:
    """A tooltip with the action's declaration: `file:line: action f(...) by actor {`."""
    if loc is None:
        return ""
    return f' title="{esc(_where(loc) + (": " + loc.snippet.strip() if loc.snippet else ""))}"'


def _steps(tr: TraceView) -> list[str]:
    first = "pre-state (may be unreachable)" if tr.kind == "cti" else "init"
    out = ['<table class="steps">',
           '<tr><th class="num">#</th><th>actor</th><th>action(args)</th><th>outcome</th>'
           "<th>changed cells</th><th>state after</th></tr>",
           f'<tr><td class="num">0</td><td></td><td><em>{esc(first)}</em></td><td></td><td></td>'
           f"<td>{_state_details(tr.init, set(), 'state')}</td></tr>"]
    for st in tr.steps:
        ok = st.outcome == "ok"
        changes = "".join(f'<span class="changed mono">{esc(path)}: {esc(a)} → {esc(b)}</span><br>'
                          for path, a, b in st.changes)
        if st.require:
            where = f" ({esc(_where(st.failed))})" if st.failed is not None else ""
            changes = f'<div class="require">{esc(st.require)}{where}</div>' + changes
        if not changes:
            changes = '<span class="where">no change</span>'
        out.append(
            f'<tr class="step{"" if ok else " bad"}"><td class="num">{st.index}</td><td>{esc(st.actor)}</td>'
            f"<td{_declared(st.location)}>{_code(_args(st))}</td>"
            f'<td class="outcome {"ok" if ok else "bad"}">{esc(st.outcome)}</td>'
            f'<td class="changes">{changes}</td>'
            f"<td>{_state_details(st.state, {c[0] for c in st.changes}, 'state')}</td></tr>")
    out.append("</table>")
    return out


# ----------------------------------------------------------------------------- SVG diagram
def _text_w(text: str) -> float:
    return len(text) * CHAR_W


def _diagram(sid: str, p: PropertyView, tr: TraceView) -> str:
    """A sequence diagram: actor lifelines, then the state lifeline; per step a box on the
    actor's lifeline (`n. action(args)`) and an arrow to the state labelled with the outcome,
    with the changed cells written to the right of the state lifeline."""
    actors: list[str] = []
    for st in tr.steps:
        if st.actor not in actors:
            actors.append(st.actor)
    labels = {st.index: _cut(f"{st.index}. {_args(st)}") for st in tr.steps}
    pad, gap, head_h, row_h, top = 10.0, 36.0, 28.0, 40.0, 12.0
    lane_w: dict[str, float] = {}
    for a in actors:
        widest = max([_text_w(_cut(a)) + 2 * pad] + [_text_w(labels[st.index]) + 2 * pad
                                                     for st in tr.steps if st.actor == a])
        lane_w[a] = max(widest, 90.0)
    xs: dict[str, float] = {}
    x = 16.0
    for a in actors:
        xs[a] = x + lane_w[a] / 2
        x += lane_w[a] + gap
    outcome_w = max([_text_w(st.outcome) + 24 for st in tr.steps] + [60.0])
    state_x = x + outcome_w
    notes = {st.index: _diagram_changes(st) for st in tr.steps}
    final = _final_note(p, tr)
    note_w = max([_text_w(n) for n in notes.values()] + [_text_w(final), _text_w("state")])
    width = state_x + 14 + note_w + 16
    n = len(tr.steps)
    height = top + head_h + 16 + n * row_h + (row_h if final else 0) + 8
    life_end = height - 8
    mid = f"{sid}-arrow"
    o = [f'<svg class="sequence" width="{width:.0f}" height="{height:.0f}" '
         f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="ui-monospace, Menlo, Consolas, monospace" '
         f'font-size="12" role="img" aria-label="{esc("sequence diagram of " + p.name)}">',
         f'<defs><marker id="{esc(mid)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
         'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#59636e"/></marker></defs>']
    heads = [(a, xs[a], lane_w[a]) for a in actors] + [("state", state_x, max(_text_w("state") + 2 * pad, 70.0))]
    for name, cx, w in heads:
        o.append(f'<line x1="{cx:.1f}" y1="{top + head_h:.1f}" x2="{cx:.1f}" y2="{life_end:.1f}" '
                 'stroke="#afb8c1" stroke-dasharray="4 4"/>')
        o.append(f'<rect x="{cx - w / 2:.1f}" y="{top:.1f}" width="{w:.1f}" height="{head_h:.1f}" rx="4" '
                 f'fill="{"#eaeef2" if name == "state" else "#ddf4ff"}" stroke="#8c959f"/>')
        o.append(f'<text x="{cx:.1f}" y="{top + 18:.1f}" text-anchor="middle" font-weight="bold">'
                 f"{esc(_cut(name))}</text>")
    y = top + head_h + 16
    for st in tr.steps:
        ok = st.outcome == "ok"
        cx = xs[st.actor]
        label = labels[st.index]
        bw = _text_w(label) + 2 * pad
        o.append(f'<g class="step"><title>{esc(st.text)}</title>')
        o.append(f'<rect x="{cx - bw / 2:.1f}" y="{y:.1f}" width="{bw:.1f}" height="24" rx="4" '
                 f'fill="{"#ffffff" if ok else "#ffebe9"}" stroke="{"#57606a" if ok else "#cf222e"}"/>')
        o.append(f'<text x="{cx:.1f}" y="{y + 16:.1f}" text-anchor="middle">{esc(label)}</text>')
        ay = y + 12
        colour = "#1a7f37" if ok else "#cf222e"
        o.append(f'<line x1="{cx + bw / 2:.1f}" y1="{ay:.1f}" x2="{state_x - 2:.1f}" y2="{ay:.1f}" '
                 f'stroke="#59636e" marker-end="url(#{esc(mid)})"/>')
        o.append(f'<text x="{state_x - 12:.1f}" y="{ay - 5:.1f}" text-anchor="end" fill="{colour}">'
                 f"{esc(st.outcome)}</text>")
        if notes[st.index]:
            o.append(f'<text x="{state_x + 10:.1f}" y="{ay + 4:.1f}" fill="{"#6b4e00" if ok else "#cf222e"}">'
                     f"{esc(notes[st.index])}</text>")
        o.append("</g>")
        y += row_h
    if final:
        fw = _text_w(final) + 2 * pad
        colour = {"counterexample": "#cf222e", "witness": "#0969da"}.get(tr.kind, "#9a6700")
        o.append(f'<rect x="{state_x - 8:.1f}" y="{y:.1f}" width="{fw:.1f}" height="24" rx="4" fill="#ffffff" '
                 f'stroke="{colour}" stroke-width="2"/>')
        o.append(f'<text x="{state_x - 8 + pad:.1f}" y="{y + 16:.1f}" fill="{colour}" font-weight="bold">'
                 f"{esc(final)}</text>")
    o.append("</svg>")
    return "".join(o)


def _diagram_changes(st: StepView) -> str:
    if st.outcome != "ok":
        return _cut(st.require, 60) if st.require else ""
    parts = [f"{path}: {a} → {b}" for path, a, b in st.changes[:MAX_DIAGRAM_CHANGES]]
    more = len(st.changes) - MAX_DIAGRAM_CHANGES
    text = ", ".join(parts) + (f" (+{more} more)" if more > 0 else "")
    return _cut(text, 72)


def _final_note(p: PropertyView, tr: TraceView) -> str:
    if tr.failure is not None:
        return _cut(tr.failure.message, 72)
    if tr.kind == "cti":
        return _cut(f"{p.name} not inductive", 72)
    if tr.kind == "witness":
        return _cut(f"{p.name} reached", 72)
    return _cut(f"{p.name} violated", 72)
