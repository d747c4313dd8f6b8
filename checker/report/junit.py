"""JUnit XML for CI dashboards: one testcase per property.

In: a `ReportModel`. Out: `render(model) -> str`: <testsuites> holding one <testsuite>
named after the spec; each property is a <testcase classname="<spec>" name="<property>">
with a <failure> when its status is fail (its `expect` line is unmet, or it is violated
and has none; the body is the trace and the explanation), <skipped> when it is unknown
without an `expect` line, and nothing else when it passes. Built with xml.etree, so every
name and message is escaped. Deterministic: times come from the model (see
model.strip_times), attributes in a fixed order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from checker.report.model import PropertyView, ReportModel, trace_lines


def _message(p: PropertyView) -> str:
    if p.expectation is not None and not p.expectation.met:
        within = f" within {p.expectation.within}" if p.expectation.within is not None else ""
        return f"expect {p.name} {p.expectation.kind}{within} unmet: {p.text}"
    return f"{p.kind} {p.name} is {p.text}"


def _body(p: PropertyView) -> str:
    lines = [_message(p)]
    if p.reason:
        lines.append(f"reason: {p.reason}")
    if p.note:
        lines.append(f"note: {p.note}")
    for tr in (p.trace, p.cti):
        if tr is not None:
            lines.append("")
            lines.extend(trace_lines(p, tr))
    return "\n".join(lines) + "\n"


def render(model: ReportModel) -> str:
    counts = model.counts()
    total_time = f"{model.stats.time_s:.3f}"
    root = ET.Element("testsuites", {"name": model.tool, "tests": str(len(model.properties)),
                                     "failures": str(counts["fail"]), "errors": "0",
                                     "skipped": str(counts["skip"]), "time": total_time})
    suite = ET.SubElement(root, "testsuite", {"name": model.spec, "tests": str(len(model.properties)),
                                              "failures": str(counts["fail"]), "errors": "0",
                                              "skipped": str(counts["skip"]), "time": total_time,
                                              "file": model.path})
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "engine", "value": model.engine})
    for k, v in model.consts:
        ET.SubElement(props, "property", {"name": f"const {k}", "value": str(v)})
    for p in model.properties:
        attrs = {"classname": model.spec, "name": p.name, "time": f"{p.time_s:.3f}", "file": model.path}
        if p.location is not None:
            attrs["line"] = str(p.location.line)
        case = ET.SubElement(suite, "testcase", attrs)
        ET.SubElement(case, "properties")
        cprops = case[0]
        ET.SubElement(cprops, "property", {"name": "kind", "value": p.kind})
        ET.SubElement(cprops, "property", {"name": "verdict", "value": p.text})
        if p.status == "fail":
            fail = ET.SubElement(case, "failure", {"message": _message(p), "type": p.verdict})
            fail.text = _body(p)
        elif p.status == "skip":
            ET.SubElement(case, "skipped", {"message": p.text})
    if model.warnings:
        err = ET.SubElement(suite, "system-err")
        err.text = "\n".join(f"warning: {w}" for w in model.warnings) + "\n"
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
