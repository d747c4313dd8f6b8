"""The whole run in a page: load, parse, check types, run the engine, replay, expectations.

In: a path (or text) and `RunOptions`. Out: `(SourceFile, ir.Spec)` from `load`, and a
`RunResult` from `run`. Raises `SpecError` for spec mistakes and `ReplayMismatch` when an
engine's trace does not replay (an internal error). Never prints.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from checker import ir
from checker.diagnostics import Diagnostic, SpecError
from checker.explore import ExploreOptions, Progress, explore
from checker.interp import Interpreter
from checker.parse import parse
from checker.replay import replay
from checker.result import ExpectationResult, Result, RunResult, Stats, Verdict
from checker.source import SourceFile, Span
from checker.typecheck import check

if TYPE_CHECKING:  # z3 is imported only when a z3 engine runs (CLI start-up)
    from checker.encode_step import StepEncoding

ENGINES = ("auto", "explicit", "bmc", "induction", "pdr", "spacer")
DEFAULT_DEPTH = 10
AUTO_EXPLICIT_STATES = 200_000  # auto tries an exhaustive search up to this many states
AUTO_EXPLICIT_SECONDS = 5.0  # then the z3 portfolio: a big spec should not wait long for BFS.
# Counted in this process's CPU time, not wall time, so that the engine auto picks does not
# depend on how busy the machine is (under load the wall clock runs ~2x faster than our CPU).
AUTO_EXPLICIT_SURE = 2_000  # a search this small always finishes, whatever the clocks say


@dataclass(frozen=True)
class RunOptions:
    engine: str = "auto"
    depth: int | None = None
    max_states: int | None = None
    timeout: float | None = None  # seconds for the whole run
    only: tuple[str, ...] = ()  # property names to report (all when empty)
    progress: Progress | None = None
    overrides: Mapping[str, int] = field(default_factory=dict)
    seed: int = 0
    jobs: int = 1  # processes for the per-property proofs (PDR)
    vacuity: bool = True  # warn on never-enabled actions, never-taken codes, empty invariants
    actors: tuple[str, ...] = ()  # only the actions of these actors take steps (all when empty)


def read_source(path: str) -> SourceFile:
    """The file as UTF-8 text (a leading byte-order mark, which some editors write, dropped)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise SpecError([Diagnostic("E000", f"no such file: {path}", Span(path, 0, 0, 0, 0))]) from None
    except OSError as err:
        raise SpecError([Diagnostic("E000", f"cannot read {path}: {err.strerror or err}",
                                    Span(path, 0, 0, 0, 0))]) from None
    try:
        return SourceFile(path, raw.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        # where the bad byte is: line and column (in characters) of the text before it
        before = raw[: err.start].decode("utf-8-sig", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        raise SpecError([Diagnostic(
            "E000", f"cannot read {path}: byte 0x{raw[err.start]:02x} is not UTF-8", Span(path, line, col, line, col + 1),
            hint="a .tee file is UTF-8 text")]) from None


def load_text(source: SourceFile, overrides: Mapping[str, int] | None = None) -> ir.Spec:
    tree = parse(source)
    try:
        return check(tree, overrides)
    except RecursionError:
        from checker.parse import _too_deep

        raise SpecError([_too_deep(source)]) from None


def load(path: str, overrides: Mapping[str, int] | None = None) -> tuple[SourceFile, ir.Spec]:
    source = read_source(path)
    return source, load_text(source, overrides)


def actor_names(spec: ir.Spec) -> tuple[str, ...]:
    """The actors of the spec's actions (`env` for an action without `by`), in order."""
    return tuple(dict.fromkeys(a.actor_name for a in spec.actions))


def only_actors(spec: ir.Spec, actors: tuple[str, ...]) -> ir.Spec:
    """The spec with only the actions of `actors` (names as `actor_names` gives them): a
    narrower threat model, e.g. the guest and the firmware with a passive hypervisor. The
    properties stay; an assert of an action left out can no longer fail."""
    unknown = [a for a in actors if a not in actor_names(spec)]
    if unknown:
        raise ValueError(f"no action is taken by `{unknown[0]}`")
    return replace(spec, actions=tuple(a for a in spec.actions if a.actor_name in actors))


def run(spec: ir.Spec, options: RunOptions | None = None) -> RunResult:
    opts = options or RunOptions()
    if opts.engine not in ENGINES:
        raise ValueError(f"unknown engine {opts.engine!r}; available: {', '.join(ENGINES)}")
    if opts.actors:
        spec = only_actors(spec, opts.actors)
    deadline = time.monotonic() + opts.timeout if opts.timeout else None
    stats: Stats | None = None
    enc: StepEncoding | None = None
    seen_first: dict[tuple[str, str], int] = {}  # (action, outcome) -> first step, from a partial search
    found: list[Result] = []  # what an unfinished explicit search decided (violations, covers reached)
    vacuity_ok = True
    results: list[Result] = []
    engine = opts.engine
    with _Watchdog(deadline) as dog:
        try:
            if opts.engine == "explicit":
                results, stats = explore(spec, ExploreOptions(
                    max_depth=opts.depth, max_states=opts.max_states, deadline=deadline, progress=opts.progress))
                engine = "explicit"
            else:
                if opts.engine == "auto" and opts.depth is None:
                    # an exhaustive search of a small state space is the fastest exact answer:
                    # proved for these constants, violations with shortest traces
                    # with --timeout, a quarter of it on the wall clock; else a CPU-time slice
                    wall_end = time.monotonic() + (deadline - time.monotonic()) / 4 if deadline is not None else None
                    ex_results, ex_stats = explore(spec, ExploreOptions(
                        max_states=opts.max_states or AUTO_EXPLICIT_STATES, deadline=wall_end,
                        cpu_deadline=time.process_time() + AUTO_EXPLICIT_SECONDS,
                        deadline_after=AUTO_EXPLICIT_SURE if deadline is None else 0, progress=opts.progress,
                        give_up_early=True))
                    finished = ex_stats.complete or ex_stats.stopped == "all properties decided"
                    if finished or dog.fired:
                        results, stats = ex_results, ex_stats
                        engine = "auto (explicit: exhaustive)" if finished else "auto (explicit, stopped by the time-out)"
                    else:  # what it saw still spares the coverage pass some queries
                        seen_first = {(a, o): n for a, o, n in ex_stats.coverage_first}
                        found = [r for r in ex_results if r.verdict in (Verdict.VIOLATED, Verdict.REACHABLE)]
                if stats is None:
                    from checker.engines.portfolio import run_engines
                    from checker.smt import Budget

                    depth = opts.depth if opts.depth is not None else DEFAULT_DEPTH
                    from checker.encode_step import StepEncoding

                    enc = StepEncoding(spec)  # built once for the engines and the coverage pass
                    results, stats = run_engines(spec, opts.engine, depth, Budget(deadline), opts.seed,
                                                 jobs=opts.jobs, enc=enc)
                    engine = opts.engine if opts.engine != "auto" else "auto (z3: bmc, induction, pdr)"
        except KeyboardInterrupt:
            # the time-out (or Ctrl-C) came in a step no engine could stop in (building the
            # encoding of a huge spec, say): what an explicit search found is kept, the rest
            # is unknown
            why = "time-out" if dog.fired else "interrupted"
            got = {r.prop: r for r in found}
            results = [got.get(p.name) or Result(p.name, p.kind, Verdict.UNKNOWN, reason=why)
                       for p in spec.properties]
            stats = Stats(time_s=opts.timeout or 0.0, stopped=why)
            vacuity_ok = False
    if dog.fired:  # an engine stopped by the watchdog said "interrupted": it was the time-out
        results = [_timed_out(r) for r in results]
        assert stats is not None
        stats = replace(stats, stopped="time-out")
    interp = Interpreter(spec)
    for r in results:
        replay(spec, r, interp)
    order = {p.name: i for i, p in enumerate(spec.properties)}
    results.sort(key=lambda r: order[r.prop])
    if opts.only:
        results = [r for r in results if r.prop in opts.only]
    assert stats is not None
    vacuity = opts.vacuity and vacuity_ok and not dog.fired  # no time left for it
    warnings = _vacuity(spec, opts, stats, engine, deadline, results, enc, seen_first) if vacuity else ()
    if opts.actors:  # every report says which threat model was checked
        engine += f"; only the actions of {', '.join(opts.actors)}"
    return RunResult(spec.name, spec.path, engine, spec.consts, tuple(results), stats,
                     expectations(spec, results), warnings)


WATCHDOG_GRACE_S = 1.0  # the engines stop at the deadline themselves; this catches the rest


class _Deadline(KeyboardInterrupt):
    """Raised by the --timeout watchdog. A KeyboardInterrupt, so every engine that keeps what
    it found on Ctrl-C keeps it on the time-out too."""


class _Watchdog:
    """With a deadline, in the main thread of a system with SIGALRM: raise `_Deadline` in
    whatever Python code runs `WATCHDOG_GRACE_S` after the deadline (a loop that does not look
    at the clock, such as building the encoding of a spec with huge maps). `fired` says
    whether it did. Elsewhere (threads, Windows) it does nothing."""

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.fired = False
        self._old: Any = None

    def __enter__(self) -> _Watchdog:
        import signal
        import threading

        if (self.deadline is None or not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()):
            self.deadline = None
            return self

        def fire(_signum: int, _frame: Any) -> None:
            self.fired = True
            raise _Deadline

        self._old = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, max(0.001, self.deadline - time.monotonic() + WATCHDOG_GRACE_S))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.deadline is not None:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)


