"""bounds.py: the integer width of the bit-vector encoding, and that it never wraps.

The z3 engines encode every integer as a bit-vector of `int_width(spec)` bits (z3's
finite-domain SAT solver), where interp.py computes with Python ints. These tests pin the
width on arithmetic that leaves the state's ranges far behind, and check that BMC and
induction on such specs give the explicit checker's verdicts (a width from the ranges
alone would wrap around and get them wrong); beyond 62 bits the encoding falls back to
unbounded Ints, with the same verdicts.
"""

from __future__ import annotations

import pytest

from checker.bounds import MAX_WIDTH, int_width
from checker.encode_step import StepEncoding
from checker.ir import Spec
from checker.pipeline import RunOptions, load_text, run
from checker.result import Verdict
from checker.source import SourceFile

# x * K * K reaches 7 * 10^10 (37 bits) while x itself needs 4 bits.
WIDE = """
spec wide "products far outside the state's ranges"
const K = 100000
var x: 0 .. 7
init { x = 0 }
action bump() { require x < 7 else FULL; x = x + 1 }
invariant fits: x * K * K <= 7 * K * K
invariant below_five: x * K * K - 4 * K * K < 1
cover six: (count i: 0 .. 7. i * K * K < x * K * K) * K == 6 * K
"""

# 7 * 10^20 needs 70 bits: no bit-vector width is allowed, Ints are used.
HUGE = WIDE.replace("const K = 100000", "const K = 10000000000")

NEGATIVE = """
spec neg "negative intermediate values"
var x: 0 .. 3
init { x = 3 }
action down() { require x > 0; x = x - 1 }
invariant pos: 0 - x * 50 >= -150
invariant never_zero: -(x * 40) != 0
"""


def _load(text: str) -> Spec:
    return load_text(SourceFile("inline.tee", text))


def test_width_covers_the_products_not_just_the_ranges() -> None:
    w = int_width(_load(WIDE))
    assert w is not None and 2 ** (w - 1) > 7 * 10**10 and w <= 40


def test_width_is_none_beyond_the_maximum() -> None:
    assert int_width(_load(HUGE)) is None
    assert StepEncoding(_load(HUGE)).logic is None  # Ints, the arithmetic solver


def test_width_counts_negative_values() -> None:
    w = int_width(_load(NEGATIVE))
    assert w is not None and -(2 ** (w - 1)) <= -150 and w <= MAX_WIDTH


@pytest.mark.parametrize("text", [WIDE, HUGE, NEGATIVE], ids=["wide", "huge", "negative"])
@pytest.mark.parametrize("engine", ["bmc", "induction"])
def test_z3_verdicts_equal_the_explicit_ones(text: str, engine: str) -> None:
    spec = _load(text)
    explicit = {r.prop: (r.verdict, r.depth) for r in run(spec, RunOptions(engine="explicit", vacuity=False)).results}
    z3 = {r.prop: (r.verdict, r.depth) for r in run(spec, RunOptions(engine=engine, depth=10, vacuity=False)).results}
    for prop, (verdict, depth) in explicit.items():
        got_verdict, got_depth = z3[prop]
        if verdict is Verdict.PROVED:  # explicit: exhaustive; bmc: bounded; induction: proved
            assert got_verdict in (Verdict.PROVED, Verdict.HOLDS_TO_DEPTH), (prop, z3[prop])
        else:
            assert (got_verdict, got_depth) == (verdict, depth), (prop, z3[prop], explicit[prop])
    if text is not NEGATIVE:
        assert explicit["below_five"] == (Verdict.VIOLATED, 5)
        assert explicit["six"] == (Verdict.REACHABLE, 6)
