"""Benchmark of the engines that find an invariant's strengthening: IC3 against z3's Spacer.

Cases: spec/snp.tee with its helper invariants removed (the invariants 1-induction cannot
prove then need a strengthening found by the engine) at growing constants, the examples
whose invariants are proved by the engines without 1-induction, and ("others") the examples'
covers, transitions, asserts and well_defined that the invariants 1-induction proves do not
give in one step (reachable covers and violated properties are refuted). Per case, one run of:
  * 1-induction over all invariants (what it proves is assumed by both engines);
  * IC3 (checker/engines/ic3_pool.py: one IC3 per open invariant, round robin, proofs
    shared): seconds until every open invariant is proved or refuted (the examples' attacks
    violate some), frames and lemmas;
  * Spacer (checker/engines/pdr.py), one query per open invariant with the same assumed
    invariants: seconds in total (each query bounded by --timeout; `>T` when one hit it);
and the ratio Spacer / IC3. Rows are written with --json PATH (atomically).

    python benchmarks/strengthen.py [--quick] [--only snp|examples|others] [--timeout 120] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "checker"))

from test_engines import snp_without_helpers  # noqa: E402

from checker.encode_step import StepEncoding  # noqa: E402
from checker.engines.ic3_pool import Ic3Pool  # noqa: E402
from checker.engines.induction import derived, one_induction  # noqa: E402
from checker.engines.pdr import pdr_prove  # noqa: E402
from checker.interp import Interpreter  # noqa: E402
from checker.pipeline import load, load_text  # noqa: E402
from checker.smt import Budget  # noqa: E402
from checker.source import SourceFile  # noqa: E402

SNP_SIZES = [{"REGIONS": 1}, {}, {"GUESTS": 3}]
# the examples with `expect ... unreachable` (covers) and step properties: IC3 on what the
# invariants proved by 1-induction do not give in one step
OTHERS = ["examples/cca_gpt.tee", "examples/sev_replay.tee", "examples/tdx_sept_lifecycle.tee",
          "examples/vmpl_permissions.tee"]
EXAMPLES = ["examples/tdx_sept_lifecycle.tee", "examples/tdx/accept_without_zero.tee",
            "examples/snp/launch_digest_without_gpa.tee", "examples/cca/undelegate_without_scrub.tee"]


def row(case: str, spec: Any, timeout: float, spacer: bool = True, others: bool = False) -> dict[str, Any]:
    """`others`: the goals are the covers, transitions, asserts and well_defined that the
    invariants 1-induction proves do not give in one step, not the invariants."""
    enc = StepEncoding(spec)
    init = Interpreter(spec).init()
    consts = " ".join(f"{k}={v}" for k, v in spec.consts)
    invs = [p.name for p in spec.properties if p.kind == "invariant"]
    t = time.monotonic()
    interp = Interpreter(spec)
    holding = [n for n in invs if interp.holds(n, init)]  # true initially: what the portfolio inducts on
    ind = one_induction(spec, enc, holding, Budget())
    out: dict[str, Any] = {"case": case, "consts": consts, "invariants": len(invs),
                           "one_induction_s": round(time.monotonic() - t, 2)}
    proved = list(ind.proved)
    if others:
        rest = [p for p in spec.properties if p.kind != "invariant"]
        given = derived(spec, enc, proved, Budget(), rest)
        todo = [p.name for p in rest if not given.get(p.name)]
    else:  # the invariants that hold initially and 1-induction did not prove
        todo = [n for n in holding if n not in proved]
    out["open"] = " ".join(todo)
    t = time.monotonic()
    pool = Ic3Pool(spec, enc, init, todo, proved)
    pool.advance(Budget(t + timeout * max(1, len(todo))))
    ic3_s = time.monotonic() - t
    done = [n for n in todo if n in pool.how]
    refuted = [n for n in todo if n in pool.refuted()]
    out["ic3_proved"] = f"{len(done)}/{len(todo)}"
    out["ic3_refuted"] = len(refuted)
    out["ic3_s"] = round(ic3_s, 2) if len(done) + len(refuted) == len(todo) else None
    out["ic3_runs"] = "; ".join(f"{n}: {pool.how.get(n) or pool.why.get(n, '?')}" for n in todo)
    sp_total, sp_done, sp_refuted = 0.0, 0, 0
    for n in todo if spacer else []:
        t = time.monotonic()
        verdict, _why = pdr_prove(spec, enc, init, spec.property(n), Budget(t + timeout), proved)
        sp_total += time.monotonic() - t
        sp_done += verdict == "proved"
        sp_refuted += verdict == "violated"
    out["spacer_proved"] = f"{sp_done}/{len(todo)}"
    out["spacer_refuted"] = sp_refuted
    out["spacer_s"] = round(sp_total, 2) if spacer and sp_done + sp_refuted == len(todo) else None
    out["spacer_over_ic3"] = (round(sp_total / ic3_s, 1) if out["ic3_s"] and out["spacer_s"] else None)
    return out


def _cell(v: Any, timeout: float) -> str:
    return f">{timeout:g}" if v is None else str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the smallest snp size and one example")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per invariant and engine")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--only", choices=("snp", "examples", "others"), help="run only these cases")
    ap.add_argument("--no-spacer", action="store_true", help="IC3 only (Spacer columns empty)")
    args = ap.parse_args()
    cases: list[tuple[str, Any]] = []
    text = snp_without_helpers()
    for sizes in [] if args.only in ("examples", "others") else SNP_SIZES[:1] if args.quick else SNP_SIZES:
        spec = load_text(SourceFile(str(ROOT / "spec" / "snp-no-helpers.tee"), text), sizes)
        cases.append(("snp without helpers", spec))
    for ex in [] if args.only in ("snp", "others") else EXAMPLES[:1] if args.quick else EXAMPLES:
        cases.append((ex, load(str(ROOT / ex))[1]))
    n_inv = len(cases)
    for ex in [] if args.only in ("snp", "examples") else OTHERS[:1] if args.quick else OTHERS:
        cases.append((ex + " (others)", load(str(ROOT / ex))[1]))
    rows = []
    print("| case | consts | open | IC3 s | IC3 proved / refuted | Spacer s | Spacer proved / refuted | Spacer / IC3 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for i, (case, spec) in enumerate(cases):
        r = row(case, spec, args.timeout, not args.no_spacer, others=i >= n_inv)
        rows.append(r)
        print(f"| {case} | {r['consts']} | {r['open']} | {_cell(r['ic3_s'], args.timeout)} | {r['ic3_proved']} / {r['ic3_refuted']} | "
              f"{_cell(r['spacer_s'], args.timeout)} | {r['spacer_proved']} / {r['spacer_refuted']} | {r['spacer_over_ic3'] or '-'} |",
              flush=True)
    if args.json:
        d = os.path.dirname(os.path.abspath(args.json))
        fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(rows, fh, indent=1)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
