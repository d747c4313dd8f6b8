"""The command line's promises: exit codes, formats, reproducible reports, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker.cli import main

ROOT = Path(__file__).resolve().parents[2]
RMP = str(ROOT / "examples" / "rmp_core.tee")


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_help_is_useful_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "exit codes" in out and "--engine" in out and "--report-dir" in out


def test_reports_are_byte_for_byte_reproducible(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for d in ("a", "b"):
        assert _run(capsys, RMP, "--report-dir", str(tmp_path / d))[0] == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {str(f) for f in files} >= {"report.json", "report.html", "report.md", "report.sarif", "junit.xml"}
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    code, out, _ = _run(capsys, "report", str(tmp_path / "a" / "report.json"), "--format", "markdown")
    assert code == 0 and out == (tmp_path / "a" / "report.md").read_text()


def test_formats_on_stdout_parse(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, RMP, "--format", "json")
    assert code == 0 and json.loads(out)
    code, out, _ = _run(capsys, RMP, "--format", "sarif")
    assert code == 0 and json.loads(out)["version"] == "2.1.0"
    code, out, _ = _run(capsys, RMP, "--format", "junit")
    assert code == 0 and out.lstrip().startswith("<?xml")


@pytest.mark.parametrize("args", [
    ["--set", "PAGES"], ["--set", "PAGES=x"], ["--set", "NOPE=1"], ["--only", "nope"],
    ["--depth", "-1"], ["--engine", "magic"], ["--timeout", "0"],
])
def test_command_line_mistakes_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, RMP, *args)[0] == 2


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "does/not/exist.tee")
    assert code == 2 and "E000" in err


def test_a_byte_order_mark_is_accepted_and_a_non_utf8_byte_is_located(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    body = "spec v\nvar x: 0 .. 1\ninit { x = 0 }\naction a() { x = 1 - x }\ninvariant small: x <= 1\n"
    p = tmp_path / "bom.tee"
    p.write_bytes(b"\xef\xbb\xbf" + body.replace("\n", "\r\n").encode())  # as some Windows editors save it
    code, out, _ = _run(capsys, str(p))
    assert code == 0 and "proved" in out
    q = tmp_path / "latin1.tee"
    q.write_bytes(body.encode()[:20] + b"\xe9" + body.encode()[20:])  # a Latin-1 byte after `0 .. 1`
    code, _, err = _run(capsys, str(q))
    assert code == 2 and f"{q}:2:14: error[E000]" in err and "byte 0xe9 is not UTF-8" in err and "Traceback" not in err
    r = tmp_path / "empty.tee"
    r.write_text("// nothing but a comment\n")
    code, _, err = _run(capsys, str(r))
    assert code == 2 and "E003" in err and "starts with `spec NAME`" in err


def test_violation_without_expect_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "v.tee"
    p.write_text("spec v\nvar x: 0 .. 1\ninit { x = 0 }\naction a() { x = 1 }\ninvariant zero: x == 0\n")
    code, out, _ = _run(capsys, str(p))
    assert code == 1 and "violated at step 1" in out


def test_unmet_expectation_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "u.tee"
    p.write_text("spec u\nvar x: 0 .. 1\ninit { x = 0 }\naction a() { x = 1 }\n"
                 "invariant zero: x == 0\nexpect zero holds\n")
    code, out, _ = _run(capsys, str(p))
    assert code == 1 and "UNMET" in out


def test_state_bound_gives_unknown_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, RMP, "--engine", "explicit", "--max-states", "50", "--no-trace")
    assert "unknown (state bound reached" in out
    assert code == 1  # the expectation `integrity violated` is not met within the bound


def test_no_color_by_default_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, RMP)
    assert "\x1b[" not in out
    _, out, _ = _run(capsys, RMP, "--color", "always")
    assert "\x1b[" in out


def test_a_failing_init_is_reported_as_a_trace_without_a_state(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "i.tee"
    p.write_text("spec i\nvar x: 0 .. 1\ninit { x = 2 }\naction a() { x = 0 }\n")
    for engine in ("explicit", "bmc"):
        code, out, _ = _run(capsys, str(p), "--engine", engine, "--depth", "2")
        assert code == 1 and "well_defined" in out and "violated at step 0" in out and "0. init" in out


def test_actor_narrows_the_threat_model_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    # rmp_core's attack needs the hypervisor: with the guest alone there is nothing to find
    code, out, _ = _run(capsys, RMP, "--no-trace", "--color", "never")
    assert code == 0 and "integrity     violated" in out
    code, out, _ = _run(capsys, RMP, "--actor", "guest", "--no-trace", "--color", "never")
    assert code == 1 and "integrity     proved" in out and "only the actions of guest" in out
    code, _, err = _run(capsys, RMP, "--actor", "nobody")
    assert code == 2 and "the actors are: hypervisor, guest" in err
