"""Markdown for a PR comment: a table of properties with verdicts, then each violation.

In: a `ReportModel`. Out: `render(model) -> str`: a heading with the spec and OK/FAILED,
a table (property, kind, verdict, expectation, time), then for each violated property a
compact step table (#, actor, action, outcome, what changed) and the sub-terms that make
it false, and finally warnings. Every piece of text from the spec or the run is
HTML-escaped (and `|` escaped in tables), so a name such as `<script>` shows as text;
code-like text uses <code>/<pre> rather than backticks for the same reason.
"""

from __future__ import annotations

import html

from checker.report.model import PropertyView, ReportModel, TraceView

MAX_CHANGES = 6  # changed cells shown per step; the rest are counted


def esc(text: str) -> str:
    """Text for a Markdown table cell or line: HTML-escaped, `|` and newlines neutralised."""
    return (html.escape(text, quote=True).replace("|", "&#124;").replace("\n", " ")
            .replace("`", "&#96;").replace("*", "&#42;"))


def code(text: str) -> str:
    return f"<code>{esc(text)}</code>"


def _mark(p: PropertyView) -> str:
    return {"pass": "✅", "fail": "❌", "skip": "⚠️"}[p.status]


def render(model: ReportModel) -> str:
    counts = model.counts()
    head = "OK" if model.ok else "FAILED"
    title = f" — {esc(model.title)}" if model.title else ""
    out = [f"### tee-check: {code(model.spec)}{title}: {head}", ""]
    consts = ", ".join(f"{k}={v}" for k, v in model.consts)
    s = model.stats
    work = f"{s.states} states, {s.transitions} steps, depth {s.depth}" if s.states else f"depth {s.depth}"
    out.append(f"{esc(model.path)} · engine {esc(model.engine)} · {work}"
               + (f" · {esc(consts)}" if consts else "")
               + f" · {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} unknown")
    out.append("")
    out.append("| | property | kind | verdict | expectation | time |")
    out.append("|---|---|---|---|---|---:|")
    for p in model.properties:
        if p.expectation is not None:
            e = p.expectation
            within = f" within {e.within}" if e.within is not None else ""
            expect = f"{esc(e.kind + within)}: {'met' if e.met else '**unmet**'}"
        else:
            expect = ""
        verdict = esc(p.text) + (f" ({esc(p.note)})" if p.note and p.verdict not in ("proved", "unreachable") else "")
        out.append(f"| {_mark(p)} | {code(p.name)} | {esc(p.kind)} | {verdict} | {expect} | {p.time_s:.2f}s |")
    for p in model.properties:
        if p.trace is not None and p.verdict == "violated":
            out.append("")
            out.extend(_trace(p, p.trace))
    if model.warnings:
        out.append("")
        out.append("**Warnings**")
        out.append("")
        out.extend(f"- {esc(w)}" for w in model.warnings)
    return "\n".join(out) + "\n"


def _trace(p: PropertyView, tr: TraceView) -> list[str]:
    out = [f"#### {code(p.name)} {esc(p.text)}", ""]
    if p.location is not None:
        out.append(f"{esc(p.location.path)}:{p.location.line}")
        out.append("")
    out.append("| # | actor | action | outcome | changed |")
    out.append("|---:|---|---|---|---|")
    out.append("| 0 | | init | | |")
    for st in tr.steps:
        args = ", ".join(f"{n}={v}" for n, v in st.args)
        changed = [f"{path}: {a} → {b}" for path, a, b in st.changes]
        if len(changed) > MAX_CHANGES:
            changed = changed[:MAX_CHANGES] + [f"… {len(st.changes) - MAX_CHANGES} more"]
        cell = "<br>".join(esc(c) for c in changed)
        if st.require:
            cell = esc(st.require) + ("<br>" + cell if cell else "")
        outcome = esc(st.outcome) if st.outcome == "ok" else f"**{esc(st.outcome)}**"
        out.append(f"| {st.index} | {esc(st.actor)} | {code(f'{st.action}({args})')} | {outcome} | {cell} |")
    if tr.failure is not None:
        where = f" (line {tr.failure.location.line})" if tr.failure.location else ""
        out.append("")
        out.append(f"{esc(tr.failure.message)}{where}")
    if tr.explanation is not None:
        out.append("")
        out.append(f"{code(p.name)} is false because:")
        out.append("")
        out.append("<pre>")
        out.extend(html.escape(line, quote=False) for line in tr.explanation.lines(0))
        out.append("</pre>")
    return out
