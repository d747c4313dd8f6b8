"""Tests of models/memory.py: the PhysicalMemory contract, batches, attacks, and a stateful check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from models.memory import MODES, NoKeyError, PhysicalMemory

ALL_MODES = sorted(MODES)


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("page_bytes", [64, 4096])
def test_roundtrip_and_ciphertext(mode: str, page_bytes: int) -> None:
    mem = PhysicalMemory(3, page_bytes=page_bytes, mode=mode)
    mem.program_key(1)
    msg = b"hello, confidential world"
    mem.write(1, 2, 5, msg)
    assert mem.read(1, 2, 5, len(msg)) == msg
    assert msg not in mem.read_ciphertext(2)
    assert len(mem.read_ciphertext(2)) == page_bytes
    mem.write_int(1, 0, -1)  # taken modulo 2^64
    assert mem.read_int(1, 0) == 2**64 - 1
    assert mem.read(1, 0, 0, 0) == b""
    mem.write(1, 0, 0, b"")


def test_plaintext_context_none() -> None:
    mem = PhysicalMemory(2, page_bytes=64)
    mem.write(None, 1, 3, b"shared")
    assert mem.read(None, 1, 3, 6) == b"shared"
    assert mem.read_ciphertext(1, 3, 6) == b"shared"
    mem.zero(None, 1)
    assert mem.read_ciphertext(1) == bytes(64)
    mem.write_int(None, 0, 7)
    assert mem.read_int(None, 0) == 7


def test_keys() -> None:
    mem = PhysicalMemory(2, page_bytes=64)
    assert not mem.has_key(3)
    with pytest.raises(NoKeyError):
        mem.write_int(3, 0, 1)
    mem.program_key(3)
    assert mem.has_key(3)
    mem.write_int(3, 0, 99)
    mem.clear_key(3)
    assert not mem.has_key(3)
    with pytest.raises(NoKeyError):
        mem.read_int(3, 0)
    mem.clear_key(3)  # clearing twice is harmless
    mem.program_key(3)  # same seed and ctx: the same key comes back
    assert mem.read_int(3, 0) == 99
    mem.program_key(4, bytes(range(32)))
    assert mem.derive_key(4) != bytes(range(32))
    with pytest.raises(ValueError, match="XTS key"):
        mem.program_key(5, bytes(16))


def test_seed_and_context_change_keys() -> None:
    a, b = PhysicalMemory(1, page_bytes=64, seed=1), PhysicalMemory(1, page_bytes=64, seed=2)
    for m in (a, b):
        m.program_key(1)
        m.program_key(2)
        m.zero(1, 0)
    assert a.read_ciphertext(0) != b.read_ciphertext(0)
    assert a.derive_key(1) != a.derive_key(2)
    assert len(PhysicalMemory(1, mode="sev-xex").derive_key(1)) == 16


@pytest.mark.parametrize("mode", ALL_MODES)
def test_wrong_key_garbage_and_zero(mode: str) -> None:
    mem = PhysicalMemory(2, page_bytes=64, mode=mode)
    mem.program_key(1)
    mem.program_key(2)
    mem.zero(1, 0)
    assert mem.read(1, 0, 0, 64) == bytes(64)
    assert mem.read(2, 0, 0, 64) != bytes(64)
    assert mem.read_ciphertext(0) != bytes(64)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_replay_and_move(mode: str) -> None:
    mem = PhysicalMemory(4, page_bytes=128, mode=mode)
    mem.program_key(1)
    mem.write_int(1, 0, 100)
    old = mem.read_ciphertext(0)
    mem.write_int(1, 0, 0)
    mem.write_ciphertext(0, 0, old)
    assert mem.read_int(1, 0) == 100  # replay: no freshness
    mem.write_ciphertext(3, 0, old)
    assert mem.read_int(1, 3) != 100  # moved: the tweak binds the address


def test_partial_writes_are_read_modify_write() -> None:
    mem = PhysicalMemory(4, page_bytes=128, mode="xts-line")
    mem.program_key(1)
    mem.write(1, 0, 0, bytes(range(128)))
    mem.write(1, 0, 60, b"\xff" * 10)  # crosses the line boundary at 64
    want = bytearray(range(128))
    want[60:70] = b"\xff" * 10
    assert mem.read(1, 0, 0, 128) == bytes(want)
    mem.write(1, 0, 120, b"\xee" * 16)  # crosses into page 1
    assert mem.read(1, 0, 120, 16) == b"\xee" * 16
    # a partial write under another key garbles the rest of that unit only
    mem.program_key(2)
    mem.write(2, 0, 0, b"x")
    assert mem.read(1, 0, 64, 56) == bytes(want[64:120])
    assert mem.read(1, 0, 1, 63) != bytes(want[1:64])


def test_bounds_and_construction_errors() -> None:
    mem = PhysicalMemory(2, page_bytes=64)
    for args in ((2, 0, 1), (1, 60, 10), (-1, 0, 1), (0, -1, 1)):
        with pytest.raises(ValueError, match="outside memory"):
            mem.read(None, *args)
    with pytest.raises(ValueError, match="outside memory"):
        mem.write_ciphertext(1, 60, b"12345")
    with pytest.raises(ValueError, match="unknown mode"):
        PhysicalMemory(1, mode="ctr")
    with pytest.raises(ValueError, match="positive"):
        PhysicalMemory(0)
    with pytest.raises(ValueError, match="multiple of 16"):
        PhysicalMemory(1, page_bytes=24)
    with pytest.raises(ValueError, match="not a multiple of the xts-line unit"):
        PhysicalMemory(1, page_bytes=80)
    small = PhysicalMemory(2, page_bytes=64, mode="xts-page")
    assert small.unit_bytes == 64  # a page smaller than the unit is the unit


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("ctx", [None, 1])
def test_batch_pages_match_single_accesses(mode: str, ctx: int | None) -> None:
    rng = np.random.default_rng(5)
    a = PhysicalMemory(8, page_bytes=256, mode=mode)
    b = PhysicalMemory(8, page_bytes=256, mode=mode)
    for m in (a, b):
        m.program_key(1)
    pages = np.array([6, 1, 3], dtype=np.int64)
    data = rng.integers(0, 256, size=(3, 256), dtype=np.uint8)
    a.write_pages(ctx, pages, data)
    for p, d in zip(pages, data, strict=True):
        b.write(ctx, int(p), 0, d.tobytes())
    assert all(a.read_ciphertext(p) == b.read_ciphertext(p) for p in range(8))
    assert np.array_equal(a.read_pages(ctx, pages), data)
    assert a.read_pages(ctx, np.array([1]))[0].tobytes() == b.read(ctx, 1, 0, 256)
    with pytest.raises(ValueError, match="page index"):
        a.read_pages(ctx, np.array([8]))


def test_example_replay_attack_runs() -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "models" / "sev_replay_attack.py"
    spec = importlib.util.spec_from_file_location("sev_replay_attack", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = module.main()
    text = "\n".join(lines)
    assert "replay succeeded: True" in text
    assert "garbled: True" in text
    assert text.rstrip().endswith("True")


class MemoryMachine(RuleBasedStateMachine):
    """Random writes/reads by several contexts against a plaintext shadow.

    Invariant (domain.md 4, what the memory controller guarantees): a read under context c of
    bytes that c wrote last, in units that c owns, returns what c wrote; raw reads equal what the
    last raw write stored.  A partial write by another context makes the rest of the unit unknown.
    """

    PAGES, PAGE = 3, 128

    def __init__(self) -> None:
        super().__init__()
        self.mem = PhysicalMemory(self.PAGES, page_bytes=self.PAGE, mode="xts-line", seed=9)
        for c in (1, 2):
            self.mem.program_key(c)
        size = self.PAGES * self.PAGE
        self.shadow = bytearray(size)
        self.known = [True] * size
        self.owner: list[int | None] = [None] * (size // 64)  # None = plaintext

    def _apply(self, ctx: int | None, addr: int, data: bytes) -> None:
        for u in range(addr // 64, (addr + len(data) - 1) // 64 + 1):
            if self.owner[u] != ctx and ctx is not None:
                lo, hi = u * 64, u * 64 + 64
                for i in range(lo, hi):
                    if not addr <= i < addr + len(data):
                        self.known[i] = False
            self.owner[u] = ctx
        self.shadow[addr : addr + len(data)] = data
        for i in range(addr, addr + len(data)):
            self.known[i] = True

    @rule(
        ctx=st.sampled_from([None, 1, 2]),
        page=st.integers(0, PAGES - 1),
        offset=st.integers(0, PAGE - 1),
        data=st.binary(min_size=1, max_size=100),
    )
    def write(self, ctx: int | None, page: int, offset: int, data: bytes) -> None:
        addr = page * self.PAGE + offset
        data = data[: self.PAGES * self.PAGE - addr]
        self.mem.write(ctx, page, offset, data)
        if ctx is None:  # a plaintext store overwrites units partly: the rest keeps raw bytes
            for u in range(addr // 64, (addr + len(data) - 1) // 64 + 1):
                if self.owner[u] is not None:
                    for i in range(u * 64, u * 64 + 64):
                        if not addr <= i < addr + len(data):
                            self.known[i] = False
                self.owner[u] = None
            self.shadow[addr : addr + len(data)] = data
            for i in range(addr, addr + len(data)):
                self.known[i] = True
        else:
            self._apply(ctx, addr, data)

    @rule(page=st.integers(0, PAGES - 1))
    def batch_rewrite(self, page: int) -> None:
        """Re-encrypt a whole page under its line owners through the batch API (owner 1 only)."""
        if all(self.owner[u] == 1 for u in range(page * 2, page * 2 + 2)):
            data = self.mem.read_pages(1, np.array([page]))
            self.mem.write_pages(1, np.array([page]), data)

    @invariant()
    def reads_return_last_write(self) -> None:
        for u, ctx in enumerate(self.owner):
            lo = u * 64
            got = self.mem.read(ctx, lo // self.PAGE, lo % self.PAGE, 64)
            for i in range(64):
                if self.known[lo + i]:
                    assert got[i] == self.shadow[lo + i]


MemoryMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=15, deadline=None)
TestMemoryMachine = MemoryMachine.TestCase
