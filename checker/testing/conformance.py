"""Model-based conformance tests: a .tee spec and a Python model, run step by step side by side.

In: a spec path (const `overrides` as for the CLI) and a factory of the model under test:
an object with one method per spec action, called with the arguments in the spec's
parameter order as plain values (values.to_plain: ranges as int, enums as member names)
and returning the outcome code ("ok" or the spec's `require ... else CODE`) — or a tuple
whose first item is that code, as a read returns (outcome, value): the value is state
`observe()` already shows — and `observe()` returning the non-ghost state as
values.to_plain would.
Out: `conformance(...)`, a hypothesis `RuleBasedStateMachine` class (use its `.TestCase` in
pytest) with one rule per action. Arguments are drawn from the argument tuples enabled in
the spec's current state (a `require` without `else` that is false means "not taken"),
never by rejection. After the initial state and every step: the outcome codes must be
equal, `model.observe()` must equal `values.state_to_plain(spec, state, include_ghost=False)`,
and the spec's invariants and transition properties must hold on the spec state (those the
spec itself `expect`s violated are skipped unless named in `invariants=`).
On the first difference: `ConformanceError` (an AssertionError) whose message has the spec
trace as numbered steps, the paths that differ (expected vs got) and a pytest function that
replays the calls; the trace is also written as ITF JSON under `failure_dir`.
Class-level `coverage` counts steps per action and outcome; `assert_every_action_fires`
fails when a run of normal length never takes some action. Never imports pipeline / cli.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from hypothesis import HealthCheck, Phase
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from checker import ir
from checker.interp import Interpreter, SpecRuntimeError, State
from checker.parse import parse
from checker.result import Failure, Step, Trace
from checker.source import SourceFile
from checker.testing import failure
from checker.testing.failure import Mismatch
from checker.typecheck import check
from checker.values import state_to_plain, to_plain

DEFAULT_FAILURE_DIR = ".tee-check/failures"
_STRATEGIES: dict[tuple[tuple[str, tuple[tuple[Any, ...], ...]], ...], st.SearchStrategy[tuple[Any, ...]]] = {}
MAX_ENUMERATE = 4096  # an action with more argument tuples draws them freely (and skips disabled ones)
CACHE_STATES = 50_000  # (state, action) enumerations kept per conformance class


class ConformanceError(AssertionError):
    """The model and the spec disagree (or the spec went wrong on the way).

    The message and the ITF file are made on first use (str(), `.itf_path`, `.snippet`):
    hypothesis raises this error hundreds of times while it shrinks a failure and only the
    last one is shown, so the failing runs on the way cost nothing to report."""

    def __init__(self, mismatch: Mismatch, trace: Trace, render: Callable[[], tuple[str, Path | None, str]]) -> None:
        super().__init__(mismatch.headline)
        self.mismatch = mismatch
        self.trace = trace
        self._render = render
        self._done: tuple[str, Path | None, str] | None = None

    def _rendered(self) -> tuple[str, Path | None, str]:
        if self._done is None:
            self._done = self._render()
            self.args = (self._done[0],)
        return self._done

    def __str__(self) -> str:
        return self._rendered()[0]

    @property
    def itf_path(self) -> Path | None:
        """The failing trace as ITF JSON (None when the machine's failure_dir is None)."""
        return self._rendered()[1]

    @property
    def snippet(self) -> str:
        """The replay test, as Python source."""
        return self._rendered()[2]

    @property
    def steps(self) -> int:
        """The length of the failing spec trace."""
        return self.trace.length


@dataclass
class Coverage:
    """What the runs of one machine class did (class-level, summed over runs)."""

    fired: dict[str, dict[str, int]] = field(default_factory=dict)  # action -> outcome -> steps
    enabled: dict[str, int] = field(default_factory=dict)  # action -> states where it was enabled
    runs: int = 0
    steps: int = 0
    skipped: int = 0  # free draws (large actions) that hit a disabled argument tuple
    first_failure: int | None = None  # total steps taken up to and including the first failure

    def report(self) -> str:
        lines = [f"{self.runs} runs, {self.steps} steps"
                 + (f", first failure after {self.first_failure} steps" if self.first_failure else "")]
        for action, outcomes in self.fired.items():
            total = sum(outcomes.values())
            detail = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()) if n)
            lines.append(f"  {action:<20} {total:>6} steps" + (f"  ({detail})" if detail else "")
                         + ("" if total else f"  NEVER FIRED (enabled in {self.enabled.get(action, 0)} states)"))
        return "\n".join(lines)


