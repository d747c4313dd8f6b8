"""Vectorised memory-encryption engines (AES-XTS, SEV-style XEX, none).

What goes in: a key (bytes) per context -- an SEV ASID, a TDX HKID, an MKTME KeyID or a CCA realm
MECID; the model does not care which -- and then many data units at once: ``data`` as a uint8 array
of shape ``(n, unit_bytes)`` (or any flat bytes-like of ``n * unit_bytes`` bytes) together with
``addrs``, a uint64 array of shape ``(n,)`` holding the physical address of the first byte of each
unit.  The addresses may be scattered and in any order.

What comes out: a new uint8 array of shape ``(n, unit_bytes)`` with the ciphertext (``encrypt``)
or plaintext (``decrypt``).

What is guaranteed:

* ``decrypt(encrypt(x, a), a) == x`` for every engine, key and address.
* :class:`XtsEngine` is bit-exact IEEE 1619-2007 XTS-AES (the tests check the standard's vectors
  and equality with ``cryptography``'s own XTS).  The tweak is the IEEE 1619 *data unit sequence
  number* ``i = physical_address // unit_bytes``, encoded as 16 bytes little-endian, so each data
  unit (a 64-byte cache line for TME/MKTME/TDX-style memory, or a 4 KiB page) has its own tweak.
  A 32-byte key is AES-128-XTS (key1 || key2), a 64-byte key AES-256-XTS.  MKTME programs a data
  key and a tweak key per KeyID with PCONFIG [V TDXM mktme.h]; TDX uses AES-XTS-128 [V TDXM README].
* :class:`SevXexEngine` models SEV's address-tweaked AES on 16-byte blocks (domain.md section 4,
  [R] SEVurity, Wilke et al., IEEE S&P 2020; Du et al. 2017): the tweak of a block at physical
  address ``pa`` is linear in the address bits, ``T(pa) = XOR of t_i over the set bits i >= 4 of
  pa`` with per-bit 16-byte constants ``t_i = E_K(0xa5 * 8 || i as 8 bytes LE)``, so ``T(0) = 0``
  and ``T(a ^ b) = T(a) ^ T(b) ^ T(0)``.  Zen2+ (default) is XEX, ``C = E_K(P ^ T) ^ T``; with
  ``zen1=True`` it is the Zen1 form ``C = E_K(P ^ T)``.  A 16-byte key is AES-128, 32 is AES-256.
* :class:`PlainEngine` is the identity (shared pages, C-bit clear, MKTME NO_ENCRYPT).
* Encryption is deterministic per (key, address, plaintext) and has no integrity and no freshness
  (domain.md section 4): replaying old ciphertext at the same address decrypts to the old
  plaintext.  That is the point of these models, not a bug.

How it is fast: AES runs in a few large ECB calls (``update_into`` into reusable buffers) and
everything else is numpy on uint64 lanes in chunks of about 1 MiB.  Block ``j = R*q + r`` of a
unit has the XTS tweak ``E_K2(i) * alpha^(R*q) * alpha^r`` (R = 8, or the whole unit when it
has at most 8 blocks): one ECB call gives ``T0 = E_K2(i)`` for every unit, log steps over q give
the per-unit base (1/R of the blocks, 4 KiB pages only), and each further row r is one doubling
of the previous row (four numpy calls on contiguous (lo, hi) planes; the bit leaving the top
comes back as 0x87).  One 2-D transposing copy puts the tweaks in unit-major order, then
``P ^ T``, ECB in place into the output, ``^ T``.  Scratch buffers are reused across calls and the
extra memory stays around two chunks.  Tiny calls (a cache line or two, as the state-machine
models do) take a pure-Python path with 128-bit ints that avoids numpy's per-call overhead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "BLOCK",
    "Engine",
    "PlainEngine",
    "SevXexEngine",
    "XtsEngine",
    "as_units",
]

BLOCK = 16
_MASK64 = (1 << 64) - 1
_MASK128 = (1 << 128) - 1
_CHUNK_BYTES = 1 << 20  # data processed per inner iteration of a large call
_SMALL_BYTES = 512  # at or below this a call takes the pure-Python path


def as_units(data: Any, unit_bytes: int) -> np.ndarray:
    """Return ``data`` as a C-contiguous uint8 array of shape ``(n, unit_bytes)`` (no copy if possible)."""
    if isinstance(data, np.ndarray):
        arr = data if data.dtype == np.uint8 else data.view(np.uint8)
    else:
        arr = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    if arr.size % unit_bytes:
        raise ValueError(f"data length {arr.size} is not a multiple of the unit ({unit_bytes} bytes)")
    return np.ascontiguousarray(arr.reshape(-1, unit_bytes))


def _as_addrs(addrs: Any, n: int) -> np.ndarray:
    a = np.asarray(addrs, dtype=np.uint64).reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"{a.shape[0]} addresses for {n} units")
    return a


def _ecb(key: bytes) -> tuple[Any, Any]:
    """An (encryptor, decryptor) pair of AES-ECB contexts; ECB keeps no state between updates."""
    c = Cipher(algorithms.AES(key), modes.ECB())
    return c.encryptor(), c.decryptor()


class _Scratch:
    """Grow-only scratch buffers, reused across calls so the hot path does not allocate."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, nbytes: int) -> np.ndarray:
        buf = self._bufs.get(name)
        if buf is None or buf.size < nbytes:
            self._bufs.pop(name, None)  # free the old one first: it must not count twice
            buf = np.empty(nbytes, dtype=np.uint8)
            self._bufs[name] = buf
        return buf[:nbytes]