def _timed_out(r: Result) -> Result:
    if r.reason and "interrupted" in r.reason:
        return replace(r, reason=r.reason.replace("interrupted", "time-out"))
    return r


def _vacuity(spec: ir.Spec, opts: RunOptions, stats: Stats, engine: str, deadline: float | None,
             results: list[Result], enc: StepEncoding | None = None,
             seen_first: dict[tuple[str, str], int] | None = None) -> tuple[str, ...]:
    """Warnings that the spec checks less than it seems (see engines/vacuity.py); `enc`:
    the engines' encoding, reused when there is one; `seen_first`: the (action, outcome)
    pairs an explicit search saw before the z3 engines took over, with their first step."""
    from checker.encode_step import StepEncoding
    from checker.engines.vacuity import coverage_bmc, coverage_warnings, invariant_warnings
    from checker.interp import SpecRuntimeError
    from checker.smt import Budget

    budget = Budget(min(deadline, time.monotonic() + 10) if deadline else time.monotonic() + 10)
    out: list[str] = []
    try:
        enc = enc if enc is not None else StepEncoding(spec)
        holding = frozenset(r.prop for r in results if r.verdict in (Verdict.PROVED, Verdict.HOLDS_TO_DEPTH))
        out.extend(invariant_warnings(spec, enc, budget, opts.seed, holding))
        if engine.startswith("explicit") or "explicit" in engine:
            never: frozenset[tuple[str, str]] = frozenset()
            seen: dict[tuple[str, str], int | None] = {(a, o): n for a, o, n in stats.coverage}
            where = "in any reachable state" if stats.complete else f"within the {stats.states} states explored"
        else:
            depth = min(opts.depth if opts.depth is not None else DEFAULT_DEPTH, 12)
            proved = tuple(r.prop for r in results if r.kind == "invariant" and r.verdict is Verdict.PROVED)
            cov = coverage_bmc(spec, enc, Interpreter(spec).init(), depth, budget, opts.seed, proved, seen_first)
            seen, never = cov.first, cov.never
            # a search cut by the budget still says what it showed, for the depth it finished
            where = f"within {cov.depth} steps" if cov.depth else ""
        if where:
            out.extend(coverage_warnings(spec, seen, where, never))
    except SpecRuntimeError:
        pass
    return tuple(out)