def load_spec(spec_path: str | Path, overrides: Mapping[str, int] | None = None) -> tuple[SourceFile, ir.Spec]:
    """Parse and type-check a spec (raises diagnostics.SpecError on a spec mistake)."""
    path = str(spec_path)
    source = SourceFile(path, Path(path).read_text(encoding="utf-8"))
    return source, check(parse(source), overrides)


def default_setup(model_factory: Callable[[], Any]) -> list[str]:
    """Source lines that build `model` in a replay test, when the factory is importable."""
    mod = getattr(model_factory, "__module__", None)
    qual = getattr(model_factory, "__qualname__", "")
    if mod and mod != "__main__" and qual and "<" not in qual:
        return [f"from {mod} import {qual.split('.')[0]}", f"model = {qual}()"]
    return ["model = ...  # build the model under test here (its factory is not importable)"]


class ConformanceMachine(RuleBasedStateMachine):
    """The base of the classes `conformance` builds; class attributes are set there."""

    spec: ClassVar[ir.Spec]
    source: ClassVar[SourceFile]
    interp: ClassVar[Interpreter]
    model_factory: ClassVar[Callable[[], Any]]
    methods: ClassVar[dict[str, str]]  # action -> model method name
    checked: ClassVar[tuple[ir.Property, ...]]
    failure_dir: ClassVar[Path | None]
    replay_setup: ClassVar[list[str]]
    coverage: ClassVar[Coverage]
    passed_cache: ClassVar[set[Any]]  # (state, prev, action) keys whose properties all held
    has_transitions: ClassVar[bool]
    results_cache: ClassVar[dict[tuple[State, str], tuple[tuple[tuple[Any, ...], str | None, State | None], ...]]]

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        self._tc_steps: list[Step] = []
        self._tc_plain_args: list[tuple[Any, ...]] = []
        self._tc_enabled: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        self._tc_state: State = ()
        self._tc_visited: set[State] = set()
        cls.coverage.runs += 1
        try:
            self._tc_state = cls.interp.init()
        except SpecRuntimeError as err:
            self._tc_fail(Mismatch(0, "spec", f"the spec has no initial state: {err.message} ({err.span})"))
        self._tc_init = self._tc_state
        self._tc_visited.add(self._tc_state)
        try:
            self.model = cls.model_factory()
        except Exception as err:  # noqa: BLE001 - reported with the trace, then re-raised as cause
            self._tc_model_error(0, "building the model", err)
        missing = [f"{m}() for action {a}" for a, m in cls.methods.items() if not callable(getattr(self.model, m, None))]
        if not callable(getattr(self.model, "observe", None)):
            missing.append("observe()")
        if missing:
            raise TypeError(f"{type(self.model).__name__} lacks the methods {', '.join(missing)}")
        self._tc_check(None, None)

    # ---------------------------------------------------------------- drawing arguments
    def _tc_results(self, action: str) -> tuple[tuple[tuple[Any, ...], str | None, State | None], ...]:
        """(args, outcome, next state) for every argument tuple of `action` in the current spec
        state; the outcome is None when a `require` without `else` does not hold, "error" when
        the spec itself goes wrong. The spec is deterministic, so the answers are kept per
        class (runs revisit the same states, the initial one first) up to CACHE_STATES."""
        cls = type(self)
        key = (self._tc_state, action)
        got = cls.results_cache.get(key)
        if got is None:
            rows: list[tuple[tuple[Any, ...], str | None, State | None]] = []
            for args in cls.interp.args(action):
                try:
                    r = cls.interp.step(self._tc_state, action, args)
                except SpecRuntimeError:
                    rows.append((args, "error", None))  # taken: the rule reports it
                    continue
                rows.append((args, None, None) if r is None else (args, r.outcome, r.state))
            got = tuple(rows)
            if len(cls.results_cache) < CACHE_STATES:
                cls.results_cache[key] = got
        return got

    def _tc_may_fire(self, action: str) -> bool:
        """The rule's precondition: some argument tuple is taken now. Stops at the first one
        found (the full enumeration is done only for the rule hypothesis then draws)."""
        cls = type(self)
        if action in self._tc_enabled:
            return bool(self._tc_enabled[action])
        known = cls.results_cache.get((self._tc_state, action))
        if known is not None:
            return any(o is not None for _, o, _ in known)
        for args in cls.interp.args(action):
            try:
                if cls.interp.step(self._tc_state, action, args) is not None:
                    return True
            except SpecRuntimeError:
                return True
        return bool(self._tc_enabled_args(action))  # none taken: record the enumeration

    def _tc_enabled_args(self, action: str) -> dict[str, list[tuple[Any, ...]]]:
        """Argument tuples for which `action` is taken in the current spec state, by outcome
        ("ok" first, then the codes in order; "error" when the spec itself goes wrong).
        Within "ok", the tuples leading to a state this run has not visited come first."""
        got = self._tc_enabled.get(action)
        if got is None:
            groups: dict[str, list[tuple[Any, ...]]] = {}
            stale: list[tuple[Any, ...]] = []
            for args, outcome, nxt in self._tc_results(action):
                if outcome is None:
                    continue
                if outcome == "ok" and nxt in self._tc_visited:
                    stale.append(args)
                else:
                    groups.setdefault(outcome, []).append(args)
            got = {o: groups[o] for o in sorted(groups, key=lambda o: (o != "ok", o))}
            if stale:
                got["ok:stale"] = stale
            self._tc_enabled[action] = got
            if got:
                self.coverage.enabled[action] = self.coverage.enabled.get(action, 0) + 1
        return got

    def _tc_choices(self, action: str) -> st.SearchStrategy[tuple[Any, ...]]:
        """An outcome first, then its arguments: each outcome possible now is equally likely
        (so a step that succeeds is not drowned by the many tuples that fail a check), and a
        step to a state already visited in this run is drawn only when nothing else is."""
        groups = self._tc_enabled_args(action)
        fresh = tuple(o for o in groups if o != "ok:stale") or ("ok:stale",)
        key = tuple((o, tuple(groups[o])) for o in fresh)
        strategy = _STRATEGIES.get(key)
        if strategy is None:  # strategies are costly to build: one per distinct choice
            parts = {o: st.sampled_from(args) for o, args in key}
            strategy = st.sampled_from(fresh).flatmap(parts.__getitem__)
            if len(_STRATEGIES) < 100_000:
                _STRATEGIES[key] = strategy
        return strategy

    # ---------------------------------------------------------------- one step
    def _tc_step(self, action: ir.Action, args: tuple[Any, ...]) -> None:
        __tracebackhide__ = True  # pytest shows the message, not these frames
        cls = type(self)
        named = tuple((p.name, v) for p, v in zip(action.params, args, strict=True))
        actor = action.actor_label(args)
        prev = self._tc_state
        try:
            r = cls.interp.step(prev, action.name, args)
        except SpecRuntimeError as err:
            self._tc_steps.append(Step(action.name, actor, named, "error", prev, err.span))
            self._tc_fail(Mismatch(len(self._tc_steps), "spec", f"the spec went wrong at step {len(self._tc_steps)}: {err.message} ({err.span})"),
                          Failure(err.span, err.message))
        if r is None:
            cls.coverage.skipped += 1
            return
        plain = tuple(to_plain(v, p.type) for p, v in zip(action.params, args, strict=True))
        self._tc_steps.append(Step(action.name, actor, named, r.outcome, r.state, r.failed))
        self._tc_plain_args.append(plain)
        self._tc_state = r.state
        self._tc_visited.add(r.state)
        self._tc_enabled.clear()
        cls.coverage.steps += 1
        outcomes = cls.coverage.fired[action.name]
        outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        n = len(self._tc_steps)
        try:
            got = getattr(self.model, cls.methods[action.name])(*plain)
        except Exception as err:  # noqa: BLE001 - reported with the trace, then re-raised as cause
            self._tc_model_error(n, f"model.{cls.methods[action.name]}{plain}", err)
        if isinstance(got, tuple) and got and isinstance(got[0], str):
            got = got[0]  # (outcome, value, ...): the outcome is what the spec's step has
        if got != r.outcome:
            self._tc_fail(Mismatch(n, "outcome", f"step {n}: {action.name} returns {got!r} in the model, "
                                   f"the spec says {r.outcome!r}", outcome=repr(got) if not isinstance(got, str) else got))
        self._tc_check(prev, action.name)

    def _tc_check(self, prev: State | None, action: str | None) -> None:
        """The model's observation, then the spec's own invariants, in the current state."""
        __tracebackhide__ = True  # pytest shows the message, not these frames
        cls = type(self)
        n = len(self._tc_steps)
        where = f"after step {n}" if n else "in the initial state"
        expected = state_to_plain(cls.spec, self._tc_state, include_ghost=False)
        try:
            seen = self.model.observe()
        except Exception as err:  # noqa: BLE001 - reported with the trace, then re-raised as cause
            self._tc_model_error(n, "model.observe()", err)
        diffs = failure.observation_diff(cls.spec, expected, seen)
        if diffs:
            self._tc_fail(Mismatch(n, "observation", f"the model's state differs from the spec's {where}",
                                   differences=tuple(diffs)))
        # the properties are functions of (prev, state, action): what passed once passes again
        key = (self._tc_state, prev, action) if cls.has_transitions else self._tc_state
        if key in cls.passed_cache:
            return
        for p in cls.checked:
            if p.kind == "transition" and (prev is None or (p.on is not None and action not in p.on)):
                continue
            try:
                ok = cls.interp.holds(p.name, self._tc_state, prev if p.kind == "transition" else None)
            except SpecRuntimeError as err:
                self._tc_fail(Mismatch(n, "spec", f"{p.kind} {p.name} is ill-defined {where}: {err.message} ({err.span})"))
            if not ok:
                trace = Trace(self._tc_init, tuple(self._tc_steps))
                why = failure.explain_invariant(cls.spec, cls.source, trace, p.name, cls.interp)
                self._tc_fail(Mismatch(n, "invariant", f"the spec's {p.kind} {p.name} is false {where} "
                                       "(the model agreed with the spec up to here)",
                                       details=tuple(["why:", *("  " + line for line in why)] if why else [])))
        if len(cls.passed_cache) < CACHE_STATES:
            cls.passed_cache.add(key)

    # ---------------------------------------------------------------- failing
    def _tc_model_error(self, step: int, what: str, err: Exception) -> NoReturn:
        tb = traceback.format_exception_only(type(err), err)[-1].strip()
        try:
            self._tc_fail(Mismatch(step, "model-error", f"{what} raised {tb}"))
        except ConformanceError as ce:
            raise ce from err

    def _tc_fail(self, mismatch: Mismatch, fail: Failure | None = None) -> NoReturn:
        __tracebackhide__ = True  # pytest shows the message, not these frames
        cls = type(self)
        if cls.coverage.first_failure is None:
            cls.coverage.first_failure = cls.coverage.steps
        trace = Trace(self._tc_init, tuple(self._tc_steps), fail)
        state, plain_args = self._tc_state, list(self._tc_plain_args)

        def render() -> tuple[str, Path | None, str]:
            expected = state_to_plain(cls.spec, state, include_ghost=False) if state else {}
            snippet = failure.pytest_snippet(cls.spec, trace, cls.replay_setup, mismatch, expected, plain_args)
            path = None
            if cls.failure_dir is not None and state:
                name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{cls.spec.name}-{cls.__name__}")
                text = failure.itf_text(cls.spec, trace, mismatch)
                path = failure.write_itf(cls.failure_dir / f"{name}.itf.json", text)
            model_name = getattr(cls.model_factory, "__qualname__", repr(cls.model_factory))
            return failure.message(cls.spec, cls.source, trace, mismatch, model_name, path, snippet), path, snippet

        raise ConformanceError(mismatch, trace, render)


