"""Tests of the non-overlapping ``update_into`` paths of models/xts.py and models/encryption.py.

cryptography 51 rejects overlapping input and output buffers in ``update_into``; older versions
accept them.  These tests wrap every cipher context the engines create in a checker that fails on
overlap (and on an output shorter than the input plus 15 bytes, what cryptography requires), so
they catch in-place calls under any cryptography version.  They also drive the piece logic of the
XTS core (several OpenSSL XTS calls per chunk, the piece buffer that takes the AES output, a
caller's exact-size ``out``, a piece size that changes between calls of one engine) with small
``_PIECE_BYTES`` / ``_CHUNK_BYTES`` and compare with cryptography's own XTS per unit, and check
the peak scratch memory of a 1 MiB call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from models import encryption as enc
from models import engine_base, xts
from models.encryption import SevXexEngine, XtsEngine


class _CheckedCtx:
    """A cipher context whose ``update_into`` refuses overlapping or too short buffers."""

    def __init__(self, ctx: Any, calls: list[int]) -> None:
        self._ctx = ctx
        self._calls = calls
        self.sizes: list[int] = []  # input bytes of this context's update_into calls

    def update_into(self, data: Any, buf: Any) -> int:
        src, dst = np.asarray(data), np.asarray(buf)
        assert not np.may_share_memory(src, dst), "update_into with overlapping buffers"
        assert dst.nbytes >= src.nbytes + 15, "update_into output too short"
        self._calls.append(src.nbytes)
        self.sizes.append(src.nbytes)
        before = dst.reshape(-1).view(np.uint8)[src.nbytes :].copy()
        n = int(self._ctx.update_into(data, buf))
        # nothing is written after the input's length: the engines rely on it (the block of
        # room after a piece may belong to the next piece or another thread)
        assert np.array_equal(dst.reshape(-1).view(np.uint8)[src.nbytes :], before)
        return n

    def update(self, data: bytes) -> bytes:
        return bytes(self._ctx.update(data))


class _CheckedCipher:
    def __init__(self, calls: list[int], *args: Any) -> None:
        self._c = Cipher(*args)
        self._calls = calls

    def encryptor(self) -> _CheckedCtx:
        return _CheckedCtx(self._c.encryptor(), self._calls)

    def decryptor(self) -> _CheckedCtx:
        return _CheckedCtx(self._c.decryptor(), self._calls)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Every context the engines create from now on is checked; yields the input sizes seen."""
    calls: list[int] = []

    def ecb(key: bytes) -> tuple[_CheckedCtx, _CheckedCtx]:
        c = _CheckedCipher(calls, algorithms.AES(key), modes.ECB())
        return c.encryptor(), c.decryptor()

    monkeypatch.setattr(xts, "Cipher", lambda *a: _CheckedCipher(calls, *a))
    monkeypatch.setattr(xts, "ecb", ecb)
    monkeypatch.setattr(enc, "ecb", ecb)
    monkeypatch.setattr(engine_base, "ecb", ecb)
    yield calls