def expectations(spec: ir.Spec, results: list[Result]) -> tuple[ExpectationResult, ...]:
    by_name = {r.prop: r for r in results}
    out = []
    for e in spec.expects:
        r = by_name.get(e.name)
        if r is None:
            continue
        out.append(_expectation(e, r))
    return tuple(out)


def _expectation(e: ir.Expect, r: Result) -> ExpectationResult:
    v, within = r.verdict, e.within
    met = False
    detail = r.text()
    if e.kind == "holds":
        # without `within`, only a proof meets it; `within N` asks about the first N steps
        met = v is Verdict.PROVED or (within is not None and (
            (v is Verdict.HOLDS_TO_DEPTH and (r.depth or 0) >= within)
            or (v is Verdict.VIOLATED and (r.depth or 0) > within)))
        if v is Verdict.HOLDS_TO_DEPTH and not met:
            detail += " only (bounded; no proof): raise --depth, or add `within N` to the expect line"
    elif e.kind == "violated":
        met = v is Verdict.VIOLATED and (within is None or (r.depth or 0) <= within)
        if v is Verdict.VIOLATED and not met:
            detail += f", later than the {within} steps expected"
    elif e.kind == "reachable":
        met = v is Verdict.REACHABLE and (within is None or (r.depth or 0) <= within)
        if v is Verdict.REACHABLE and not met:
            detail += f", later than the {within} steps expected"
    elif e.kind == "unreachable":
        met = v is Verdict.UNREACHABLE
        if within is not None and v is Verdict.UNKNOWN and r.reason and r.reason.startswith("not reached within depth"):
            depth = int(r.reason.rsplit(" ", 1)[1])
            met = depth >= within
        if v is Verdict.REACHABLE and within is not None and (r.depth or 0) > within:
            met = True
    return ExpectationResult(e.name, e.kind, within, met, detail)
