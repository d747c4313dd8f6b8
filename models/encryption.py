"""Vectorised memory-encryption engines (AES-XTS, SEV-style XEX, none): the public entry point.

What goes in: a key (bytes) per context -- an SEV ASID, a TDX HKID, an MKTME KeyID or a CCA realm
MECID; the model does not care which -- and then many data units at once: ``data`` as a uint8 array
of shape ``(n, unit_bytes)`` (or any flat bytes-like of ``n * unit_bytes`` bytes) together with
``addrs``, a uint64 array of shape ``(n,)`` holding the physical address of the first byte of each
unit.  The addresses may be scattered and in any order.

What comes out: a uint8 array of shape ``(n, unit_bytes)`` with the ciphertext (``encrypt``) or
plaintext (``decrypt``): a new array, or a view of the caller's ``out=`` buffer (a C-contiguous
uint8 array of ``n * unit_bytes`` bytes, which may be ``data`` itself for in-place work).

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

Where things are: this module holds :class:`PlainEngine` and :class:`SevXexEngine` and re-exports
the rest of the public API, so ``from models.encryption import ...`` is all a user needs.
:class:`XtsEngine` and how it is fast (OpenSSL's XTS kernel with derived tweak offsets, tweaks by
doubling in numpy, chunks, threads) are in :mod:`models.xts`; its GF(2^128) tweak arithmetic in
:mod:`models.gf128`; the :class:`Engine` base class with the argument checks and buffer helpers
every engine shares in :mod:`models.engine_base`.

The SEV and plain engines compute into a new array and copy it into ``out=``.  Tiny SEV calls (a
cache line or two, as the state-machine models do) take a pure-Python path with 128-bit ints and
ECB that avoids numpy's per-call overhead; larger ones look the tweak up per address byte in
numpy tables and run ECB ``update_into`` in pieces of 256 KiB into a scratch buffer kept by the
engine (``update_into`` never gets overlapping buffers: cryptography 51 refuses them), whose
output is XORed with the tweak (or copied, Zen1 encryption) into the result.  An engine runs one
call at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.engine_base import BLOCK, SMALL_BYTES, Engine, Scratch, as_units, deliver, ecb
from models.xts import XtsEngine

_PIECE_BYTES = 1 << 18  # SEV vector path: data per ECB call into the reused scratch

__all__ = [
    "BLOCK",
    "Engine",
    "PlainEngine",
    "SevXexEngine",
    "XtsEngine",
    "as_units",
]


class PlainEngine(Engine):
    """No encryption: shared pages (SEV C-bit clear), MKTME KeyID with NO_ENCRYPT [V TDXM mktme.h]."""

    name = "plain"

    def _run(
        self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None:
            return units.copy()
        np.copyto(out, units)
        return out


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
        self._enc, self._dec = ecb(key)
        self._scratch = Scratch()  # the ECB output of one piece (vector path)
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

    def _run(
        self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        n, ub = units.shape
        if n * ub <= SMALL_BYTES:
            return deliver(self._run_small(units, addrs, encrypt=encrypt), out)
        return deliver(self._run_vector(units, addrs, encrypt=encrypt), out)

    def _run_vector(self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool) -> np.ndarray:
        """The numpy path: tweaks from the byte tables, ECB piece by piece; a new ``(n, ub)`` array.

        Each piece of the ECB input (``P ^ T`` or ``P``; ``C ^ T`` or ``C``) goes through
        ``update_into`` into the engine's scratch, never in place, and comes back XORed with
        ``T`` (or copied, Zen1 encryption) into the result.
        """
        n, ub = units.shape
        blocks = ub // BLOCK
        offs = np.arange(blocks, dtype=np.uint64) * np.uint64(BLOCK)
        pas = (addrs[:, None] + offs[None, :]).reshape(-1)
        t = self.tweak(pas).reshape(-1).view(np.uint64)
        x = units.reshape(-1).view(np.uint64)
        res = np.empty(n * ub, dtype=np.uint8)
        body = res.view(np.uint64)
        if encrypt or not self.zen1:  # the ECB input: P ^ T (encrypt), C ^ T (Zen2+ decrypt)
            np.bitwise_xor(x, t, out=body)
            src = body
        else:  # Zen1 decrypt: C itself
            src = x
        aes = self._enc if encrypt else self._dec
        step = min(_PIECE_BYTES, n * ub) // BLOCK * 2  # uint64 words per ECB call, whole blocks
        y = self._scratch.get("ecb", 8 * step + BLOCK).view(np.uint64)
        for k in range(0, body.size, step):
            e = min(k + step, body.size)
            aes.update_into(src[k:e].view(np.uint8), y[: e - k + 2].view(np.uint8))
            if encrypt and self.zen1:  # Zen1: C = E_K(P ^ T)
                np.copyto(body[k:e], y[: e - k])
            else:  # XEX: C = E_K(P ^ T) ^ T; decrypt: P = D_K(...) ^ T
                np.bitwise_xor(y[: e - k], t[k:e], out=body[k:e])
        return res.reshape(n, ub)

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