def _lib(key: bytes, unit: int, data: np.ndarray, addrs: np.ndarray) -> bytes:
    """cryptography's XTS, one context per unit, tweak = address // unit."""
    out = []
    for a, d in zip(addrs, data, strict=True):
        ctx = Cipher(algorithms.AES(key), modes.XTS((int(a) // unit).to_bytes(16, "little"))).encryptor()
        out.append(ctx.update(bytes(d)) + ctx.finalize())
    return b"".join(out)


def _case(seed: int, unit: int, n: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    key = bytes(rng.integers(0, 256, 32, dtype=np.uint8))
    data = rng.integers(0, 256, size=(n, unit), dtype=np.uint8)
    addrs = rng.permutation(n * 3)[:n].astype(np.uint64) * np.uint64(unit)
    return key, data, addrs


@pytest.mark.parametrize(("unit", "n"), [(64, 301), (48, 97), (1024, 23), (4096, 24)])
@pytest.mark.parametrize("threads", [1, 3])
def test_many_pieces_per_chunk_all_outputs(
    checked: list[int], monkeypatch: pytest.MonkeyPatch, unit: int, n: int, threads: int
) -> None:
    """Pieces of 3 units (the last piece of a chunk shorter), chunks of a few pieces, 1 or 3
    threads: a new output, a caller's exact-size ``out`` (no room after its last piece) and
    in place all give cryptography's bytes, and decryption in place restores the data."""
    monkeypatch.setattr(xts, "_PIECE_BYTES", 3 * unit)
    monkeypatch.setattr(xts, "_CHUNK_BYTES", 8 * unit + 4096)
    monkeypatch.setattr(xts, "_THREAD_MIN_BYTES", 0)
    key, data, addrs = _case(unit * n + threads, unit, n)
    want = _lib(key, unit, data, addrs)
    eng = XtsEngine(key, unit, threads=threads)
    assert eng.encrypt(data, addrs).tobytes() == want
    out = np.empty_like(data)
    assert eng.encrypt(data, addrs, out=out).tobytes() == want
    assert out.tobytes() == want
    buf = data.copy()
    assert eng.encrypt(buf, addrs, out=buf).tobytes() == want
    assert np.array_equal(eng.decrypt(buf, addrs, out=buf), data)
    assert np.array_equal(eng.decrypt(np.frombuffer(want, np.uint8), addrs), data)
    # the bulk XTS calls really were piece-sized: none longer than 3 units (fewer when the
    # memory budget shrinks the chunks, as with 3 workers on these tiny calls), whole units
    bulk = [s for lane in eng._lanes for s in lane.xts_enc.sizes + lane.xts_dec.sizes]
    assert bulk and max(bulk) <= 3 * unit and min(bulk) % unit == 0
    assert threads > 1 or max(bulk) == 3 * unit
    assert (len(eng._lanes) > 1) == (threads > 1)  # several chunks: the ranges ran on the pool


def test_piece_buffers_hold_the_aes_output(checked: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The AES of a piece reads the output bytes and writes the lane's piece buffer (never in
    place), which stays piece-sized; tiny pieces and one piece for the whole call both give
    cryptography's bytes, out of place, into a caller's exact ``out`` and in place."""
    monkeypatch.setattr(xts, "_PIECE_BYTES", 64)
    key, data, addrs = _case(1, 64, 700)
    want = _lib(key, 64, data, addrs)
    eng = XtsEngine(key, 64)
    out = np.empty_like(data)
    assert eng.encrypt(data, addrs, out=out).tobytes() == want
    assert eng._lanes[0].scratch._bufs["piece"].size == 64 + 16  # one unit and its block of room
    assert np.array_equal(eng.decrypt(out, addrs), data)

    monkeypatch.setattr(xts, "_PIECE_BYTES", 1 << 17)
    key, data, addrs = _case(2, 4096, 40)  # large pieces, shrunk to fit the memory budget
    eng = XtsEngine(key, 4096)
    out = np.empty_like(data)
    assert eng.encrypt(data, addrs, out=out).tobytes() == _lib(key, 4096, data, addrs)
    size = eng._lanes[0].scratch._bufs["piece"].size
    assert size <= 40 * 4096 + 16 and size % 4096 == 16
    assert np.array_equal(eng.decrypt(out, addrs, out=out), data)


@pytest.mark.parametrize(("unit", "n"), [(64, 1 << 14), (4096, 256)])
@pytest.mark.parametrize("in_place", [False, True])
def test_peak_scratch_stays_within_the_budget(unit: int, n: int, in_place: bool) -> None:
    """A 1 MiB call on a fresh engine allocates at most 1.25x the data beyond input and output
    (the target of the benchmark's ``mem`` column; tracemalloc sees numpy buffers): planes,
    piece buffers, tables; the bytes are exact."""
    import tracemalloc

    key, data, addrs = _case(6, unit, n)
    want = XtsEngine(key, unit).encrypt(data, addrs).tobytes()
    buf = data.copy() if in_place else np.zeros_like(data)
    eng = XtsEngine(key, unit)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        res = eng.encrypt(buf, addrs, out=buf) if in_place else eng.encrypt(data, addrs, out=buf)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert res.tobytes() == want
    assert peak <= 1.25 * data.nbytes, (peak, data.nbytes)


def test_one_engine_with_changing_piece_sizes(checked: list[int]) -> None:
    """The per-piece tables (V, and W = S' ^ V[u mod p] for cache lines) follow the piece size
    when one engine gets calls of different sizes, in both orders."""
    key, data, addrs = _case(3, 64, 5000)  # default pieces: 2048 units, tiled over the chunk
    eng = XtsEngine(key, 64)
    for n in (5000, 40, 3000, 9, 5000):
        d, a = data[:n], addrs[:n]
        assert eng.encrypt(d, a).tobytes() == _lib(key, 64, d, a), n
    key, data, addrs = _case(4, 4096, 80)  # 4 KiB pages: pieces of 32 units
    eng = XtsEngine(key, 4096)
    for n in (80, 5, 33):
        d, a = data[:n], addrs[:n]
        assert eng.encrypt(d, a).tobytes() == _lib(key, 4096, d, a), n


@pytest.mark.parametrize("zen1", [False, True])
def test_sev_vector_path_in_pieces(checked: list[int], monkeypatch: pytest.MonkeyPatch, zen1: bool) -> None:
    """The SEV engine's ECB runs in pieces (here 48 bytes, rounded to whole blocks) into its
    scratch; the vector path equals the pure-Python small path, in place too."""
    monkeypatch.setattr(enc, "_PIECE_BYTES", 40)  # 2 blocks per call
    rng = np.random.default_rng(5)
    eng = SevXexEngine(bytes(rng.integers(0, 256, 16, dtype=np.uint8)), 64, zen1=zen1)
    data = rng.integers(0, 256, size=(21, 64), dtype=np.uint8)
    addrs = rng.permutation(64)[:21].astype(np.uint64) * np.uint64(64)
    ct = eng.encrypt(data, addrs)
    small = np.concatenate([eng.encrypt(data[i : i + 1], addrs[i : i + 1]) for i in range(21)])
    assert np.array_equal(ct, small)
    assert max(checked) <= 32  # the vector path's ECB calls were piece-sized
    assert np.array_equal(eng.decrypt(ct, addrs), data)
    buf = ct.copy()
    eng.decrypt(buf, addrs, out=buf)
    assert np.array_equal(buf, data)
