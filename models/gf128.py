"""GF(2^128) arithmetic for XTS tweaks: multiplication by powers of alpha (IEEE 1619 section 5.2).

What goes in: 128-bit field elements, little-endian as in IEEE 1619, either as numpy uint64 lane
arrays ``lo`` (bits 0..63) and ``hi`` (bits 64..127) of equal shape, or as Python ints.

What comes out: the products by ``alpha^k``.  The numpy functions write into preallocated
destination and scratch arrays (no allocation on the hot path) and return nothing;
:func:`times_alpha` returns an int.

What is guaranteed: bit-exact with IEEE 1619's multiplication by alpha (shift left by one, the bit
leaving the top folded back as 0x87, since x^128 = x^7 + x^2 + x + 1), applied k times;
:func:`mul_alpha_k_into` supports 0 <= k <= 56 and k == 64 and raises ``ValueError`` for any other
k.  Destination arrays must not overlap the sources.  Numpy and Python ints only; imports nothing
from ``models``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MASK128",
    "SH",
    "double_into",
    "double_lanes_into",
    "mul_alpha64_into",
    "mul_alpha_k_into",
    "mul_alpha_s_into",
    "times_alpha",
]

MASK128 = (1 << 128) - 1

# ---------------------------------------------------------------- GF(2^128) on two uint64 lanes
# The tweak of block j of a data unit is T0 * alpha^j in GF(2^128) (IEEE 1619 section 5.2), a
# 128-bit little-endian value held here as two uint64 lanes (lo, hi).  Multiplying by alpha^s
# shifts the 128 bits left by s and folds the s bits h that leave the top back in as the
# carry-less product h * 0x87 (x^128 = x^7 + x^2 + x + 1).
SH = {k: np.uint64(k) for k in range(65)}  # shift counts as uint64 (numpy shifts want the lanes' dtype)
_X87 = np.uint64(0x87)


def mul_alpha_s_into(
    lo: np.ndarray, hi: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, h: np.ndarray, t: np.ndarray, s: int
) -> None:
    """(lo_d, hi_d) = (lo, hi) * alpha^s for 1 <= s <= 56, in place into preallocated arrays.

    A 128-bit shift by s across the two lanes; the s bits h that leave the top come back as
    h * 0x87 carry-less, which stays in the low lane because s + 7 <= 64.  ``h``, ``t``: scratch.
    """
    np.left_shift(lo, SH[s], out=lo_d)
    np.left_shift(hi, SH[s], out=hi_d)
    np.right_shift(lo, SH[64 - s], out=t)
    np.bitwise_or(hi_d, t, out=hi_d)
    np.right_shift(hi, SH[64 - s], out=h)
    np.bitwise_xor(lo_d, h, out=lo_d)
    for k in (1, 2, 7):
        np.left_shift(h, SH[k], out=t)
        np.bitwise_xor(lo_d, t, out=lo_d)


def mul_alpha64_into(
    lo: np.ndarray, hi: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, t: np.ndarray
) -> None:
    """(lo_d, hi_d) = (lo, hi) * alpha^64 into other arrays: the new hi is lo ^ (7 high bits of
    hi * 0x87), the new lo is the low 64 bits of hi * 0x87 (carry-less; ``t`` scratch)."""
    np.left_shift(hi, SH[1], out=lo_d)
    np.bitwise_xor(lo_d, hi, out=lo_d)
    for k in (2, 7):
        np.left_shift(hi, SH[k], out=t)
        np.bitwise_xor(lo_d, t, out=lo_d)
    np.right_shift(hi, SH[63], out=hi_d)
    np.bitwise_xor(hi_d, lo, out=hi_d)
    for k in (62, 57):
        np.right_shift(hi, SH[k], out=t)
        np.bitwise_xor(hi_d, t, out=hi_d)


def mul_alpha_k_into(
    lo: np.ndarray, hi: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, h: np.ndarray, t: np.ndarray, k: int
) -> None:
    """(lo_d, hi_d) = (lo, hi) * alpha^k for k <= 56 or k == 64 (scratch ``h``, ``t``)."""
    if k == 64:
        mul_alpha64_into(lo, hi, lo_d, hi_d, t)
    elif 0 < k <= 56:
        mul_alpha_s_into(lo, hi, lo_d, hi_d, h, t, k)
    elif k == 0:
        np.copyto(lo_d, lo)
        np.copyto(hi_d, hi)
    else:
        raise ValueError(f"alpha^{k}: only shifts of at most 56 bits, or 64, are supported")


def double_into(x: np.ndarray, y: np.ndarray) -> None:
    """y = x * alpha for planes ``x``, lanes (lo, hi) on axis -2: shape (..., 2, n); no scratch.

    Both lanes shift left by one; the bit leaving hi comes back as 0x87 (one bit times 0x87 is
    an ordinary product) and the bit leaving lo enters hi.  The hi plane of ``y`` first holds the
    folded carry of lo; the new hi is ``carry + 2 * hi`` (bit 0 of ``2 * hi`` is zero, so the sum
    is an OR).  Seven numpy calls, no scratch array; ``y`` must not overlap ``x``.
    """
    x_lo, x_hi = x[..., 0, :], x[..., 1, :]
    y_lo, y_hi = y[..., 0, :], y[..., 1, :]
    np.right_shift(x_hi, SH[63], out=y_hi)
    np.multiply(y_hi, _X87, out=y_hi)
    np.left_shift(x_lo, SH[1], out=y_lo)
    np.bitwise_xor(y_lo, y_hi, out=y_lo)
    np.right_shift(x_lo, SH[63], out=y_hi)
    np.add(y_hi, x_hi, out=y_hi)
    np.add(y_hi, x_hi, out=y_hi)


def double_lanes_into(x: np.ndarray, y: np.ndarray, c: np.ndarray) -> None:
    """y = x * alpha like :func:`double_into`, in four numpy calls with scratch ``c`` (x's shape).

    ``x``, ``y``, ``c``: shape (..., 2, n), lanes (lo, hi) on axis -2.  Both lanes shift
    together (``y = x << 1``, ``c = x >> 63``); the bit leaving hi becomes 0x87 and then each
    lane takes the other lane's carry (``y ^= c`` with the lanes of ``c`` swapped, a view; bit 0
    of ``y`` is zero, so XOR is the OR of the carry).  Fewer, larger calls than
    :func:`double_into` for the same element work; ``y`` and ``c`` must not overlap ``x``.
    """
    np.left_shift(x, SH[1], out=y)
    np.right_shift(x, SH[63], out=c)
    c_hi = c[..., 1, :]
    np.multiply(c_hi, _X87, out=c_hi)
    np.bitwise_xor(y, c[..., ::-1, :], out=y)


def times_alpha(t: int, k: int) -> int:
    """``t * alpha^k`` for a 128-bit int ``t`` (8 bits at a time, the bits leaving the top folded)."""
    while k:
        s = min(k, 8)
        t = ((t << s) & MASK128) ^ _FOLD8[t >> (128 - s)]
        k -= s
    return t


# carry-less h * 0x87 for a byte h: what 8 bits leaving the top of a tweak come back as
_FOLD8 = [h ^ (h << 1) ^ (h << 2) ^ (h << 7) for h in range(256)]
