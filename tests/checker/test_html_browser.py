"""The HTML report (checker/report/html.py): escaping, determinism, well-formedness, and a
real browser.

Unit tests (no browser): a spec whose title and comments carry `<script>` (the only places
a .tee file holds free text: the `spec NAME "title"` string and comments, which reach the
report through source snippets) and a model whose every text field is `<script>`: nothing
comes out unescaped; two renders are byte-identical; html.parser finds balanced tags,
unique ids, internal links that resolve, no script element, no on* attribute, and no
http:// or https:// reference at all.
Browser test: headless Chromium (`--dump-dom`) loads the report of examples/rmp_core.tee
from a file:// URL; the rendered DOM has the highlighted changed cells, the explanation and
the SVG diagram; for the `<script>` spec the DOM holds the escaped text and no injected
element. Skipped when no chromium binary is installed (`apt-get install -y chromium`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from checker.explain import Explanation
from checker.pipeline import RunOptions, load_text, run
from checker.report import html, json_report
from checker.report.model import FailureView, Location, ReportModel, StateView, build, strip_times
from checker.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
EVIL = "<script>alert(1)</script>"

EVIL_SPEC = """\
spec evil "<script>alert(1)</script> & <img src=x onerror=alert(2)>"
type N = 0 .. 3
type G = 1 .. 2
var x: N
var last: option N
init {
  x = 0
  last = none
}
action inc() by cpu { // <script>document.title='pwned'</script>
  require x < 3 else FULL
  last = some(x)
  x = x + 1
}
action boom(g: G) by guest(g) {
  assert x < 2 // </pre><script>alert(3)</script>
  x = 0
}
transition frozen: x == old(x)
invariant small: x < 2 // <b>bold</b>
cover two: x == 2
expect frozen violated
"""


def _model(rel: str, text: str | None = None) -> ReportModel:
    source = SourceFile(rel, text if text is not None else (ROOT / rel).read_text(encoding="utf-8"))
    spec = load_text(source)
    return strip_times(build(run(spec, RunOptions(engine="explicit")), spec, source.text))


@pytest.fixture(scope="module")
def rmp() -> ReportModel:
    return _model("examples/rmp_core.tee")


@pytest.fixture(scope="module")
def evil() -> ReportModel:
    return _model("evil.tee", EVIL_SPEC)


def _all_evil(m: ReportModel) -> ReportModel:
    """Every text field of the model (names, values, messages, snippets) replaced by EVIL."""
    loc = Location(EVIL, 1, 1, 1, 2, EVIL)
    ex = Explanation(EVIL, EVIL, (Explanation(EVIL, "false"),))
    state = StateView({EVIL: EVIL}, ((EVIL, EVIL),))
    props = []
    for p in m.properties:
        tr = p.trace
        if tr is not None:
            steps = tuple(replace(s, actor=EVIL, action=EVIL, args=((EVIL, EVIL),), outcome=EVIL,
                                  changes=((EVIL, EVIL, EVIL),), state=state, location=loc, failed=loc,
                                  require=EVIL) for s in tr.steps)
            tr = replace(tr, init=state, steps=steps, failure=FailureView(EVIL, loc), explanation=ex)
        props.append(replace(p, name=EVIL, kind=EVIL, verdict=EVIL, text=EVIL, engine=EVIL, reason=EVIL,
                             note=EVIL, location=loc, trace=tr, cti=tr))
    return replace(m, spec=EVIL, title=EVIL, path=EVIL, engine=EVIL, consts=((EVIL, 1),),
                   warnings=(EVIL,), properties=tuple(props),
                   stats=replace(m.stats, coverage=((EVIL, EVIL, 1),), stopped=EVIL, complete=False))


# ----------------------------------------------------------------------------- HTML checker
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class Checker(HTMLParser):
    """Balanced tags, ids, links, classes, scripts and event attributes of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self.classes: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._attrs(tag, attrs)

    def _attrs(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for k, v in attrs:
            if k.startswith("on"):
                self.errors.append(f"event attribute {k} on <{tag}>")
            if k == "id" and v is not None:
                self.ids.append(v)
            if k == "class" and v is not None:
                self.classes.extend(v.split())
            if k in ("href", "src", "xlink:href") and v is not None:
                self.links.append(v)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            return
        self.stack.pop()


def _check(page: str) -> Checker:
    c = Checker()
    c.feed(page)
    c.close()
    assert not c.errors, c.errors[:5]
    assert not c.stack, f"unclosed: {c.stack}"
    assert "script" not in c.tags
    assert len(c.ids) == len(set(c.ids)), "duplicate ids"
    for link in c.links:
        assert link.startswith("#") and link[1:] in c.ids, f"link {link!r} does not resolve"
    return c


# ----------------------------------------------------------------------------- unit tests
def test_title_and_comments_are_escaped(evil: ReportModel) -> None:
    page = html.render(evil)
    assert evil.title is not None and EVIL in evil.title
    assert "<script" not in page.lower() and "<img" not in page.lower() and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in page  # action snippet
    assert "&lt;/pre&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in page  # the assert's source line
    _check(page)


def test_every_model_field_is_escaped(rmp: ReportModel) -> None:
    page = html.render(_all_evil(rmp))
    assert "<script" not in page.lower()
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") > 20
    _check(page)


def test_deterministic(rmp: ReportModel) -> None:
    again = _model("examples/rmp_core.tee")
    assert html.render(rmp) == html.render(rmp) == html.render(again)


def test_regenerated_from_report_json(rmp: ReportModel) -> None:
    assert html.render(json_report.load(json_report.render(rmp))) == html.render(rmp)


def test_well_formed_and_self_contained(rmp: ReportModel, evil: ReportModel) -> None:
    for m in (rmp, evil):
        page = html.render(m)
        assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</html>\n")
        assert "http://" not in page and "https://" not in page
        assert not re.search(r"@import|url\((?!#)|<link|<iframe|<object|<embed", page)
        _check(page)


def test_rmp_core_content(rmp: ReportModel) -> None:
    page = html.render(rmp)
    c = _check(page)
    tr = rmp.property("integrity").trace
    assert tr is not None and len(tr.steps) == 7
    changes = sum(len(s.changes) for s in tr.steps)
    assert c.classes.count("changed") >= changes  # step table cells, plus the state tables
    assert c.classes.count("explanation") == 2  # integrity and the guest_wrote cover
    assert c.tags.count("svg") == 2 and c.tags.count("details") >= (1 + 7) + (1 + 4)
    assert "mem[npt[g][a]!]" in page and "rmp[1].validated: false → true" in page
    assert "verdict violated" in page and "verdict proved" in page and "verdict reachable" in page
    for a in ("hypervisor", "guest(1)", "7. pvalidate(g=1, a=0)", "integrity violated"):
        assert f">{a}</text>" in page
    assert 'href="#p0-integrity-trace"' in page and 'id="p0-integrity-trace"' in page


def test_assert_failure_and_require_and_cti(evil: ReportModel) -> None:
    p = evil.property("assert_boom_L16")
    assert p.trace is not None and p.trace.failure is not None
    page = html.render(evil)
    assert 'class="failure"' in page and html.esc(p.trace.failure.message) in page
    # a step stopped by a require, and a counterexample to induction (made up from the trace)
    small = evil.property("small")
    assert small.trace is not None
    stopped = replace(small.trace.steps[-1], outcome="FULL", changes=(),
                      require="`require x < 3 else FULL` (line 11) is false: x = 3")
    cti = replace(small.trace, kind="cti", steps=(*small.trace.steps[:-1], stopped))
    m = replace(evil, properties=tuple(replace(q, cti=cti) if q.name == "small" else q
                                       for q in evil.properties))
    page = html.render(m)
    _check(page)
    assert 'class="trace cti"' in page and "counterexample to induction" in page
    assert '<td class="outcome bad">FULL</td>' in page
    assert "is false: x = 3" in page


# ----------------------------------------------------------------------------- browser
def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); "
                    "the real-browser test of the HTML report is skipped")
    return found


