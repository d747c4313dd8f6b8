"""Benchmark of model-based conformance testing: steps per second for each spec and model.

For each conformance machine of tests/conformance/test_{snp,tdx,cca}.py (the spec at the
test's sizes beside its reference model, exactly as CI runs it), one derandomized run of
`runs` examples of `steps` steps each, unshrunk, at a small and a large size. A step is one
action on both sides: the interpreter's step, the model's method, the outcome comparison,
`observe()` against the spec's state, and every invariant and transition property on the
spec state. Out, one row per (spec, size): total steps, seconds, steps/s, and the share of
the time spent inside the model (the rest is the interpreter, hypothesis and the checks).
Whether the model runs the encryption core in the loop is in the `encryption` column.

    python benchmarks/conformance.py [--quick] [--only snp|tdx|cca] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.testing.conformance import ConformanceError, ConformanceMachine, Coverage, run  # noqa: E402

SPECS = ("snp", "tdx", "cca")
SIZES = {"small": (10, 50), "large": (40, 100)}  # name -> (runs, steps per run)


def machine_of(name: str) -> type[ConformanceMachine] | None:
    """The conformance class the test module builds (None when the module is missing)."""
    try:
        mod = importlib.import_module(f"tests.conformance.test_{name}")
    except ImportError:
        return None
    for _, obj in inspect.getmembers(mod, inspect.isclass):
        if (issubclass(obj, ConformanceMachine) and hasattr(obj, "model_factory")
                and obj.__module__ == mod.__name__):
            return obj  # a built machine (not a mixin of extra rules)
    return None


def _uses_encryption(model: Any) -> bool:
    """Whether the model keeps real ciphertext (an encryption engine other than 'none')."""
    seen: set[int] = set()
    todo = [model]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            todo.extend(obj.values())
            continue
        if isinstance(obj, list | tuple):
            todo.extend(obj)
            continue
        if not hasattr(obj, "__dict__"):
            continue
        if type(obj).__module__ in ("models.encryption", "models.xts") and type(obj).__name__ != "PlainEngine":
            return True
        todo.extend(vars(obj).values())
    return False


class _Timed:
    """Wraps a model: counts the seconds spent in its methods."""

    def __init__(self, inner: Any, clock: list[float]) -> None:
        self._inner, self._clock = inner, clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._clock[0] += time.perf_counter() - t
        return timed


def row(name: str, machine: type[ConformanceMachine], size: str) -> dict[str, Any]:
    runs, steps = SIZES[size]
    clock = [0.0]
    factory = machine.model_factory
    encryption = _uses_encryption(factory())
    machine.model_factory = staticmethod(lambda: _Timed(factory(), clock))
    machine.coverage = Coverage(fired={a.name: {} for a in machine.spec.actions})
    t = time.perf_counter()
    error = None
    try:
        run(machine, runs=runs, steps=steps, derandomize=True, shrink=False)
    except ConformanceError as err:  # a red model still has a speed; say it failed
        error = err.args[0] if err.args else "conformance failure"
    finally:
        machine.model_factory = staticmethod(factory)
    secs = time.perf_counter() - t
    done = machine.coverage.steps
    return {"case": f"conformance-{name}", "size": size, "runs": runs, "steps_per_run": steps,
            "steps": done, "seconds": round(secs, 3), "steps_per_s": round(done / secs, 1) if secs else None,
            "model_share": round(clock[0] / secs, 3) if secs else None, "encryption": encryption,
            "actions_fired": sum(1 for o in machine.coverage.fired.values() if sum(o.values())),
            "actions": len(machine.coverage.fired), "error": error}


def _write_json(path: str, rows: list[dict[str, Any]]) -> None:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=2)
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the small size only")
    ap.add_argument("--only", choices=SPECS, action="append", help="these specs only (repeatable)")
    ap.add_argument("--json", metavar="PATH", help="write the rows as a JSON list (atomically)")
    args = ap.parse_args(argv)
    os.chdir(ROOT)  # the test modules name their specs relative to the repository root
    rows: list[dict[str, Any]] = []
    print(f"{'case':<18} {'size':<6} {'steps':>6} {'seconds':>8} {'steps/s':>8} {'model':>6} {'enc':>4}  actions")
    for name in args.only or SPECS:
        machine = machine_of(name)
        if machine is None:
            print(f"conformance-{name:<6} (no tests/conformance/test_{name}.py)")
            continue
        for size in ("small",) if args.quick else tuple(SIZES):
            r = row(name, machine, size)
            rows.append(r)
            print(f"{r['case']:<18} {size:<6} {r['steps']:>6} {r['seconds']:>8.2f} {r['steps_per_s']:>8.0f} "
                  f"{r['model_share']:>6.0%} {'yes' if r['encryption'] else 'no':>4}  {r['actions_fired']}/{r['actions']}"
                  + (f"  FAILED: {r['error']}" if r['error'] else ""))
    if args.json:
        _write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
