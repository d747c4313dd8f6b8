"""checker.testing.conformance: the spec-vs-model state machine, its failures, and a mutation check.

The reference model examples/models/rmp_core_model.py conforms to examples/rmp_core.tee;
each seeded bug (a method of the model class monkeypatched by the `mutant` fixture, never
committed broken code) must be killed within a small hypothesis budget, with a readable
failure: the spec trace, the difference, a replay test, and an ITF file.
Budgets are fixed and the mutation runs derandomized and unshrunk, so the steps-to-kill
(total steps over all examples up to the first failure) are the same on every run; they
are printed with -s. The message tests shrink, as a pytest run of the TestCase does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from checker.testing.conformance import (
    ConformanceError,
    ConformanceMachine,
    assert_every_action_fires,
    conformance,
    run,
)
from examples.models.rmp_core_model import RmpCoreModel, RmpEntry

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "rmp_core.tee"
RUNS, STEPS = 100, 50  # the mutation budget: examples per run, steps per example


def two_guests() -> RmpCoreModel:
    return RmpCoreModel(guests=2)


# the correct model, as a pytest test class (what a user's test file holds)
RmpCore = conformance(SPEC, RmpCoreModel, max_steps=STEPS, failure_dir=None,
                      hypothesis_settings=settings(max_examples=50, deadline=None))
TestRmpCoreConforms = RmpCore.TestCase


def _machine(tmp: Path, guests: int) -> type[ConformanceMachine]:
    if guests == 1:
        return conformance(SPEC, RmpCoreModel, max_steps=STEPS, failure_dir=tmp)
    return conformance(SPEC, two_guests, overrides={"GUESTS": guests}, max_steps=STEPS, failure_dir=tmp,
                       replay_setup=["from tests.checker.test_conformance import two_guests",
                                     "model = two_guests()"])


# ----------------------------------------------------------------------------- seeded bugs
def rmpupdate_keeps_validated(self: RmpCoreModel, p: int, g: int, a: int) -> str:
    self.rmp[p] = RmpEntry(assigned=g != 0, asid=g, gpa=a, validated=self.rmp[p].validated)
    return "ok"


def pvalidate_skips_gpa_check(self: RmpCoreModel, g: int, a: int) -> str:
    p = self.npt[g].get(a)
    if p is None:
        return "FAIL_NPF"
    e = self.rmp[p]
    if not (e.assigned and e.asid == g):  # forgot `and e.gpa == a`
        return "FAIL_INPUT"
    if e.validated:
        return "FAIL_UNCHANGED"
    self.rmp[p] = replace(e, validated=True)
    return "ok"


def pvalidate_checks_in_wrong_order(self: RmpCoreModel, g: int, a: int) -> str:
    p = self.npt[g].get(a)
    if p is None:
        return "FAIL_NPF"
    if self.rmp[p].validated:  # "already validated" before "not yours"
        return "FAIL_UNCHANGED"
    if not self._owns(g, a, p):
        return "FAIL_INPUT"
    self.rmp[p] = replace(self.rmp[p], validated=True)
    return "ok"


def hv_write_ignores_assigned(self: RmpCoreModel, p: int, v: int) -> str:
    self.mem[p] = v
    return "ok"


def guest_write_wrong_page(self: RmpCoreModel, g: int, a: int, v: int) -> str:
    if self._usable(g, a) is None:
        return "FAIL_NPF"
    self.mem[a % self.pages] = v  # the GPA used as a physical page number
    return "ok"


def map_gpa_ignores_guest(self: RmpCoreModel, g: int, a: int, p: int) -> str:
    self.npt[1][a] = p  # every guest's mapping lands in the first guest's table
    return "ok"


# name -> (method, patched function, guests in the machine that must kill it)
MUTANTS: dict[str, tuple[str, Callable[..., str], int]] = {
    "rmpupdate_keeps_validated": ("rmpupdate", rmpupdate_keeps_validated, 1),
    "pvalidate_skips_gpa_check": ("pvalidate", pvalidate_skips_gpa_check, 1),
    "pvalidate_checks_in_wrong_order": ("pvalidate", pvalidate_checks_in_wrong_order, 1),
    "hv_write_ignores_assigned": ("hv_write", hv_write_ignores_assigned, 1),
    "guest_write_wrong_page": ("guest_write", guest_write_wrong_page, 1),
    "map_gpa_ignores_guest": ("map_gpa", map_gpa_ignores_guest, 2),
}


@pytest.fixture(params=sorted(MUTANTS))
def mutant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    method, fn, guests = MUTANTS[request.param]
    monkeypatch.setattr(RmpCoreModel, method, fn)
    yield request.param, guests


def _kill(machine: type[ConformanceMachine], shrink: bool = True) -> ConformanceError:
    with pytest.raises(ConformanceError) as info:
        run(machine, runs=RUNS, steps=STEPS, derandomize=True, shrink=shrink)
    return info.value


def test_every_mutant_is_killed(mutant: tuple[str, int], tmp_path: Path) -> None:
    name, guests = mutant
    machine = _machine(tmp_path, guests)
    err = _kill(machine, shrink=False)
    first = machine.coverage.first_failure
    print(f"\n{name}: killed after {first} steps; failing trace of {err.steps} steps")  # -s shows it
    assert first is not None
    text = str(err)
    assert "conformance failure: spec rmp_core" in text
    assert "spec trace (" in text and "\n  1. " in text
    assert "def test_rmp_core_conformance_replay() -> None:" in text
    assert err.itf_path is not None and err.itf_path.exists() and str(err.itf_path) in text


def test_outcome_failure_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(RmpCoreModel, "hv_write", hv_write_ignores_assigned)
    err = _kill(_machine(tmp_path, 1))
    text = str(err)
    # the shortest kill: assign a page, then the hypervisor writes it
    assert err.mismatch.kind == "outcome" and err.steps == 2
    assert "1. hypervisor rmpupdate(p=0, g=1, a=0) -> ok" in text
    assert "rmp[0].assigned: false -> true" in text
    assert "2. hypervisor hv_write(p=0, v=0) -> FAIL_RMP    <-- model: ok" in text
    assert "require false at line" in text
    snippet = err.snippet
    assert snippet.startswith("from examples.models.rmp_core_model import RmpCoreModel")
    assert "assert model.rmpupdate(0, 1, 0) == 'ok'" in snippet
    assert "assert model.hv_write(0, 0) == 'FAIL_RMP'" in snippet
    # the replay test fails against the mutant, and passes against the real model
    env: dict[str, Any] = {}
    exec(compile(snippet, "<snippet>", "exec"), env)
    with pytest.raises(AssertionError):
        env["test_rmp_core_conformance_replay"]()
    monkeypatch.undo()
    env["test_rmp_core_conformance_replay"]()


def test_observation_failure_and_itf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(RmpCoreModel, "map_gpa", map_gpa_ignores_guest)
    err = _kill(_machine(tmp_path, 2))
    text = str(err)
    assert err.mismatch.kind == "observation" and err.steps == 1
    assert "npt[2][0]: expected some(0), got none" in text or "npt[1][0]: expected none, got some(0)" in text
    assert "seen = model.observe()" in text and "assert seen['npt']" in text
    assert err.itf_path is not None
    doc = json.loads(err.itf_path.read_text(encoding="utf-8"))
    assert doc["#meta"]["format"] == "ITF" and doc["vars"] == ["rmp", "npt", "mem", "wrote"]
    assert [s["#meta"]["action"] for s in doc["states"]] == ["init", "map_gpa"]
    assert doc["#meta"]["conformance"]["kind"] == "observation"
    assert doc["#meta"]["conformance"]["differences"]


def test_initial_state_is_compared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = RmpCoreModel.__init__

    def dirty(self: RmpCoreModel, pages: int = 2, gpas: int = 2, guests: int = 1) -> None:
        real(self, pages, gpas, guests)
        self.mem[1] = 1  # memory not cleared at boot

    monkeypatch.setattr(RmpCoreModel, "__init__", dirty)
    err = _kill(_machine(tmp_path, 1))
    assert err.steps == 0 and "mem[1]: expected 0, got 1" in str(err)
    assert "in the initial state" in str(err)


def test_spec_invariants_are_checked(tmp_path: Path) -> None:
    # `integrity` is expected violated (the spec's own 7-step attack): skipped by default
    assert [p.name for p in RmpCore.checked] == []
    assert [p.name for p in conformance(SPEC, RmpCoreModel, invariants=["integrity"]).checked] == ["integrity"]
    with pytest.raises(ValueError, match="nope"):
        conformance(SPEC, RmpCoreModel, invariants=["nope"])
    # an invariant the spec breaks while the model agrees with it: reported with its explanation
    spec = tmp_path / "zeroes.tee"
    spec.write_text(SPEC.read_text(encoding="utf-8")
                    + "\ninvariant zeroes: forall p: Page. mem[p] == 0\n", encoding="utf-8")
    err = _kill(conformance(spec, RmpCoreModel, failure_dir=tmp_path))
    assert err.mismatch.kind == "invariant" and err.steps == 1
    text = str(err)
    assert "the spec's invariant zeroes is false after step 1" in text
    assert "1. hypervisor hv_write(p=0, v=1) -> ok" in text and "why:" in text


def test_every_action_fires_and_missing_methods(tmp_path: Path) -> None:
    cov = assert_every_action_fires(_machine(tmp_path, 1), runs=30, steps=STEPS)
    assert set(cov.fired) == {"rmpupdate", "map_gpa", "hv_write", "pvalidate", "guest_write"}
    assert "NEVER FIRED" not in cov.report()

    class NoWrites(RmpCoreModel):
        guest_write = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="guest_write"):
        run(conformance(SPEC, NoWrites, failure_dir=None), runs=1)


def test_an_action_that_never_fires_is_reported(tmp_path: Path) -> None:
    src = SPEC.read_text(encoding="utf-8").replace(
        "action hv_write(p: Page, v: Data) by hypervisor {",
        "action hv_write(p: Page, v: Data) by hypervisor {\n  require p > PAGES")
    spec = tmp_path / "dead.tee"
    spec.write_text(src, encoding="utf-8")
    with pytest.raises(AssertionError, match=r"never fired in 5 runs: hv_write"):
        assert_every_action_fires(conformance(spec, RmpCoreModel, failure_dir=None), runs=5, steps=10)


def test_itf_matches_the_report_writer() -> None:
    # failure.py repeats report/itf.py's encoding (same rank: no import); keep them equal
    from checker.pipeline import RunOptions, load
    from checker.pipeline import run as run_spec
    from checker.report import itf
    from checker.report.model import build
    from checker.testing.failure import Mismatch, itf_text

    _, spec = load(str(SPEC))
    res = run_spec(spec, RunOptions(engine="explicit", vacuity=False))
    r = next(r for r in res.results if r.prop == "integrity")
    assert r.trace is not None
    ours = json.loads(itf_text(spec, r.trace, Mismatch(7, "invariant", "integrity")))
    theirs = json.loads(itf.render_trace(build(res, spec), "integrity"))
    assert ours["vars"] == theirs["vars"] and ours["states"] == theirs["states"]
