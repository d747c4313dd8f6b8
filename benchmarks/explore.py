"""Benchmark of the explicit-state checker (checker/explore.py, breadth-first search).

Runs the BFS over every reachable state of examples/rmp_core.tee (or, if that file is
missing, the complete example of the language contract /work/shared/tee-language.md) at
growing constants, one row per size:

    case, consts, states, transitions, time_s, states_per_s, complete

``complete`` is true when the search visited every reachable state; a row cut short by
``--timeout S`` (per row) says false and reports the states reached so far.
``--quick`` runs the small sizes only; ``--json PATH`` writes the rows as a JSON list
(atomically: temp file + os.replace).

    python benchmarks/explore.py [--quick] [--timeout 60] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checker.explore import ExploreOptions, explore  # noqa: E402
from checker.pipeline import load_text  # noqa: E402
from checker.source import SourceFile  # noqa: E402

EXAMPLE = ROOT / "examples" / "rmp_core.tee"
CONTRACT = ROOT.parent / "shared" / "tee-language.md"

# (PAGES, GPAS, GUESTS): pages grow 2..5; two guests double the actors and the npt.
FULL = [(p, 2, g) for g in (1, 2) for p in (2, 3, 4, 5)]
QUICK = [(2, 2, 1), (3, 2, 1), (2, 2, 2)]


def spec_source() -> SourceFile:
    if EXAMPLE.exists():
        return SourceFile(str(EXAMPLE.relative_to(ROOT)), EXAMPLE.read_text(encoding="utf-8"))
    m = re.search(r"```tee\n(.*?)```", CONTRACT.read_text(encoding="utf-8"), re.S)
    if m is None:
        raise SystemExit(f"neither {EXAMPLE} nor a ```tee block in {CONTRACT}")
    return SourceFile("tee-language.md#example", m.group(1))


def run_row(source: SourceFile, pages: int, gpas: int, guests: int, timeout: float) -> dict[str, Any]:
    consts = {"PAGES": pages, "GPAS": gpas, "GUESTS": guests}
    spec = load_text(source, consts)
    t0 = time.monotonic()
    _results, stats = explore(spec, ExploreOptions(deadline=t0 + timeout))
    elapsed = time.monotonic() - t0
    return {
        "case": Path(source.path).stem,
        "consts": " ".join(f"{k}={v}" for k, v in consts.items()),
        "states": stats.states,
        "transitions": stats.transitions,
        "time_s": round(elapsed, 3),
        "states_per_s": round(stats.states / elapsed) if elapsed > 0 else 0,
        "complete": stats.complete,
    }


def write_json(path: str, rows: list[dict[str, Any]]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    ap.add_argument("--timeout", type=float, default=60.0, metavar="S",
                    help="seconds per row; a row that runs out says complete=false (default 60)")
    ap.add_argument("--json", metavar="PATH", help="write the rows as a JSON list (atomically)")
    args = ap.parse_args(argv)
    source = spec_source()
    rows = []
    header = f"{'case':<10} {'consts':<26} {'states':>9} {'transitions':>12} {'time_s':>8} {'states/s':>9}  complete"
    print(header)
    for pages, gpas, guests in (QUICK if args.quick else FULL):
        row = run_row(source, pages, gpas, guests, args.timeout)
        rows.append(row)
        print(f"{row['case']:<10} {row['consts']:<26} {row['states']:>9} {row['transitions']:>12} "
              f"{row['time_s']:>8.2f} {row['states_per_s']:>9}  {str(row['complete']).lower()}",
              flush=True)
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
