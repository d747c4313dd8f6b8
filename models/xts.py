"""The vectorised AES-XTS engine (IEEE 1619) of the memory-encryption core: :class:`XtsEngine`.

What goes in: a key, key1 || key2 (32 bytes for AES-128-XTS, 64 for AES-256-XTS), a data-unit
size (64 for a cache line, 4096 for a page; any multiple of 16 up to 1024, or a multiple of 1024
up to 4 MiB), optionally ``threads``; then, per call, many units at once as for every
:class:`models.engine_base.Engine`: ``data`` ``(n, unit_bytes)`` uint8 (or flat bytes) with
``addrs`` (uint64 physical addresses, multiples of the unit, scattered, any order), or with
``sectors`` (data unit sequence numbers) for :meth:`XtsEngine.encrypt_sectors` /
:meth:`XtsEngine.decrypt_sectors`, and optionally ``out=`` (may be ``data`` itself).

What comes out: a uint8 ``(n, unit_bytes)`` array with the ciphertext or plaintext, new or a view
of ``out``.

What is guaranteed: bit-exact IEEE 1619-2007 XTS-AES (the tests check the standard's vectors and
equality with ``cryptography``'s own XTS).  The tweak is the *data unit sequence number*
``i = physical_address // unit_bytes``, 16 bytes little-endian, so each data unit has its own
tweak.  MKTME programs a data key and a tweak key per KeyID with PCONFIG [V TDXM mktme.h]; TDX
uses AES-XTS-128 [V TDXM README].  ``decrypt(encrypt(x, a), a) == x``; the result does not depend
on the path taken (small, chunked, threaded).  An engine runs one call at a time (it reuses its
scratch).

How it is fast: AES runs in a few large ``update_into`` calls of ``cryptography`` and everything
else is numpy on uint64 lanes, in chunks and, within a chunk, pieces (one OpenSSL call each) that
stay in L2 through their passes.  Block ``j = R*q + r`` of a unit has the XTS tweak
``T[u, j] = E_K2(i) * alpha^(R*q) * alpha^r`` (R = 8, or the whole unit when it has at most 8
blocks): one AES call per chunk gives ``T0 = E_K2(i)`` for its units; for 4 KiB pages the
per-unit base ``T0 * alpha^(R*q)`` (1/R of the blocks) comes per chunk from log steps and then
sequential alpha^64 steps; each further row r is one doubling of the previous row (the bit
leaving the top comes back as 0x87; the field arithmetic is in :mod:`models.gf128`).  Per piece
one transposing copy puts its tweaks in unit-major order in a piece buffer, hot for the two XORs
around the AES.

Where the row planes live.  Out of place, for calls up to 8 MiB (where the extra memory and the
per-call overhead matter): in each piece's own output bytes (chunks of 2 MiB, about one core's
L2; pieces of 256 KiB), so they cost no memory of their own, ``P ^ U`` overwrites the planes
just read, and the output lines they pull into the cache are the ones the piece writes next.
The doublings then run over all pieces of a chunk at once as 2-D numpy calls (pieces x
contiguous rows; four calls a row with a carry scratch, :func:`models.gf128.double_lanes_into`).
numpy's buffered iterator makes such calls several microseconds slower with its default
8192-element buffers, so a call runs with 1024-element ones (no operand needs buffering here;
numpy's setting is per thread and restored).  In place, and for larger calls (whose output is
far out of the cache, where 1-D calls stream better): in a per-worker scratch buffer as whole
rows over a chunk of 4 MiB (pieces of 128 KiB), each doubling seven 1-D calls
(:func:`models.gf128.double_into`).

The bulk AES is OpenSSL's XTS kernel, not ECB: on this kind of CPU (VAES) it runs about twice as
fast as its ECB.  One XTS ``update_into`` over a piece is one data unit with tweak 0 under key1
and a helper tweak key Kh, so block k of the piece gets ``E_K1(x ^ S_k) ^ S_k`` with the known
``S_k = E_Kh(0) * alpha^k``.  Feeding it ``P ^ U`` and XORing ``U`` after, with ``U = T ^ S``,
gives exactly ``E_K1(P ^ T) ^ T``; and ``U`` is itself a tweak sequence, started from
``T0[u] ^ V[u mod p]`` with ``V[u] = S_(u*B)`` (B blocks per unit, p units per piece; a table kept
per engine, 16 bytes per unit of a piece, computed once with Python ints).  So a piece costs one
XOR per unit more than with ECB, and the AES pass is shorter.  For units of at most 8 blocks
(cache lines) ``T0`` itself, a quarter of the AES work there, comes from the same trick with key2
in one call per piece (two more 16-byte tables per unit of a piece, built once per engine).

``update_into`` never gets overlapping input and output (cryptography 51 rejects them): a piece
goes ``x = P ^ U`` into the output bytes, the AES reads ``x`` and writes a second piece buffer of
the worker (with the block of room ``update_into`` wants after its input), and ``x = y ^ U``; in
place and out of place alike.  The extra memory is, per worker, the base or T0 buffers of a
chunk (1/R of its tweaks, plus room for their computation) and two piece buffers, plus the
tables (and, in place, one chunk of planes); chunks (and, down to a quarter, pieces) shrink
for small calls to keep it under 1.2x the data.

Tiny calls (a cache line or two, as the state-machine models do) take a pure-Python path with
128-bit ints and ECB that avoids numpy's per-call overhead.  ``XtsEngine(..., threads=N)`` runs
large calls as N contiguous ranges on a thread pool: numpy's ufuncs and (measured with
cryptography 48) ``update_into`` release the GIL, so this uses more cores when they are free; the
default is one thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from models.engine_base import (
    BLOCK,
    SMALL_BYTES,
    Engine,
    Scratch,
    as_addrs,
    as_out,
    as_units,
    deliver,
    ecb,
)
from models.gf128 import MASK128, SH, double_into, double_lanes_into, mul_alpha_k_into, times_alpha

__all__ = ["XtsEngine"]

_CHUNK_BYTES = 1 << 21  # data per inner iteration (planes in the output; twice that in scratch)
_IN_OUT_MAX_BYTES = 1 << 23  # out-of-place calls up to this size keep the planes in the output
_MAX_UNIT_BYTES = 1 << 22  # the largest data unit: one unit is one OpenSSL XTS call (16 MiB cap)
_PIECE_BYTES = 1 << 18  # data per OpenSSL XTS call in a chunk (half that with planes in scratch)
_THREAD_MIN_BYTES = 1 << 19  # calls smaller than this run on one thread whatever ``threads`` says
_BUFSIZE = 1024  # numpy's ufunc buffer size (elements) during a call: see XtsEngine._run_range


def _row_split(blocks: int) -> int:
    """Rows R of the tweak layout: block j = R*q + r, rows r computed by doubling."""
    if blocks <= 8:
        return blocks
    if blocks % 8 == 0:
        return 8
    return blocks  # an odd unit of at most 64 blocks: one doubling per block


def _tiled(rows: np.ndarray, table: np.ndarray, *, copy: bool = False) -> None:
    """``rows[u] ^= table[u % p]`` (or ``=`` with ``copy``) for uint64 rows ``(m, 2)``, ``p = len(table)``.

    ``rows`` must be C-contiguous; two numpy calls (the whole periods, then the rest).
    """
    p, m = table.shape[0], rows.shape[0]
    full = m - m % p
    # (periods, 2p) against a flat (2p,) table: long inner loops (a (.., p, 2) broadcast was slow)
    periods = (rows[:full].reshape(-1, 2 * p), table.reshape(-1))
    for dst, src in (periods, (rows[full:], table[: m - full])):
        if dst.size and copy:
            np.copyto(dst, src)
        elif dst.size:
            np.bitwise_xor(dst, src, out=dst)


class _Lane:
    """What one worker thread owns: its own cipher contexts and scratch buffers.

    cryptography's cipher contexts must not be used by two threads at once, and the scratch
    buffers are per-chunk working space, so each worker (lane) has its own.  ``xts_enc`` /
    ``xts_dec`` are OpenSSL XTS contexts with key1 and the helper tweak key and data unit number 0:
    each ``update_into`` call (one piece) is one data unit whose tweaks S_k = E_Kh(0) * alpha^k
    are known.
    """

    def __init__(self, key1: bytes, key2: bytes, helper: bytes, t0_helper: bytes) -> None:
        self.enc2, _ = ecb(key2)
        xts = Cipher(algorithms.AES(key1 + helper), modes.XTS(bytes(BLOCK)))
        self.xts_enc: Any = xts.encryptor()  # Any: update_into takes numpy arrays (buffers)
        self.xts_dec: Any = xts.decryptor()
        # the same trick for T0 = E_K2(i): key2 with its own helper tweak key
        self.t0_xts: Any = Cipher(algorithms.AES(key2 + t0_helper), modes.XTS(bytes(BLOCK))).encryptor()
        self.scratch = Scratch()


_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A shared pool with at least ``workers`` threads (grown on demand, never shrunk)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or workers > _POOL_SIZE:
            old = _POOL
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xts")
            _POOL_SIZE = workers
            if old is not None:
                old.shutdown(wait=False)
        return _POOL


class XtsEngine(Engine):
    """IEEE 1619 XTS-AES with the data unit sequence number ``addr // unit_bytes`` as tweak.

    ``key`` is key1 || key2: 32 bytes for AES-128-XTS (TME/MKTME/TDX default [V TDXM README]) or
    64 bytes for AES-256-XTS (SNP policy MEM_AES_256_XTS, later MKTME parts [V L/psp]).
    ``unit_bytes`` is the data unit: 64 (cache line) or 4096 (page) in the memory model; any
    multiple of 16 is accepted (the IEEE vectors use 32 and 512).  ``threads`` > 1 splits large
    calls (at least ``_THREAD_MIN_BYTES``) into that many contiguous ranges run on a shared thread
    pool (numpy ufuncs and cryptography's ``update_into`` release the GIL); the default is one
    thread.  An engine runs one call at a time (its scratch buffers are reused).
    """

    name = "xts"

    def __init__(self, key: bytes, unit_bytes: int = 64, *, threads: int = 1) -> None:
        super().__init__(unit_bytes)
        if len(key) not in (32, 64):
            raise ValueError(f"XTS key must be 32 (AES-128) or 64 (AES-256) bytes, got {len(key)}")
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        half = len(key) // 2
        self.key = bytes(key)
        self.threads = threads
        self._key1, self._key2 = self.key[:half], self.key[half:]
        # the helper tweak key of the OpenSSL XTS contexts: any key but key1 (OpenSSL refuses
        # equal halves; key1 == key2 is legal here, IEEE vector 1 has it)
        k1 = self._key1
        self._helper = self._key2 if self._key2 != k1 else bytes(b ^ 0xFF for b in k1)
        k2 = self._key2
        self._t0_helper = k1 if k1 != k2 else bytes(b ^ 0xFF for b in k2)
        self._lanes = [_Lane(k1, k2, self._helper, self._t0_helper)]
        self._enc2 = self._lanes[0].enc2  # the small path's tweak cipher
        self._enc1, self._dec1 = ecb(k1)  # the small path's data cipher
        self._v = np.zeros((0, 2), dtype=np.uint64)  # S_(u*B) for u < p: see _offsets
        self._s1 = self._v  # S'_k and S'_k ^ V[k] for k < p: see _t0_tables (units of <= 8 blocks)
        self._w = self._v
        self._w_piece = 0  # the p that _w was built for
        self._blocks = unit_bytes // BLOCK
        if self._blocks > 64 and self._blocks % 64:
            raise ValueError("XTS unit_bytes must be <= 1024 or a multiple of 1024")
        if unit_bytes > _MAX_UNIT_BYTES:  # one unit must fit in one OpenSSL XTS call (16 MiB cap)
            raise ValueError(f"XTS unit_bytes must be at most {_MAX_UNIT_BYTES} bytes")
        self._rows = _row_split(self._blocks)

    # -- sector-level API (the IEEE vectors are stated with sector numbers) --------------------
    def encrypt_sectors(self, data: Any, sectors: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Encrypt units whose data unit sequence numbers are ``sectors`` (uint64)."""
        units = as_units(data, self.unit_bytes)
        return self._run_sectors(
            units, as_addrs(sectors, units.shape[0]), encrypt=True, out=as_out(out, units.shape)
        )

    def decrypt_sectors(self, data: Any, sectors: Any, *, out: np.ndarray | None = None) -> np.ndarray:
        """Decrypt units whose data unit sequence numbers are ``sectors`` (uint64)."""
        units = as_units(data, self.unit_bytes)
        return self._run_sectors(
            units, as_addrs(sectors, units.shape[0]), encrypt=False, out=as_out(out, units.shape)
        )

    def _run(
        self, units: np.ndarray, addrs: np.ndarray, *, encrypt: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        return self._run_sectors(units, addrs, encrypt=encrypt, divisor=self.unit_bytes, out=out)

    def _run_sectors(
        self,
        units: np.ndarray,
        sectors: np.ndarray,
        *,
        encrypt: bool,
        divisor: int = 1,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Encrypt/decrypt units with data unit numbers ``sectors // divisor`` (into ``out``)."""
        n, ub = units.shape
        if n * ub <= SMALL_BYTES:
            return deliver(self._run_small(units, sectors // np.uint64(divisor), encrypt=encrypt), out)
        if out is None:
            out = np.empty((n, ub), dtype=np.uint8)
        flat = out.reshape(-1)
        workers = self.threads if n * ub >= _THREAD_MIN_BYTES else 1
        # the row planes of a chunk go into its own output bytes (each piece's planes where its
        # result goes) out of place up to _IN_OUT_MAX_BYTES, else into a scratch buffer of the
        # chunk's size (see the module docstring).  Chunks of ~_CHUNK_BYTES (twice that with the
        # planes in scratch), smaller when the scratch would pass 1.2x the data: per
        # worker the base or T0 buffers (1/R of the tweaks plus room for their computation), the
        # planes when in scratch, and two piece buffers (a piece's tweaks, its AES output); per
        # unit of a piece the table V and, for units of <= 8 blocks, the tables S' and W
        in_out = n * ub <= _IN_OUT_MAX_BYTES and not np.may_share_memory(units, out)
        q_len = self._blocks // self._rows
        small = q_len == 1
        budget = n * ub * 1.2
        piece = max(1, min(n, (_PIECE_BYTES if in_out else _PIECE_BYTES // 2) // ub))
        per_unit = workers * (ub * (not in_out) + self._base_words(1) * 8)
        per_chunk = min(n, (_CHUNK_BYTES if in_out else 2 * _CHUNK_BYTES) // ub)
        # pieces down to a quarter of their size when that lets the chunk stay whole
        per_piece = workers * 2 * (ub + BLOCK) + BLOCK * (1 + 2 * small)  # + V (and S', W)
        fit = int((budget - per_unit * per_chunk) // per_piece)
        if fit >= max(1, piece // 4):
            piece = min(piece, fit)
        else:  # smaller chunks of about four pieces each
            per_chunk = min(per_chunk, int(budget // (per_unit + per_piece / 4)))
            piece = max(1, min(piece, per_chunk // 4))
        per_chunk = max(1, min(per_chunk, n))
        per_chunk = -(-n // -(-n // per_chunk))  # the same number of chunks, evened out
        piece = min(piece, per_chunk)
        chunks = -(-n // per_chunk)
        workers = min(workers, chunks)
        bounds = [min(n, per_chunk * (chunks * w // workers)) for w in range(workers + 1)]
        while len(self._lanes) < workers:
            self._lanes.append(_Lane(self._key1, self._key2, self._helper, self._t0_helper))
        self._offsets(piece)  # the tables, before any worker reads them
        if small:
            self._t0_tables(piece)

        def run(w: int) -> None:
            self._run_range(
                self._lanes[w], bounds[w], bounds[w + 1],
                units, sectors, divisor, flat, per_chunk, piece, encrypt, in_out,
            )  # fmt: skip

        if workers == 1:
            run(0)
        else:  # this thread runs range 0, the pool the others
            futures = [_pool(workers - 1).submit(run, w) for w in range(1, workers)]
            try:
                run(0)
            finally:
                wait(futures)  # no worker may still write into ``out`` after we return
            for f in futures:
                f.result()
        return out

    def _run_range(
        self,
        lane: _Lane,
        lo: int,
        hi: int,
        units: np.ndarray,
        sectors: np.ndarray,
        divisor: int,
        flat: np.ndarray,
        per_chunk: int,
        piece: int,
        encrypt: bool,
        in_out: bool,
    ) -> None:
        """Units ``lo:hi`` in chunks, each in pieces of ``piece`` units: ``P ^ U``, OpenSSL XTS, ``^ U``.

        Per chunk :meth:`_planes` builds the row planes of its units: with ``in_out`` each
        piece's planes in that piece's output bytes, else as whole rows in the lane's planes
        buffer.  Per piece, while it stays in L2: one transposing copy puts its tweaks ``U`` in
        unit-major order in the lane's piece buffer, ``x = P ^ U`` goes into the output bytes
        (over the planes just read, with ``in_out``), the AES reads ``x`` and writes the lane's second piece
        buffer ``y`` (``update_into`` never gets overlapping buffers: cryptography 51 refuses
        them; ``y`` has the block of room it wants after the input), and ``x = y ^ U``.
        """
        ub = self.unit_bytes
        xts = lane.xts_enc if encrypt else lane.xts_dec
        cuts = [*range(lo, hi, per_chunk), hi]
        step = piece * ub // 8  # uint64 words per XTS call
        tw = lane.scratch.get("tweaks", 8 * step).view(np.uint64)
        y8 = lane.scratch.get("piece", 8 * step + BLOCK)
        # numpy's buffered iterator (2-D views, as in the doublings over the pieces of a chunk)
        # costs several microseconds a call with its default 8192-element buffers; no operand
        # here needs a buffer (one dtype, aligned), so small ones cost nothing.  The setting is
        # per thread (a context variable) and is restored on the way out.
        old_bufsize = np.setbufsize(_BUFSIZE)
        try:
            self._chunks(lane, xts, cuts, units, sectors, divisor, flat, piece, in_out, tw, y8)
        finally:
            np.setbufsize(old_bufsize)

    def _chunks(
        self,
        lane: _Lane,
        xts: Any,
        cuts: list[int],
        units: np.ndarray,
        sectors: np.ndarray,
        divisor: int,
        flat: np.ndarray,
        piece: int,
        in_out: bool,
        tw: np.ndarray,
        y8: np.ndarray,
    ) -> None:
        """The chunks ``cuts[i]:cuts[i+1]`` of :meth:`_run_range` (see there)."""
        ub = self.unit_bytes
        r2 = 2 * self._rows
        step = piece * ub // 8  # uint64 words per XTS call
        sc = lane.scratch
        y = y8.view(np.uint64)
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            a, b = start * ub, stop * ub
            body8 = flat[a:b]
            body = body8.view(np.uint64)
            src = units[start:stop].reshape(-1).view(np.uint64)
            # planes in blocks of ``block`` units: each piece's own output bytes, or one block of
            # whole rows over the chunk in the scratch buffer (1-D doublings, cheaper when the
            # output is far out of the cache)
            block = piece if in_out else stop - start
            region = body if in_out else sc.get("planes", b - a).view(np.uint64)
            self._planes(lane, sectors[start:stop], divisor, region, piece, block)
            rows = region.reshape(r2, -1)  # the scratch layout: row planes over the chunk
            for k in range(0, body.size, step):
                e = min(k + step, body.size)
                w = e - k
                u = tw[:w]
                planes = region[k:e].reshape(r2, -1) if in_out else rows[:, k // r2 : e // r2]
                np.copyto(u.reshape(-1, r2), planes.T)
                x = body[k:e]
                np.bitwise_xor(src[k:e], u, out=x)
                xts.update_into(body8[8 * k : 8 * e], y8[: 8 * w + BLOCK])
                np.bitwise_xor(y[:w], u, out=x)

    @staticmethod
    def _table(helper: bytes, step: int, m: int) -> np.ndarray:
        """``E_helper(0) * alpha^(u*step)`` for u < m as uint64 ``(m, 2)`` (Python ints, once)."""
        raw = bytearray(BLOCK * m)
        v = int.from_bytes(ecb(helper)[0].update(bytes(BLOCK)), "little")
        for u in range(0, BLOCK * m, BLOCK):
            raw[u : u + BLOCK] = v.to_bytes(BLOCK, "little")
            v = times_alpha(v, step)
        return np.frombuffer(raw, dtype=np.uint64).reshape(m, 2)

    def _t0_offset(
        self, lane: _Lane, sectors: np.ndarray, divisor: int, sec: np.ndarray, out: np.ndarray
    ) -> np.ndarray:
        """``T0[u] ^ V[u mod p]`` for units of at most 8 blocks: uint64 ``(m, 2)`` in ``out`` (+1 block).

        Like the bulk pass, OpenSSL XTS calls (key2, helper tweak key Kt), one per piece of p
        units, replace ECB: fed ``i ^ S'_k`` (``S'_k = E_Kt(0) * alpha^k``, k = u mod p) a call
        returns ``E_K2(i) ^ S'_k``, and XORing ``W[k] = S'_k ^ V[k]`` leaves ``T0[u] ^ V[u mod p]``.
        ``sec``: uint64 scratch of ``2*m`` words, not overlapping ``out``; ``out`` (``2*m + 2``
        words) also serves as scratch for the unit numbers.  The tables (p entries each) come
        from :meth:`_t0_tables`.
        """
        m = sectors.shape[0]
        p = self._w_piece
        sec2 = sec[: 2 * m].reshape(m, 2)
        _tiled(sec2, self._s1[:p], copy=True)
        nums = self._unit_numbers(sectors, divisor, out=out[:m])
        np.bitwise_xor(sec2[:, 0], nums, out=sec2[:, 0])
        src, dst = sec2.view(np.uint8).reshape(-1), out[: 2 * m + 2].view(np.uint8)
        for k in range(0, BLOCK * m, BLOCK * p):
            e = min(k + BLOCK * p, BLOCK * m)
            lane.t0_xts.update_into(src[k:e], dst[k : e + BLOCK])
        t0 = out[: 2 * m].reshape(m, 2)
        _tiled(t0, self._w)
        return t0

    def _t0_tables(self, piece: int) -> None:
        """Build ``S'_k = E_Kt(0) * alpha^k`` and ``W[k] = S'_k ^ V[k]`` for k < p = ``piece``.

        Kept per engine (``S'`` grow-only; ``W`` rebuilt with numpy when p changes); used by
        :meth:`_t0_offset` for units of at most 8 blocks.
        """
        if self._s1.shape[0] < piece:
            self._s1 = self._table(self._t0_helper, 1, piece)
        if self._w_piece != piece:
            self._w = self._s1[:piece] ^ self._offsets(piece)
            self._w_piece = piece

    def _offsets(self, m: int) -> np.ndarray:
        """``V[u] = S_0 * alpha^(u*B)`` for u < m: uint64 ``(m, 2)``, computed once and kept.

        The OpenSSL XTS call over a piece XORs block k (unit u of the piece, block j,
        k = u*B + j) with ``S_k = S_0 * alpha^k`` before and after AES, ``S_0 = E_Kh(0)``.
        Feeding it ``P ^ U`` and XORing ``U`` afterwards, with ``U = T ^ S``, gives
        ``E_K1(P ^ T) ^ T``: XTS with our tweaks.  Since ``T[u, j] = T0[u] * alpha^j`` and
        ``S_k = V[u] * alpha^j``, ``U`` is the tweak sequence of the per-unit start
        ``T0[u] ^ V[u]``: one XOR per unit, not per block.  ``m`` is the units of a piece; a
        table for a larger ``m`` starts with the one for a smaller.
        """
        if self._v.shape[0] < m:
            self._v = self._table(self._helper, self._blocks, m)
        return self._v[:m]

    @staticmethod
    def _unit_numbers(sectors: np.ndarray, divisor: int, out: np.ndarray | None = None) -> np.ndarray:
        """``sectors // divisor`` (a shift when the divisor is a power of two)."""
        if divisor & (divisor - 1) == 0:
            return np.right_shift(sectors, SH[divisor.bit_length() - 1], out=out)
        return np.floor_divide(sectors, np.uint64(divisor), out=out)

    def _t0(self, lane: _Lane, sectors: np.ndarray, divisor: int, sec: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``T0 = E_K2(sectors[u] // divisor as 16 bytes LE)``: uint64 ``(m, 2)`` in flat ``out`` (+1 block).

        ``sec`` is uint64 scratch of ``2*m`` words for the ECB input.
        """
        m = sectors.shape[0]
        sec2 = sec[: 2 * m].reshape(m, 2)
        self._unit_numbers(sectors, divisor, out=sec2[:, 0])
        sec2[:, 1] = 0
        lane.enc2.update_into(sec2.view(np.uint8).reshape(-1), out[: 2 * m + 2].view(np.uint8))
        return out[: 2 * m].reshape(m, 2)

    def _base_words(self, m: int) -> int:
        """uint64 words of the lane's "base" scratch for a chunk of ``m`` units (see :meth:`_planes`)."""
        q_len = self._blocks // self._rows
        if q_len == 1:
            return 4 * m + 2  # T0 ^ V and the input of its XTS calls
        span = self._span(q_len)
        return 2 * q_len * m + max(4 * m + 2, 2 * span * m)

    def _span(self, q_len: int) -> int:
        """Rows S of the base done by log steps (R*s <= 56 bits), then in sequential blocks of S."""
        s = 1
        while s < q_len and self._rows * s <= 56:
            s *= 2
        return min(s, q_len)

    def _planes(
        self,
        lane: _Lane,
        sectors: np.ndarray,
        divisor: int,
        region: np.ndarray,
        piece: int,
        block: int,
    ) -> None:
        """The row planes of the units ``sectors`` (one chunk) in flat uint64 ``region``.

        Block i of b = ``block`` units (units ``[i*b, (i+1)*b)`` of the chunk, the last may be
        shorter; b is the piece size p = ``piece`` for planes in the output, the whole chunk for
        the scratch layout) takes the words of its units, ``region[i*b*W : ...]`` (W words per
        unit), as planes ``(2R, c*Q)`` (c units in the block): plane ``2r + lane`` (lo, hi) of
        row r holds the tweaks of blocks ``j = R*q + r`` at ``u*Q + q``.  Block j of unit u has
        tweak ``T0[u] * alpha^(R*q) * alpha^r``, and what a piece needs is ``U`` (see
        :meth:`_offsets`): the same with ``T0[u] ^ V[u mod p]`` as start.  Row 0 comes from
        :meth:`_t0_offset` (units of at most 8 blocks, Q = 1) or from :meth:`_base` (both in the
        lane's "base" scratch); rows 1..R-1 follow by one doubling each: over all whole blocks
        at once (2-D views with contiguous rows, four numpy calls; the base/T0 scratch, free by
        then, holds the carries) and as many on a shorter last block, or, for one block, seven
        1-D calls on its contiguous planes.
        """
        m = sectors.shape[0]
        r_len = self._rows
        q_len = self._blocks // r_len
        words = 2 * r_len * q_len  # per unit
        full = m - m % block
        scratch = lane.scratch.get("base", 8 * self._base_words(m)).view(np.uint64)
        if q_len == 1:
            sec, t0_buf = scratch[: 2 * m], scratch[2 * m : 4 * m + 2]
            t0 = self._t0_offset(lane, sectors, divisor, sec, t0_buf)  # (m, 2)
            src = t0.T.reshape(2, m, 1)
        else:
            base = scratch[: 2 * q_len * m].reshape(2, q_len, m)
            self._base(lane, sectors, divisor, base, scratch[2 * q_len * m :], piece)
            src = base.transpose(0, 2, 1)  # (2, m, Q)
        parts = []  # the whole blocks as one 4-D view, then a shorter last block
        for u0, k, c in ((0, full // block, block), (full, 1, m - full)):
            if k and c:
                view = region[words * u0 : words * (u0 + k * c)].reshape(k, r_len, 2, c * q_len)
                part = src[:, u0 : u0 + k * c].reshape(2, k, c, q_len).transpose(1, 0, 2, 3)
                np.copyto(view[:, 0].reshape(k, 2, c, q_len), part)
                parts.append(view)
        for view in parts:  # base/T0 are in row 0 now: their scratch holds the carries
            carry = scratch[: view[:, 0].size].reshape(view[:, 0].shape)
            for r in range(1, r_len):
                if view.shape[0] == 1:
                    double_into(view[0, r - 1], view[0, r])
                else:
                    double_lanes_into(view[:, r - 1], view[:, r], carry)

    def _base(
        self, lane: _Lane, sectors: np.ndarray, divisor: int, base: np.ndarray, spare: np.ndarray, piece: int
    ) -> None:
        """``T0[u] * alpha^(R*q)`` for the units ``sectors`` (one chunk) into ``base`` ``(2, Q, m)`` (lo, hi).

        ``T0[u]`` includes the offset ``V[u mod p]`` of the unit's place in its piece (p =
        ``piece`` units per XTS call, counted from the start of the chunk).  ``spare``: uint64
        scratch not overlapping ``base``, at least ``4*m + 2`` words and ``2*S*m`` (S below).

        Log steps over q (rows ``[s, 2s)`` are rows ``[0, s)`` times ``alpha^(R*s)``) with in-place
        numpy calls; this is 1/R of the tweak work.
        """
        m = sectors.shape[0]
        q_len = base.shape[1]
        lo, hi = base[0], base[1]
        t0 = self._t0(lane, sectors, divisor, spare[: 2 * m], spare[2 * m : 4 * m + 2])
        _tiled(t0, self._v[:piece])
        np.copyto(base[:, 0, :], t0.T)
        # log steps (rows [s, 2s) = rows [0, s) * alpha^(R*s)) while R*s <= 56 bits, then blocks
        # of S rows, each the previous block times alpha^(R*S): no shift of 128 bits or more
        r_len = self._rows
        span = self._span(q_len)  # S: rows per sequential block
        tmp = spare[: 2 * span * m].reshape(2, span, m)
        s = 1
        while s < span:
            w = min(s, q_len - s)
            mul_alpha_k_into(lo[:w], hi[:w], lo[s : s + w], hi[s : s + w], tmp[0, :w], tmp[1, :w], r_len * s)
            s *= 2
        for q in range(span, q_len, span):
            w = min(span, q_len - q)
            src_lo, src_hi = lo[q - span : q - span + w], hi[q - span : q - span + w]
            mul_alpha_k_into(src_lo, src_hi, lo[q : q + w], hi[q : q + w], tmp[0, :w], tmp[1, :w], r_len * span)

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
                    t = (t & MASK128) ^ 0x87
        size = n * ub
        x = int.from_bytes(units.tobytes(), "little") ^ tweak
        aes = self._enc1 if encrypt else self._dec1
        y = int.from_bytes(aes.update(x.to_bytes(size, "little")), "little") ^ tweak
        return np.frombuffer(y.to_bytes(size, "little"), dtype=np.uint8).reshape(n, ub).copy()
