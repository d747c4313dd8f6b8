"""`tee-check fuzz` and `tee-check replay`: model-based testing from the command line.

  tee-check fuzz SPEC --model module:factory [--examples N] [--steps N] [--seed S] [--set N=V]
      runs the conformance state machine (checker/testing/conformance.py): the model beside
      the spec, outcome codes and observe() compared after every step, invariants checked.
      Prints progress on long runs, then steps/s, steps per action and outcome, and the
      outcome codes never seen. Exit 0 conforms, 1 a difference (the trace, an ITF file and
      a replayable pytest function are printed), 2 a usage or spec mistake.
  tee-check replay TRACE.itf.json --model module:factory [--spec SPEC] [--set N=V]
      replays a trace (a counterexample written by --report-dir, or a conformance failure)
      on the model. Exit 0 the model follows it, 1 it does not.
Part of the CLI layer: it prints; the work is in checker/testing/.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from checker.diagnostics import SpecError, render


def _factory(spec: str) -> Callable[[], Any]:
    mod, sep, attr = spec.partition(":")
    if not sep or not mod or not attr:
        raise ValueError(f"--model takes module:factory, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj: Any = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(f"{spec} is not callable")
    factory: Callable[[], Any] = obj
    return factory


def _sets(values: list[str]) -> dict[str, int]:
    out = {}
    for v in values:
        name, sep, num = v.partition("=")
        if not sep:
            raise ValueError(f"--set takes NAME=VALUE, got {v!r}")
        out[name.strip()] = int(num, 0)
    return out


def fuzz_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tee-check fuzz", description="Fuzz a model against a spec (hypothesis).")
    p.add_argument("spec", metavar="SPEC.tee")
    p.add_argument("--model", required=True, metavar="module:factory")
    p.add_argument("--examples", type=int, default=100, help="hypothesis examples (runs from init)")
    p.add_argument("--steps", type=int, default=50, help="steps per example")
    p.add_argument("--seed", type=int, help="hypothesis seed (default: random, printed)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--no-shrink", action="store_true", help="report the first failure unshrunk (faster)")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code in (0, None) else 2
    import hypothesis.core

    from checker.testing.conformance import ConformanceError, conformance, run

    try:
        factory = _factory(args.model)
        machine = conformance(args.spec, factory, overrides=_sets(args.sets), max_steps=args.steps)
    except SpecError as err:
        for d in err.diagnostics:
            print(render(d, None), file=sys.stderr)
        return 2
    except (ValueError, ImportError, AttributeError, OSError) as err:
        print(f"tee-check fuzz: error: {err}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    setattr(hypothesis.core, "global_force_seed", seed)  # noqa: B010 - hypothesis's --hypothesis-seed hook
    print(f"tee-check fuzz: {args.spec} against {args.model}: {args.examples} examples x {args.steps} steps, "
          f"seed {seed}", file=sys.stderr)
    done = threading.Event()
    t0 = time.monotonic()

    def progress() -> None:
        while not done.wait(2.0):
            n, dt = machine.coverage.steps, time.monotonic() - t0
            print(f"  ... {n:,} steps, {n / dt:,.0f} steps/s, {dt:.0f}s", file=sys.stderr, flush=True)

    threading.Thread(target=progress, daemon=True).start()
    failure: BaseException | None = None
    try:
        run(machine, runs=args.examples, steps=args.steps, shrink=not args.no_shrink)
    except ConformanceError as err:
        failure = err
    except KeyboardInterrupt:
        failure = KeyboardInterrupt()
    finally:
        done.set()
    dt = time.monotonic() - t0
    cov = machine.coverage
    print(cov.report())
    print(f"{cov.steps:,} steps in {dt:.1f}s ({cov.steps / max(dt, 1e-9):,.0f} steps/s), seed {seed}")
    never = [f"{a.name} -> {c}" for a in machine.spec.actions for c in ("ok", *a.codes)
             if not cov.fired.get(a.name, {}).get(c)]
    if never:
        print("outcomes never seen: " + ", ".join(never))
    if isinstance(failure, KeyboardInterrupt):
        print("tee-check fuzz: interrupted", file=sys.stderr)
        return 1
    if failure is not None:
        print(str(failure))
        return 1
    print("OK: the model conforms to the spec in every run")
    return 0


def replay_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="tee-check replay", description="Replay an ITF trace on a model.")
    p.add_argument("trace", metavar="TRACE.itf.json")
    p.add_argument("--model", required=True, metavar="module:factory")
    p.add_argument("--spec", help="the spec (default: the trace's #meta.source)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE")
    try:
        args = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code in (0, None) else 2
    from checker.testing.conformance import load_spec
    from checker.testing.replay_model import replay_on_model

    try:
        with open(args.trace, encoding="utf-8") as fh:
            text = fh.read()
        spec_path = args.spec or json.loads(text)["#meta"]["source"]
        _, spec = load_spec(spec_path, _sets(args.sets))
        model = _factory(args.model)()
        report = replay_on_model(text, spec, model)
    except SpecError as err:
        for d in err.diagnostics:
            print(render(d, None), file=sys.stderr)
        return 2
    except (ValueError, KeyError, TypeError, ImportError, AttributeError, OSError) as err:
        print(f"tee-check replay: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2
    if report.disagreement:
        print(f"DIFFERS: {report.disagreement}")
        return 1
    print(f"OK: the model follows all {report.steps} steps of {args.trace}")
    return 0
