"""Benchmark of the vectorised memory-encryption core (models/encryption.py).

Side by side in one run, per data-unit size (4096 and 64 bytes) and total size (1, 4, 16, 64 MiB;
``--quick``: 256 KiB and 1 MiB):

* ``ecb``  -- raw AES-128-ECB ``update_into`` over the same bytes: the limit for any XTS built on it;
* ``loop`` -- what a user would write: a new ``cryptography`` XTS cipher per unit with that unit's
  tweak (timed on a subset when that would be slow, then extrapolated: the row says so);
* ``core`` -- ``XtsEngine.encrypt`` on all units at scattered (shuffled) addresses.

Columns: MB/s, ratio_to_ecb, speedup_vs_loop and, for the core, peak extra memory during one call
on a fresh engine (tracemalloc, which sees numpy buffers) minus the output array, divided by the
data size.  ``--json PATH`` writes the rows (atomically: temp file + os.replace).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.encryption import XtsEngine  # noqa: E402

MIB = 1 << 20
LOOP_BUDGET_UNITS = 4000  # the per-unit loop runs on at most this many units, then extrapolates


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_case(unit: int, total: int, repeat: int, rng: np.random.Generator) -> list[dict[str, object]]:
    n = total // unit
    key = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    data = rng.integers(0, 256, size=(n, unit), dtype=np.uint8)
    addrs = rng.permutation(n * 4)[:n].astype(np.uint64) * np.uint64(unit)

    # raw ECB on the same bytes (the limit)
    ecb = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
    flat = data.reshape(-1)
    out = np.empty(total + 16, dtype=np.uint8)
    src, dst = flat.data, out.data
    t_ecb = best_time(lambda: ecb.update_into(src, dst), repeat)

    # per-unit loop with cryptography's XTS (on a subset if large)
    k = min(n, LOOP_BUDGET_UNITS)
    sub = [(bytes(data[i]), (int(addrs[i]) // unit).to_bytes(16, "little")) for i in range(k)]

    def loop() -> None:
        for d, tweak in sub:
            e = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
            e.update(d)
            e.finalize()

    t_loop = best_time(loop, repeat) * (n / k)
    loop_note = "" if k == n else f"timed on {k} of {n} units, extrapolated"

    # the core: memory first (fresh engine, cold scratch), then time on a warm engine
    eng = XtsEngine(key, unit)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    res = eng.encrypt(data, addrs)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    out_bytes = res.base.nbytes if res.base is not None else res.nbytes
    extra = max(0, peak - out_bytes) / total
    del res
    t_core = best_time(lambda: eng.encrypt(data, addrs), repeat)

    def row(case: str, t: float, note: str = "", mem: float | None = None) -> dict[str, object]:
        return {
            "case": case,
            "unit_bytes": unit,
            "total_bytes": total,
            "seconds": round(t, 6),
            "mb_s": round(total / t / 1e6, 1),
            "ratio_to_ecb": round(t_ecb / t, 3),
            "speedup_vs_loop": round(t_loop / t, 1),
            "peak_extra_memory_ratio": None if mem is None else round(mem, 3),
            "note": note,
        }

    return [row("ecb", t_ecb), row("loop", t_loop, loop_note), row("core", t_core, mem=extra)]


def write_json(path: str, rows: list[dict[str, object]]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmp, target)


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only (256 KiB, 1 MiB)")
    ap.add_argument("--json", metavar="PATH", help="write the rows as a JSON list")
    ap.add_argument("--repeat", type=int, default=5, help="best of this many runs (default 5)")
    args = ap.parse_args(argv)
    sizes = [MIB // 4, MIB] if args.quick else [MIB, 4 * MIB, 16 * MIB, 64 * MIB]
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    print(f"{'case':5} {'unit':>5} {'total':>9} {'MB/s':>9} {'x ECB':>6} {'x loop':>7} {'mem':>5}  note")
    for unit in (4096, 64):
        for total in sizes:
            for r in run_case(unit, total, args.repeat, rng):
                rows.append(r)
                mem = r["peak_extra_memory_ratio"]
                print(
                    f"{r['case']:5} {unit:>5} {total // 1024:>6}KiB {r['mb_s']:>9} "
                    f"{r['ratio_to_ecb']:>6} {r['speedup_vs_loop']:>7} "
                    f"{'' if mem is None else mem:>5}  {r['note']}",
                    flush=True,
                )
    if args.json:
        write_json(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