class Engine:
    """Base class: one key, one data-unit size; encrypts/decrypts many units at many addresses."""

    name = "engine"

    def __init__(self, unit_bytes: int) -> None:
        if unit_bytes <= 0 or unit_bytes % BLOCK:
            raise ValueError(f"unit_bytes must be a positive multiple of {BLOCK}, got {unit_bytes}")
        self.unit_bytes = unit_bytes

    def _check(self, data: Any, addrs: Any) -> tuple[np.ndarray, np.ndarray]:
        units = as_units(data, self.unit_bytes)
        a = _as_addrs(addrs, units.shape[0])
        if a.size and np.any(a % np.uint64(self.unit_bytes)):
            raise ValueError(f"addresses must be multiples of the unit ({self.unit_bytes} bytes)")
        return units, a

    def encrypt(self, data: Any, addrs: Any) -> np.ndarray:
        """Encrypt ``n`` units at physical addresses ``addrs``; returns uint8 ``(n, unit_bytes)``."""
        units, a = self._check(data, addrs)
        return self._run(units, a, encrypt=True)

    def decrypt(self, data: Any, addrs: Any) -> np.ndarray:
        """Decrypt ``n`` units at physical addresses ``addrs``; returns uint8 ``(n, unit_bytes)``."""
        units, a = self._check(data, addrs)
        return self._run(units, a, encrypt=False)

    def _run(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        raise NotImplementedError


class PlainEngine(Engine):
    """No encryption: shared pages (SEV C-bit clear), MKTME KeyID with NO_ENCRYPT [V TDXM mktme.h]."""

    name = "plain"

    def _run(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        return units.copy()


# ---------------------------------------------------------------- GF(2^128) on two uint64 lanes
# The tweak of block j of a data unit is T0 * alpha^j in GF(2^128) (IEEE 1619 section 5.2), a
# 128-bit little-endian value held here as two uint64 lanes (lo, hi).  Multiplying by alpha^s
# shifts the 128 bits left by s and folds the s bits h that leave the top back in as the
# carry-less product h * 0x87 (x^128 = x^7 + x^2 + x + 1).
_SH = {k: np.uint64(k) for k in range(65)}
_X87 = np.uint64(0x87)


def _clmul87(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carry-less ``h * 0x87`` of 64-bit h as (low 64 bits, high 7 bits)."""
    low = h ^ (h << _SH[1]) ^ (h << _SH[2]) ^ (h << _SH[7])
    high = (h >> _SH[63]) ^ (h >> _SH[62]) ^ (h >> _SH[57])
    return low, high


def _mul_alpha_s_into(
    lo: np.ndarray, hi: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, h: np.ndarray, t: np.ndarray, s: int
) -> None:
    """(lo_d, hi_d) = (lo, hi) * alpha^s for 1 <= s <= 56, in place into preallocated arrays.

    A 128-bit shift by s across the two lanes; the s bits h that leave the top come back as
    h * 0x87 carry-less, which stays in the low lane because s + 7 <= 64.  ``h``, ``t``: scratch.
    """
    np.left_shift(lo, _SH[s], out=lo_d)
    np.left_shift(hi, _SH[s], out=hi_d)
    np.right_shift(lo, _SH[64 - s], out=t)
    np.bitwise_or(hi_d, t, out=hi_d)
    np.right_shift(hi, _SH[64 - s], out=h)
    np.bitwise_xor(lo_d, h, out=lo_d)
    for k in (1, 2, 7):
        np.left_shift(h, _SH[k], out=t)
        np.bitwise_xor(lo_d, t, out=lo_d)


def _mul_alpha64_inplace(lo: np.ndarray, hi: np.ndarray, h: np.ndarray, t: np.ndarray) -> None:
    """(lo, hi) *= alpha^64: hi leaves the top and comes back as hi * 0x87 (71 bits) over both lanes."""
    np.left_shift(hi, _SH[1], out=t)
    np.bitwise_xor(t, hi, out=t)
    np.left_shift(hi, _SH[2], out=h)
    np.bitwise_xor(t, h, out=t)
    np.left_shift(hi, _SH[7], out=h)
    np.bitwise_xor(t, h, out=t)  # t = low 64 bits of hi * 0x87
    for k in (63, 62, 57):
        np.right_shift(hi, _SH[k], out=h)
        np.bitwise_xor(lo, h, out=lo)  # lo ^ the 7 high bits: the new hi
    np.copyto(hi, lo)
    np.copyto(lo, t)


def _mul_alpha_k_into(
    lo: np.ndarray, hi: np.ndarray, lo_d: np.ndarray, hi_d: np.ndarray, h: np.ndarray, t: np.ndarray, k: int
) -> None:
    """(lo_d, hi_d) = (lo, hi) * alpha^k for k = 64*a + b with b <= 56 (scratch ``h``, ``t``)."""
    a, b = divmod(k, 64)
    if b > 56:
        raise ValueError(f"alpha^{k}: the remainder mod 64 must be at most 56")
    if b:
        _mul_alpha_s_into(lo, hi, lo_d, hi_d, h, t, b)
    else:
        np.copyto(lo_d, lo)
        np.copyto(hi_d, hi)
    for _ in range(a):
        _mul_alpha64_inplace(lo_d, hi_d, h, t)


_LANE_K = np.array([[1], [0x87]], dtype=np.uint64)


def _double_into(x: np.ndarray, y: np.ndarray, c: np.ndarray) -> None:
    """y = x * alpha for planes ``x = (lo, hi)`` of shape (2, n): four numpy calls.

    Both lanes shift left by one; the bit leaving lo enters hi, and the bit leaving hi comes back
    as 0x87 (one bit times 0x87 is an ordinary product).  ``c``: (2, n) scratch.  Bit 0 of
    ``x << 1`` is zero, so XOR adds the carries.
    """
    np.left_shift(x, _SH[1], out=y)
    np.right_shift(x, _SH[63], out=c)
    np.multiply(c, _LANE_K, out=c)
    np.bitwise_xor(y, c[::-1], out=y)


def _row_split(blocks: int) -> int:
    """Rows R of the tweak layout: block j = R*q + r, rows r computed by doubling."""
    if blocks <= 8:
        return blocks
    if blocks % 8 == 0:
        return 8
    return blocks  # an odd unit of at most 64 blocks: one doubling per block


class XtsEngine(Engine):
    """IEEE 1619 XTS-AES with the data unit sequence number ``addr // unit_bytes`` as tweak.

    ``key`` is key1 || key2: 32 bytes for AES-128-XTS (TME/MKTME/TDX default [V TDXM README]) or
    64 bytes for AES-256-XTS (SNP policy MEM_AES_256_XTS, later MKTME parts [V L/psp]).
    ``unit_bytes`` is the data unit: 64 (cache line) or 4096 (page) in the memory model; any
    multiple of 16 is accepted (the IEEE vectors use 32 and 512).
    """

    name = "xts"

    def __init__(self, key: bytes, unit_bytes: int = 64) -> None:
        super().__init__(unit_bytes)
        if len(key) not in (32, 64):
            raise ValueError(f"XTS key must be 32 (AES-128) or 64 (AES-256) bytes, got {len(key)}")
        half = len(key) // 2
        self.key = bytes(key)
        self._enc1, self._dec1 = _ecb(key[:half])
        self._enc2, _ = _ecb(key[half:])
        self._blocks = unit_bytes // BLOCK
        if self._blocks > 64 and self._blocks % 64:
            raise ValueError("XTS unit_bytes must be <= 1024 or a multiple of 1024")
        self._rows = _row_split(self._blocks)
        self._scratch = _Scratch()

    # -- sector-level API (the IEEE vectors are stated with sector numbers) --------------------
    def encrypt_sectors(self, data: Any, sectors: Any) -> np.ndarray:
        """Encrypt units whose data unit sequence numbers are ``sectors`` (uint64)."""
        units = as_units(data, self.unit_bytes)
        return self._run_sectors(units, _as_addrs(sectors, units.shape[0]), encrypt=True)

    def decrypt_sectors(self, data: Any, sectors: Any) -> np.ndarray:
        """Decrypt units whose data unit sequence numbers are ``sectors`` (uint64)."""
        units = as_units(data, self.unit_bytes)
        return self._run_sectors(units, _as_addrs(sectors, units.shape[0]), encrypt=False)

    def _run(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        return self._run_sectors(units, addrs, encrypt=encrypt, divisor=self.unit_bytes)

    def _run_sectors(
        self, units: np.ndarray, sectors: np.ndarray, *, encrypt: bool, divisor: int = 1
    ) -> np.ndarray:
        """Encrypt/decrypt units with data unit numbers ``sectors // divisor``."""
        n, ub = units.shape
        if n * ub <= _SMALL_BYTES:
            return self._run_small(units, sectors // np.uint64(divisor), encrypt=encrypt)
        # chunks of ~_CHUNK_BYTES, or half the input when smaller, so that the scratch of one
        # chunk (row planes + unit-major tweaks) stays at or below the data size
        per_chunk = max(1, min(_CHUNK_BYTES, n * ub // 2) // ub)
        q_len = self._blocks // self._rows
        base = self._base(sectors, divisor, q_len) if q_len > 1 else None
        # the output buffer has one spare block: update_into wants len(out) >= len(in) + 15
        out_flat = np.empty(n * ub + BLOCK, dtype=np.uint8)
        out = out_flat[: n * ub].reshape(n, ub)
        aes = self._enc1 if encrypt else self._dec1
        for start in range(0, n, per_chunk):
            stop = min(n, start + per_chunk)
            tw = self._tweaks(sectors, divisor, start, stop, base)
            dst = out_flat[start * ub : stop * ub + BLOCK]
            body = dst[:-BLOCK].view(np.uint64)
            np.bitwise_xor(units[start:stop].reshape(-1).view(np.uint64), tw, out=body)
            aes.update_into(dst[:-BLOCK], dst)  # in place: ECB reads each block before writing it
            np.bitwise_xor(body, tw, out=body)
        return out

    @staticmethod
    def _unit_numbers(sectors: np.ndarray, divisor: int, out: np.ndarray | None = None) -> np.ndarray:
        """``sectors // divisor`` (a shift when the divisor is a power of two)."""
        if divisor & (divisor - 1) == 0:
            return np.right_shift(sectors, _SH[divisor.bit_length() - 1], out=out)
        return np.floor_divide(sectors, np.uint64(divisor), out=out)

    def _t0(self, sectors: np.ndarray, divisor: int, sec: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``T0 = E_K2(sectors[u] // divisor as 16 bytes LE)``: uint64 ``(m, 2)`` in flat ``out`` (+1 block).

        ``sec`` is uint64 scratch of ``2*m`` words for the ECB input.
        """
        m = sectors.shape[0]
        sec2 = sec[: 2 * m].reshape(m, 2)
        self._unit_numbers(sectors, divisor, out=sec2[:, 0])
        sec2[:, 1] = 0
        self._enc2.update_into(sec2.view(np.uint8).reshape(-1), out[: 2 * m + 2].view(np.uint8))
        return out[: 2 * m].reshape(m, 2)

    def _tweaks(
        self, sectors: np.ndarray, divisor: int, start: int, stop: int, base: np.ndarray | None
    ) -> np.ndarray:
        """Tweaks of units ``start:stop``: uint64 ``(m * blocks * 2,)`` in unit-major order.

        Block ``j = R*q + r`` of unit u has tweak ``T0[u] * alpha^(R*q) * alpha^r``.  Row 0
        (``T0 * alpha^(R*q)``, from ``base`` when Q > 1) is laid out as two planes (lo, hi) of
        ``m*Q`` values; rows 1..R-1 follow by one doubling each (seven numpy calls on contiguous
        planes).  One 2-D transposing copy of uint64 turns the ``(R, 2, m*Q)`` planes into
        unit-major ``(m*Q, R, 2)`` blocks.
        """
        m = stop - start
        sc = self._scratch
        r_len = self._rows
        q_len = self._blocks // r_len
        nq = m * q_len
        words = 2 * r_len * nq
        tw = sc.get("tweaks", 8 * words + BLOCK).view(np.uint64)
        planes = sc.get("planes", 8 * words).view(np.uint64).reshape(r_len, 2, nq)
        if base is None:
            # ECB input in the last row of the planes, output in the tweak buffer: both free here
            t0 = self._t0(sectors[start:stop], divisor, planes[-1].reshape(-1), tw)
            np.copyto(planes[0, 0], t0[:, 0])
            np.copyto(planes[0, 1], t0[:, 1])
        else:  # row 0 from the base planes (2, Q, n): units start:stop, reordered to u*Q + q
            np.copyto(planes[0].reshape(2, m, q_len), base[:, :, start:stop].transpose(0, 2, 1))
        c = tw[: 2 * nq].reshape(2, nq)  # carries: the tweak buffer is free until the transpose
        for r in range(1, r_len):
            _double_into(planes[r - 1], planes[r], c)
        out = tw[:words]
        np.copyto(out.reshape(nq, 2 * r_len), planes.reshape(2 * r_len, nq).T)
        return out

    def _base(self, sectors: np.ndarray, divisor: int, q_len: int) -> np.ndarray:
        """``T0[u] * alpha^(R*q)`` for all units of the call: uint64 planes ``(2, Q, n)`` (lo, hi).

        Log steps over q (rows ``[s, 2s)`` are rows ``[0, s)`` times ``alpha^(R*s)``) with in-place
        numpy calls on reused buffers; this is 1/R of the tweak work.
        """
        n = sectors.shape[0]
        sc = self._scratch
        base = sc.get("base", 16 * q_len * n).view(np.uint64).reshape(2, q_len, n)
        lo, hi = base[0], base[1]
        t0 = self._t0(sectors, divisor, sc.get("base_sec", 16 * n).view(np.uint64), np.empty(2 * n + 2, np.uint64))
        np.copyto(lo[0], t0[:, 0])
        np.copyto(hi[0], t0[:, 1])
        half = (q_len + 1) // 2
        # scratch: the chunk planes buffer, free until the chunk loop starts
        tmp = sc.get("planes", 16 * half * n).view(np.uint64)[: 2 * half * n].reshape(2, half, n)
        s = 1
        while s < q_len:
            w = min(s, q_len - s)
            _mul_alpha_k_into(lo[:w], hi[:w], lo[s : s + w], hi[s : s + w], tmp[0, :w], tmp[1, :w], self._rows * s)
            s *= 2
        return base

    def _run_small(self, units: np.ndarray, sectors: np.ndarray, *, encrypt: bool) -> np.ndarray:
        """Same result as the vectorised path, with Python ints (cheap for a line or two)."""
        n, ub = units.shape
        blocks = self._blocks
        sec_bytes = b"".join(int(s).to_bytes(BLOCK, "little") for s in sectors)
        t0s = self._enc2.update(sec_bytes)
        tweak = 0
        shift = 0
        for u in range(n):
            t = int.from_bytes(t0s[u * BLOCK : (u + 1) * BLOCK], "little")
            for _ in range(blocks):
                tweak |= t << shift
                shift += 128
                t <<= 1
                if t >> 128:
                    t = (t & _MASK128) ^ 0x87
        size = n * ub
        x = int.from_bytes(units.tobytes(), "little") ^ tweak
        aes = self._enc1 if encrypt else self._dec1
        y = int.from_bytes(aes.update(x.to_bytes(size, "little")), "little") ^ tweak
        return np.frombuffer(y.to_bytes(size, "little"), dtype=np.uint8).reshape(n, ub).copy()


class SevXexEngine(Engine):
    """SEV-style AES with a linear physical-address tweak on 16-byte blocks.

    [R] domain.md section 4 / SEVurity (Wilke et al., IEEE S&P 2020): Zen1 used
    ``C = E_K(P ^ T(pa))``; Zen2+ uses XEX ``C = E_K(P ^ T(pa)) ^ T(pa)``.  ``T`` is the XOR of
    per-bit constants for the address bits 4..``addr_bits``-1 (bits 0..3 address a byte inside the
    block).  ``unit_bytes`` only sets how ``data`` is grouped; each 16-byte block at address
    ``addr + 16*j`` gets its own tweak.
    """

    name = "sev-xex"

    def __init__(
        self, key: bytes, unit_bytes: int = BLOCK, *, zen1: bool = False, addr_bits: int = 52
    ) -> None:
        super().__init__(unit_bytes)
        if len(key) not in (16, 32):
            raise ValueError(f"SEV key must be 16 (AES-128) or 32 (AES-256) bytes, got {len(key)}")
        if not 5 <= addr_bits <= 64:
            raise ValueError("addr_bits must be in 5..64")
        self.key = bytes(key)
        self.zen1 = zen1
        self.addr_bits = addr_bits
        self._enc, self._dec = _ecb(key)
        consts = b"".join(b"\xa5" * 8 + i.to_bytes(8, "little") for i in range(addr_bits))
        self.bit_constants = np.frombuffer(self._enc.update(consts), dtype=np.uint64).reshape(-1, 2).copy()
        self.bit_constants[:4] = 0  # bits 0..3 select the byte in the block: no tweak
        # byte tables: table[k][b] = XOR of t_(8k+i) for the set bits i of b (T is linear)
        nbytes = (addr_bits + 7) // 8
        tables = np.zeros((nbytes, 256, 2), dtype=np.uint64)
        values = np.arange(256)
        for bit in range(addr_bits):
            k, i = divmod(bit, 8)
            sel = ((values >> i) & 1).astype(bool)
            tables[k, sel] ^= self.bit_constants[bit]
        self._tables = tables
        self._byte_ints = [
            [int.from_bytes(tables[k, b].tobytes(), "little") for b in range(256)]
            for k in range(nbytes)
        ]

    def _tweak_int(self, pa: int) -> int:
        """``T(pa)`` as a 128-bit int (little-endian block), for the small-call path."""
        pa &= (1 << self.addr_bits) - 1
        t = 0
        for table in self._byte_ints:
            t ^= table[pa & 0xFF]
            pa >>= 8
        return t

    def tweak(self, pas: Any) -> np.ndarray:
        """``T(pa)`` for each block address (uint64 array) as uint8 ``(n, 16)``; linear in ``pa``."""
        pa = np.asarray(pas, dtype=np.uint64).reshape(-1)
        pa = pa & np.uint64((1 << self.addr_bits) - 1) if self.addr_bits < 64 else pa
        out = np.zeros((pa.shape[0], 2), dtype=np.uint64)
        for k in range(self._tables.shape[0]):
            idx = ((pa >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.intp)
            out ^= self._tables[k][idx]
        return out.view(np.uint8).reshape(-1, BLOCK)

    def _run(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        n, ub = units.shape
        blocks = ub // BLOCK
        if n * ub <= _SMALL_BYTES:
            return self._run_small(units, addrs, encrypt=encrypt)
        offs = np.arange(blocks, dtype=np.uint64) * np.uint64(BLOCK)
        pas = (addrs[:, None] + offs[None, :]).reshape(-1)
        t = self.tweak(pas).reshape(-1).view(np.uint64)
        x = units.reshape(-1).view(np.uint64)
        buf = np.empty(n * ub + BLOCK, dtype=np.uint8)
        body = buf[: n * ub].view(np.uint64)
        if encrypt:
            np.bitwise_xor(x, t, out=body)
            self._enc.update_into(buf[: n * ub], buf)
            if not self.zen1:
                body ^= t
        else:
            np.copyto(body, x)
            if not self.zen1:
                body ^= t
            self._dec.update_into(buf[: n * ub], buf)
            body ^= t
        return buf[: n * ub].reshape(n, ub)

    def _run_small(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        """Same result as the vectorised path, with Python ints (cheap for a line or two)."""
        n, ub = units.shape
        tweak = 0
        shift = 0
        for a in addrs.tolist():
            for j in range(ub // BLOCK):
                tweak |= self._tweak_int(a + BLOCK * j) << shift
                shift += 128
        size = n * ub
        x = int.from_bytes(units.tobytes(), "little")
        if encrypt:
            y = int.from_bytes(self._enc.update((x ^ tweak).to_bytes(size, "little")), "little")
            if not self.zen1:
                y ^= tweak
        else:
            if not self.zen1:
                x ^= tweak
            y = int.from_bytes(self._dec.update(x.to_bytes(size, "little")), "little") ^ tweak
        return np.frombuffer(y.to_bytes(size, "little"), dtype=np.uint8).reshape(n, ub).copy()
