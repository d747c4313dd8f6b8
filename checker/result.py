"""What an engine found, as plain data: verdicts, traces, statistics, expectations.

In: built by engines (explore.py, engines/) and pipeline.py. Out: frozen values that
reports render and the CLI turns into exit codes. A verdict is three-valued up to the
report: UNKNOWN always carries its reason. States in traces are tuples in the encoding of
values.py; rendering them needs the ir.Spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from checker.source import Span


class Verdict(Enum):
    PROVED = "proved"
    HOLDS_TO_DEPTH = "holds to depth"
    VIOLATED = "violated"
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Step:
    """One step of a trace: `actor action(args) -> outcome`, and the state after it."""

    action: str
    actor: str
    args: tuple[tuple[str, Any], ...]  # (parameter name, value)
    outcome: str  # "ok", a require-else code, or "error" for a step that went wrong
    state: tuple[Any, ...]  # the state after the step (unchanged when outcome != ok)
    failed: Span | None = None  # the require that gave a non-ok outcome


@dataclass(frozen=True)
class Failure:
    """Where the last step or state went wrong: an ill-defined expression or false assert."""

    span: Span
    message: str


@dataclass(frozen=True)
class Trace:
    init: tuple[Any, ...]
    steps: tuple[Step, ...]
    failure: Failure | None = None  # set for well_defined and assert violations

    @property
    def length(self) -> int:
        return len(self.steps)

    @property
    def final(self) -> tuple[Any, ...]:
        return self.steps[-1].state if self.steps else self.init


@dataclass(frozen=True)
class Result:
    prop: str
    kind: str  # invariant transition cover assert well_defined
    verdict: Verdict
    depth: int | None = None  # step K of a violation / reach; N of "holds to depth N"
    trace: Trace | None = None
    reason: str | None = None  # why UNKNOWN (or a note on PROVED: the engine that proved it)
    time_s: float = 0.0
    engine: str = "explicit"
    cti: Trace | None = None  # a counterexample to 1-induction (pre-state, step), when one was found
    note: str | None = None

    def text(self) -> str:
        match self.verdict:
            case Verdict.PROVED:
                return "proved"
            case Verdict.HOLDS_TO_DEPTH:
                return f"holds to depth {self.depth}"
            case Verdict.VIOLATED:
                return f"violated at step {self.depth}"
            case Verdict.REACHABLE:
                return f"reachable at step {self.depth}"
            case Verdict.UNREACHABLE:
                return "unreachable (proved)"
            case Verdict.UNKNOWN:
                return f"unknown ({self.reason or 'no reason given'})"
        raise AssertionError(self.verdict)


@dataclass(frozen=True)
class Stats:
    states: int = 0
    transitions: int = 0
    depth: int = 0  # deepest BFS layer (or BMC depth) completed
    time_s: float = 0.0
    complete: bool = False  # every reachable state was visited
    stopped: str | None = None  # why the search stopped early, if it did
    coverage: tuple[tuple[str, str, int], ...] = ()  # (action, outcome, steps seen)
    # (action, outcome, the first step it took in the search: breadth-first, so the least)
    coverage_first: tuple[tuple[str, str, int], ...] = ()

    @property
    def states_per_s(self) -> float:
        return self.states / self.time_s if self.time_s > 0 else 0.0


@dataclass(frozen=True)
class ExpectationResult:
    name: str
    kind: str
    within: int | None
    met: bool
    detail: str


@dataclass(frozen=True)
class RunResult:
    spec: str
    path: str
    engine: str
    consts: tuple[tuple[str, int], ...]
    results: tuple[Result, ...]
    stats: Stats
    expectations: tuple[ExpectationResult, ...] = field(default=())
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Exit 0: every expectation met, or no expectations and no violation."""
        if self.expectations:
            return all(e.met for e in self.expectations)
        return not any(r.verdict is Verdict.VIOLATED for r in self.results)