def _rule_for(action: ir.Action, big: bool) -> Callable[..., None]:
    if big:
        strategy: st.SearchStrategy[Any] = st.tuples(*(st.sampled_from(tuple(ir.all_values(p.type)))
                                                       for p in action.params))
    else:
        strategy = st.runner().flatmap(lambda m: m._tc_choices(action.name))

    def take(self: ConformanceMachine, args: tuple[Any, ...]) -> None:
        __tracebackhide__ = True  # pytest shows the message, not these frames
        self._tc_step(action, args)

    take.__name__ = take.__qualname__ = action.name
    fn: Callable[..., None] = rule(args=strategy)(take)
    if not big:
        fn = precondition(lambda self: self._tc_may_fire(action.name))(fn)
    return fn


def conformance(spec_path: str | Path, model_factory: Callable[[], Any], *,
                overrides: Mapping[str, int] | None = None, max_steps: int = 50,
                invariants: Iterable[str] | None = None, methods: Mapping[str, str] | None = None,
                failure_dir: str | Path | None = DEFAULT_FAILURE_DIR,
                replay_setup: Iterable[str] | None = None, name: str | None = None,
                max_enumerate: int = MAX_ENUMERATE,
                hypothesis_settings: Settings | None = None) -> type[ConformanceMachine]:
    """A hypothesis state machine running `model_factory()` beside the spec at `spec_path`.

    overrides: const values (as `--set NAME=V`); the model must be built with the same sizes.
    max_steps: hypothesis's stateful_step_count for the class's TestCase; the other settings
    come from `hypothesis_settings`, else from the loaded profile. (Decorating the class with
    @settings(...) replaces all of them, max_steps included.)
    invariants: names of the invariant / transition properties to check on the spec state;
    default: all of them except those the spec expects violated.
    methods: action name -> model method name, for the actions whose method is named otherwise.
    failure_dir: where the failing trace is written as ITF (None: not written).
    replay_setup: source lines that build `model` in the replay test (imports first).
    """
    source, spec = load_spec(spec_path, overrides)
    expected_violated = {e.name for e in spec.expects if e.kind == "violated"}
    props = [p for p in spec.properties if p.kind in ("invariant", "transition") and p.expr is not None]
    if invariants is None:
        checked = tuple(p for p in props if p.name not in expected_violated)
    else:
        wanted = set(invariants)
        unknown = wanted - {p.name for p in props}
        if unknown:
            raise ValueError(f"not invariants or transitions of {spec.name}: {', '.join(sorted(unknown))}")
        checked = tuple(p for p in props if p.name in wanted)
    interp = Interpreter(spec)
    reserved = set(dir(RuleBasedStateMachine)) | set(vars(ConformanceMachine))
    namespace: dict[str, Any] = {
        "spec": spec, "source": source, "interp": interp, "model_factory": staticmethod(model_factory),
        "methods": {a.name: (methods or {}).get(a.name, a.name) for a in spec.actions},
        "checked": checked, "failure_dir": Path(failure_dir) if failure_dir is not None else None,
        "replay_setup": list(replay_setup) if replay_setup is not None else default_setup(model_factory),
        "coverage": Coverage(fired={a.name: {} for a in spec.actions}),
        "results_cache": {}, "passed_cache": set(),
        "has_transitions": any(p.kind == "transition" for p in checked),
        "__module__": sys._getframe(1).f_globals.get("__name__", __name__),  # the caller's test module
        "__doc__": f"Conformance of {getattr(model_factory, '__qualname__', model_factory)} to spec {spec.name}.",
    }
    for a in spec.actions:
        attr = a.name if a.name not in reserved and not a.name.startswith("_") else f"action_{a.name}"
        namespace[attr] = _rule_for(a, len(interp.args(a)) > max_enumerate)
    cls_name = name or re.sub(r"\W", "_", f"{spec.name.title().replace('_', '')}Conformance")
    cls: type[ConformanceMachine] = type(cls_name, (ConformanceMachine,), namespace)
    # set directly (not as a decorator) so that the user may still decorate with @settings
    cls.TestCase.settings = Settings(hypothesis_settings, stateful_step_count=max_steps)
    return cls


