"""`tee-check fuzz` and `tee-check replay` end to end, with a correct and a buggy model."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "examples" / "rmp_core.tee")
MODEL = "examples.models.rmp_core_model:RmpCoreModel"


@pytest.fixture
def buggy_rmpupdate(monkeypatch: pytest.MonkeyPatch) -> None:
    """RMPUPDATE that keeps `validated` (a plausible implementation mistake)."""
    from examples.models import rmp_core_model as m

    original = m.RmpCoreModel.rmpupdate

    def keeps_validated(self: m.RmpCoreModel, p: int, g: int, a: int) -> str:
        import dataclasses

        was = self.rmp[p].validated
        out = original(self, p, g, a)
        self.rmp[p] = dataclasses.replace(self.rmp[p], validated=was)
        return out

    monkeypatch.setattr(m.RmpCoreModel, "rmpupdate", keeps_validated)


def test_fuzz_passes_a_conforming_model(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", SPEC, "--model", MODEL, "--examples", "20", "--steps", "25", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0 and "conforms" in out and "steps/s" in out and "rmpupdate" in out


def test_fuzz_finds_a_seeded_bug(buggy_rmpupdate: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fuzz", SPEC, "--model", MODEL, "--examples", "200", "--steps", "40", "--seed", "1",
                 "--no-shrink"])
    out = capsys.readouterr().out
    assert code == 1 and "rmp" in out and "Traceback" not in out


def test_replay_a_counterexample_on_the_model(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main([SPEC, "--report-dir", str(tmp_path)]) == 0
    trace = str(tmp_path / "traces" / "integrity.itf.json")
    capsys.readouterr()
    assert main(["replay", trace, "--model", MODEL]) == 0
    assert "follows all 7 steps" in capsys.readouterr().out


def test_replay_catches_a_model_that_departs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch, buggy_rmpupdate: None) -> None:
    monkeypatch.chdir(ROOT)
    assert main([SPEC, "--report-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    # extend the counterexample (page 1 ends validated) with an RMPUPDATE of page 1, after
    # which the spec's page is no longer validated and the buggy model's still is
    import json

    doc = json.loads((tmp_path / "traces" / "integrity.itf.json").read_text())
    steps = doc["states"]
    meta = {"index": len(steps), "action": "rmpupdate", "actor": "hypervisor",
            "args": {"p": {"#bigint": "1"}, "g": {"#bigint": "1"}, "a": {"#bigint": "0"}}, "outcome": "ok"}
    last = json.loads(json.dumps(steps[-1]))
    last["#meta"] = meta
    last["rmp"]["#map"][1][1]["validated"] = False  # the spec clears validated
    doc["states"].append(last)
    path = tmp_path / "mutated.itf.json"
    path.write_text(json.dumps(doc))
    code = main(["replay", str(path), "--model", MODEL])
    out = capsys.readouterr().out
    assert code == 1 and "DIFFERS" in out and "`rmp`" in out


def test_usage_mistakes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fuzz", SPEC, "--model", "nocolon"]) == 2
    assert main(["fuzz", SPEC, "--model", "no.such.module:X"]) == 2
    assert main(["replay", "/nonexistent.itf.json", "--model", MODEL]) == 2
    assert "Traceback" not in capsys.readouterr().err
