"""Benchmark of the vectorised memory-encryption core (models/encryption.py).

Side by side in one run, per data-unit size (4096 and 64 bytes) and total size (1, 4, 16, 64 MiB;
``--quick``: 256 KiB and 1 MiB):

* ``ecb``  -- raw AES-128-ECB ``update_into`` over the same bytes into a preallocated output
  buffer, one call: the reference of the targets (``ratio_to_ecb``);
* ``xts-raw`` -- for reference, OpenSSL's own XTS kernel (``cryptography`` XTS ``update_into``)
  over the same bytes in 4 MiB data units (OpenSSL caps a unit at 16 MiB), tweak 0: the core
  uses this kernel for its bulk AES, so this is the speed limit of the core's AES pass;
* ``loop`` -- what a user would write: a new ``cryptography`` XTS cipher per unit with that unit's
  tweak (timed on a subset when that would be slow, then extrapolated: the row says so);
* ``core`` -- ``XtsEngine.encrypt(data, addrs, out=buf)`` on all units at scattered (shuffled)
  addresses, one thread, into a preallocated output buffer like the ECB row;
* ``core-alloc`` -- the same without ``out=`` (a new output array per call: its page faults count);
* ``core-Nt`` -- ``XtsEngine(..., threads=N)`` with ``out=`` (``--threads N``, default 2; 1 drops
  the row).  The ECB row stays one single-threaded call.

The timed variants run in interleaved rounds (each round times every variant once) and each row
keeps its best round, so that load from other processes hits all rows alike.  ``--clock wall``
(default) times with ``time.perf_counter``; ``--clock cpu`` with ``time.thread_time`` (CPU time
of the calling thread, page faults included), which on a machine shared with other busy processes
leaves out the time slices the thread spends waiting for a core: a call several times longer
than the ECB call is preempted more often, so best-of wall time is biased against it there.  The
``core-Nt`` row needs wall time (its work runs on other threads) and is left out with ``cpu``.  Columns: MB/s,
ratio_to_ecb, speedup_vs_loop and, for the core rows, peak extra memory during one call on a
fresh engine (tracemalloc, which sees numpy buffers) beyond the input and the output, divided by
the data size.  ``--json PATH`` writes the rows (atomically: temp file + os.replace).
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


def best_time(fn: Callable[[], object], repeat: int, now: Callable[[], float]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = now()
        fn()
        best = min(best, now() - t)
    return best


def peak_extra(fn: Callable[[], np.ndarray], out_bytes: int) -> int:
    """Peak traced allocation during ``fn()`` minus ``out_bytes`` (the output, when ``fn`` makes it)."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    res = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del res
    return max(0, peak - out_bytes)


def run_case(
    unit: int, total: int, repeat: int, rng: np.random.Generator, threads: int, clock: str
) -> list[dict[str, object]]:
    now = time.thread_time if clock == "cpu" else time.perf_counter
    n = total // unit
    key = rng.integers(0, 256, 32, dtype=np.uint8).tobytes()
    data = rng.integers(0, 256, size=(n, unit), dtype=np.uint8)
    addrs = rng.permutation(n * 4)[:n].astype(np.uint64) * np.uint64(unit)

    # per-unit loop with cryptography's XTS (on a subset if large)
    k = min(n, LOOP_BUDGET_UNITS)
    sub = [(bytes(data[i]), (int(addrs[i]) // unit).to_bytes(16, "little")) for i in range(k)]

    def loop() -> None:
        for d, tweak in sub:
            e = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()
            e.update(d)
            e.finalize()

    t_loop = best_time(loop, repeat, now) * (n / k)
    loop_note = "" if k == n else f"timed on {k} of {n} units, extrapolated"

    # memory first: fresh engines, cold scratch
    buf = np.empty((n, unit), dtype=np.uint8)
    buf.fill(0)  # touched: no page faults inside the timed calls, like the ECB output below
    mem = {
        "core": peak_extra(lambda: XtsEngine(key, unit).encrypt(data, addrs, out=buf), 0),
        "core-alloc": peak_extra(lambda: XtsEngine(key, unit).encrypt(data, addrs), total + 16),
    }
    variants: dict[str, Callable[[], object]] = {}
    ecb = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
    flat = data.reshape(-1)
    out = np.empty(total + 16, dtype=np.uint8)
    out.fill(0)
    src, dst = flat.data, out.data
    variants["ecb"] = lambda: ecb.update_into(src, dst)
    xts = Cipher(algorithms.AES(key), modes.XTS(bytes(16))).encryptor()
    pieces = [(a, min(total, a + 4 * MIB)) for a in range(0, total, 4 * MIB)]

    def xts_raw() -> None:
        for a, b in pieces:
            xts.update_into(src[a:b], dst[a : b + 16])

    variants["xts-raw"] = xts_raw
    eng = XtsEngine(key, unit)
    variants["core"] = lambda: eng.encrypt(data, addrs, out=buf)
    variants["core-alloc"] = lambda: eng.encrypt(data, addrs)
    if threads > 1 and clock == "wall":
        name = f"core-{threads}t"
        mem[name] = peak_extra(lambda: XtsEngine(key, unit, threads=threads).encrypt(data, addrs, out=buf), 0)
        eng_t = XtsEngine(key, unit, threads=threads)
        variants[name] = lambda: eng_t.encrypt(data, addrs, out=buf)
    for fn in variants.values():  # warm-up: scratch buffers grown, thread pool started
        fn()
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat * max(1, 16 * MIB // total)):  # more rounds for the short calls
        for name, fn in variants.items():
            t = now()
            fn()
            best[name] = min(best[name], now() - t)
    t_ecb = best["ecb"]

    def row(case: str, t: float, note: str = "", extra: float | None = None) -> dict[str, object]:
        return {
            "case": case,
            "unit_bytes": unit,
            "total_bytes": total,
            "seconds": round(t, 6),
            "mb_s": round(total / t / 1e6, 1),
            "ratio_to_ecb": round(t_ecb / t, 3),
            "speedup_vs_loop": round(t_loop / t, 1),
            "peak_extra_memory_ratio": None if extra is None else round(extra, 3),
            "note": note,
            "clock": clock,
        }

    rows = [row("ecb", t_ecb), row("loop", t_loop, loop_note)]
    rows.append(row("xts-raw", best["xts-raw"], "4 MiB data units, tweak 0 (reference)"))
    rows += [row(name, best[name], extra=mem[name] / total) for name in mem]
    return rows


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
    ap.add_argument(
        "--repeat", type=int, default=9, help="best of this many rounds (x 16 MiB / size; default 9)"
    )
    ap.add_argument("--threads", type=int, default=2, help="threads of the core-Nt row (1: no row)")
    ap.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall time or thread CPU time"
    )
    args = ap.parse_args(argv)
    sizes = [MIB // 4, MIB] if args.quick else [MIB, 4 * MIB, 16 * MIB, 64 * MIB]
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    print(f"{'case':10} {'unit':>5} {'total':>9} {'MB/s':>9} {'x ECB':>6} {'x loop':>7} {'mem':>5}  note")
    for unit in (4096, 64):
        for total in sizes:
            for r in run_case(unit, total, args.repeat, rng, args.threads, args.clock):
                rows.append(r)
                mem = r["peak_extra_memory_ratio"]
                print(
                    f"{r['case']:10} {unit:>5} {total // 1024:>6}KiB {r['mb_s']:>9} "
                    f"{r['ratio_to_ecb']:>6} {r['speedup_vs_loop']:>7} "
                    f"{'' if mem is None else mem:>5}  {r['note']}",
                    flush=True,
                )
    if args.json:
        write_json(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
