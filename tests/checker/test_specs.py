"""Every spec in spec/ and examples/ parses, type-checks, runs, and meets its `expect` lines.

The files are discovered when the tests are collected (recursively, `*.tee`), so specs
added to spec/ or examples/ are picked up without touching this file. For each file:
  * `checker.pipeline.load` then `run(spec, RunOptions(engine=ENGINE))`; the pipeline
    replays every trace through the interpreter (ReplayMismatch otherwise);
  * the file has at least one `expect` line, each `expect` line has a result, and every
    result is met;
  * each violated property and each reached cover carries a trace whose length is the
    reported step (non-empty unless it fails in `init`), and the trace replays again here;
  * the CLI with its default engine (`checker.cli.main([path])`, what users run) exits 0.
ENGINE is `auto`, the CLI's default: an exhaustive explicit search when the state space is
small (then its verdicts are the ground truth every `expect` line is written against), z3
BMC and proofs for the full specs whose state spaces are too large to enumerate. The z3
engines are held to the explicit verdicts by tests/checker/test_differential.py.
A spec that exposes a known checker bug goes in KNOWN_BUGS (a strict xfail with the
reason); a spec taking more than 20 s goes in SLOW (deselected by default). HEAVY specs
(about a minute each) run once here; their CLI run, the same pipeline again, is `slow`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from checker.cli import main
from checker.interp import Interpreter
from checker.ir import Spec
from checker.pipeline import RunOptions, load, run
from checker.replay import replay
from checker.result import RunResult, Verdict

ROOT = Path(__file__).resolve().parents[2]
ENGINE = "auto"
SPEC_DIRS = ("spec", "examples")

# relative path -> reason: the spec is right, the checker is wrong (strict xfail)
KNOWN_BUGS: dict[str, str] = {}
# relative paths of specs that take more than 20 s with ENGINE
SLOW: frozenset[str] = frozenset()
HEAVY: frozenset[str] = frozenset({"spec/snp.tee", "spec/tdx.tee", "spec/cca.tee"})


def spec_files() -> list[Path]:
    found: list[Path] = []
    for d in SPEC_DIRS:
        base = ROOT / d
        if base.is_dir():
            found.extend(sorted(base.rglob("*.tee")))
    return found


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _params() -> list[object]:
    out: list[object] = []
    for path in spec_files():
        rel = _rel(path)
        marks: list[pytest.MarkDecorator] = []
        if rel in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[rel]))
        if rel in SLOW:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(rel, id=rel, marks=marks))
    return out


SPECS = _params()


@functools.cache
def _checked(rel: str) -> tuple[Spec, RunResult]:
    _, spec = load(str(ROOT / rel))
    return spec, run(spec, RunOptions(engine=ENGINE))


def test_discovers_the_examples() -> None:
    names = {_rel(p) for p in spec_files()}
    assert "examples/rmp_core.tee" in names
    assert len([n for n in names if n.startswith("examples/")]) >= 5


@pytest.mark.parametrize("rel", SPECS)
def test_spec_meets_its_expectations(rel: str) -> None:
    spec, result = _checked(rel)
    assert spec.expects, f"{rel} has no `expect` line"
    got = {e.name for e in result.expectations}
    missing = [e.name for e in spec.expects if e.name not in got]
    assert not missing, f"{rel}: `expect` lines without a result: {missing}"
    unmet = [f"expect {e.name} {e.kind}" + (f" within {e.within}" if e.within is not None else "")
             + f": {e.detail}" for e in result.expectations if not e.met]
    assert not unmet, f"{rel}: unmet expectations:\n  " + "\n  ".join(unmet)
    assert result.ok


@pytest.mark.parametrize("rel", SPECS)
def test_traces_of_violations_and_covers(rel: str) -> None:
    spec, result = _checked(rel)
    interp = Interpreter(spec)
    for r in result.results:
        if r.verdict not in (Verdict.VIOLATED, Verdict.REACHABLE):
            continue
        assert r.trace is not None, f"{rel}: {r.prop} is {r.verdict.value} without a trace"
        assert r.depth is not None and r.trace.length == r.depth, (
            f"{rel}: {r.prop} reported at step {r.depth} with a trace of {r.trace.length} steps")
        if r.verdict is Verdict.VIOLATED and r.kind in ("invariant", "transition"):
            # an invariant false already in `init` is the only violation with no steps
            assert r.trace.steps or (r.kind == "invariant" and r.depth == 0), (
                f"{rel}: {r.prop} is violated with an empty trace")
        if r.kind in ("well_defined", "assert"):
            assert r.trace.failure is not None, f"{rel}: {r.prop} trace has no failure location"
        replay(spec, r, interp)  # raises ReplayMismatch if the trace is not a real run


CLI_SPECS = [pytest.param(*p.values, id=p.id, marks=[*p.marks, pytest.mark.slow])
             if p.id in HEAVY else p for p in SPECS]  # type: ignore[attr-defined]


@pytest.mark.parametrize("rel", CLI_SPECS)
def test_cli_exits_zero(rel: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(ROOT / rel)])
    out, err = capsys.readouterr()
    assert code == 0, f"{rel}: tee-check exited {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