def _dump_dom(page: str, tmp_path: Path, name: str) -> str:
    binary = _chromium()
    path = tmp_path / name
    path.write_text(page, encoding="utf-8")
    profile = tmp_path / f"profile-{name}"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", path.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<body" in done.stdout, done.stderr[-2000:]
    return done.stdout


def test_browser_renders_rmp_core(rmp: ReportModel, tmp_path: Path) -> None:
    dom = _dump_dom(html.render(rmp), tmp_path, "rmp_core.html")
    c = Checker()
    c.feed(dom)
    assert c.classes.count("changed") >= 10
    assert "explanation" in c.classes and "svg" in c.tags and "details" in c.tags
    assert "mem[npt[g][a]!]" in dom
    assert re.search(r'<span class="changed mono">rmp\[1\]\.validated: false → true</span>', dom)
    assert "script" not in c.tags


def test_browser_runs_no_injected_script(evil: ReportModel, tmp_path: Path) -> None:
    dom = _dump_dom(html.render(evil), tmp_path, "evil.html")
    c = Checker()
    c.feed(dom)
    assert "script" not in c.tags and "img" not in c.tags and "b" not in c.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom
    title = re.search(r"<title>(.*?)</title>", dom, re.S)
    assert title is not None and "pwned" not in title.group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in title.group(1)
