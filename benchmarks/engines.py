"""Benchmark of the z3 engines against the explicit checker on spec/snp.tee.

For each size of spec/snp.tee (default constants, then more 2M regions / guests), one run of:
  * the bit width of the encoding, and 1-induction over all invariants with bit-vectors
    (z3's finite-domain SAT solver, the default) and with unbounded Ints (its arithmetic
    solver), plus BMC to depth 5 with Ints: the ratio shows what the bit-vectors buy;
  * BMC alone (`--engine bmc`) at depth 5, 10, 20, 40: seconds to reach the depth;
  * BMC with the 1-induction lemmas assumed in every frame (what `auto` does) at the same
    depths;
  * the proofs of `--engine auto` through z3 (BMC to the CLI default depth, 10, for the
    covers): total seconds and the slowest proof;
  * the explicit checker: states, seconds (bounded by --explicit-timeout);
and the ratio explicit / z3-proofs per size. Each cell is bounded by --timeout seconds
(a cell that hits it says `>T`). Rows are written with --json PATH (atomically).

    python benchmarks/engines.py [--quick] [--timeout 60] [--json PATH]
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

from checker.encode_step import StepEncoding  # noqa: E402
from checker.engines.bmc import bmc  # noqa: E402
from checker.engines.induction import one_induction  # noqa: E402
from checker.engines.portfolio import run_engines  # noqa: E402
from checker.explore import ExploreOptions, explore  # noqa: E402
from checker.pipeline import DEFAULT_DEPTH, load  # noqa: E402
from checker.result import Verdict  # noqa: E402
from checker.smt import Budget  # noqa: E402

SPEC = str(ROOT / "spec" / "snp.tee")
SIZES = [{}, {"GUESTS": 3}, {"REGIONS": 3}, {"REGIONS": 3, "GUESTS": 3}]
DEPTHS = [5, 10, 20, 40]


def _bmc_time(spec: Any, enc: StepEncoding, depth: int, timeout: float, assume: tuple[str, ...]) -> float | None:
    t = time.monotonic()
    _, stats = bmc(spec, enc, depth, Budget(t + timeout), assume=assume)
    if stats.stopped == "time-out" or stats.depth < depth and stats.stopped not in ("all properties decided",):
        return None
    return time.monotonic() - t


def row(overrides: dict[str, int], timeout: float, depths: list[int]) -> dict[str, Any]:
    _, spec = load(SPEC, overrides)
    enc = StepEncoding(spec)
    consts = " ".join(f"{k}={v}" for k, v in spec.consts)
    out: dict[str, Any] = {"case": "snp", "consts": consts}
    invs = [p.name for p in spec.properties if p.kind == "invariant"]
    out["width"] = enc.width
    t = time.monotonic()
    lemmas = tuple(one_induction(spec, enc, invs, Budget(t + timeout)).proved)
    out["induction_bv_s"] = time.monotonic() - t if time.monotonic() - t < timeout else None
    # the same 1-induction over the unbounded-Int encoding (z3's arithmetic solver)
    t = time.monotonic()
    int_proved = one_induction(spec, StepEncoding(spec, None), invs, Budget(t + timeout)).proved
    took = time.monotonic() - t
    out["induction_int_s"] = took if len(int_proved) == len(lemmas) and took < timeout else None
    out["bmc_int_d5_s"] = _bmc_time(spec, StepEncoding(spec, None), 5, timeout, ())
    for d in depths:
        out[f"bmc_d{d}_s"] = _bmc_time(spec, enc, d, timeout, ())
        out[f"bmc_lemmas_d{d}_s"] = _bmc_time(spec, enc, d, timeout, lemmas)
    t = time.monotonic()
    results, _ = run_engines(spec, "auto", DEFAULT_DEPTH, Budget(t + timeout))
    out["proofs_s"] = time.monotonic() - t
    proved = [r for r in results if r.verdict in (Verdict.PROVED, Verdict.UNREACHABLE)]
    out["proved"] = len(proved)
    out["slowest_proof_s"] = max((r.time_s for r in proved), default=None)
    out["all_decided"] = all(r.verdict not in (Verdict.HOLDS_TO_DEPTH, Verdict.UNKNOWN) for r in results)
    t = time.monotonic()
    _, st = explore(spec, ExploreOptions(deadline=t + timeout))
    out["explicit_s"] = time.monotonic() - t
    out["explicit_states"] = st.states
    out["explicit_complete"] = st.complete
    out["explicit_over_proofs"] = out["explicit_s"] / out["proofs_s"] if out["proofs_s"] else None
    return out


def _cell(v: Any, timeout: float) -> str:
    if v is None:
        return f">{timeout:.0f}"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="default constants, depths 5 and 10 only")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per cell")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args()
    sizes = SIZES[:1] if args.quick else SIZES
    depths = DEPTHS[:2] if args.quick else DEPTHS
    rows = []
    for ov in sizes:
        r = row(ov, args.timeout, depths)
        rows.append(r)
        print(" | ".join(f"{k}={_cell(v, args.timeout)}" for k, v in r.items()), flush=True)
    if args.json:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.json)) or ".", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(rows, fh, indent=2)
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