def run(machine: type[ConformanceMachine], *, runs: int, steps: int | None = None,
        derandomize: bool = False, shrink: bool = True) -> None:
    """Run the machine as one test of `runs` examples, without the example database (so
    every call starts afresh); raises the first failure, shrunk unless `shrink` is False
    (a mutation check only needs to know that and when a failure was found)."""
    count = steps or machine.TestCase.settings.stateful_step_count
    phases = tuple(Phase) if shrink else tuple(p for p in Phase if p not in (Phase.shrink, Phase.explain))
    run_state_machine_as_test(machine, settings=Settings(
        max_examples=runs, stateful_step_count=count, deadline=None, derandomize=derandomize,
        database=None, phases=phases, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))


def assert_every_action_fires(machine: type[ConformanceMachine], *, runs: int = 50,
                              steps: int | None = None, derandomize: bool = True) -> Coverage:
    """Run `runs` examples and fail when some action never fired (never enabled, or never drawn).

    Returns the coverage (reset first); `Coverage.report()` is a table of steps per action."""
    machine.coverage = Coverage(fired={a.name: {} for a in machine.spec.actions})
    run(machine, runs=runs, steps=steps, derandomize=derandomize)
    never = [a for a, outcomes in machine.coverage.fired.items() if not sum(outcomes.values())]
    if never:
        raise AssertionError(f"{machine.__name__}: actions never fired in {runs} runs: {', '.join(never)}\n"
                             + machine.coverage.report())
    return machine.coverage


__all__ = ["ConformanceError", "ConformanceMachine", "Coverage", "assert_every_action_fires",
           "conformance", "load_spec", "run"]
