"""Physical memory whose bytes really hold ciphertext, keyed per context.

What goes in: a size (``pages`` of ``page_bytes``), an encryption ``mode`` and a ``seed``; then keys
programmed per context id (an SEV ASID, a TDX HKID, an MKTME KeyID, a CCA realm MECID -- any small
int) and reads and writes that name the context whose key the memory controller uses, or ``None``
for an unencrypted access (SEV C-bit clear, shared pages, MKTME NO_ENCRYPT).

What comes out: plaintext for reads under a context (garbage when the key does not match the one
that wrote the bytes), and raw ciphertext for :meth:`PhysicalMemory.read_ciphertext`, which is what
a hypervisor or a DMA device sees.

What is guaranteed:

* One numpy uint8 array holds the stored bytes; every write stores ciphertext produced by the
  vectorised engines of :mod:`models.encryption`, every read decrypts what is stored.
* The physical address of byte ``offset`` of ``page`` is ``page * page_bytes + offset``; it is the
  tweak input.  Modes (domain.md section 4):

  - ``"xts-line"``: AES-128-XTS with 64-byte data units, tweak = data unit number
    ``pa // 64`` (TME-MK / TDX style [V TDXM README]);
  - ``"xts-page"``: the same with 4096-byte data units;
  - ``"sev-xex"``: SEV-style AES-128 XEX on 16-byte blocks with a linear address tweak
    ([R] SEVurity).

  If ``page_bytes`` is smaller than the mode's data unit, the page is the data unit (so
  ``"xts-page"`` with 64-byte pages encrypts each 64-byte page as one XTS unit).  ``page_bytes``
  must be a multiple of the unit (and of 16).
* Writes smaller than a data unit are read-modify-write under the same key, as a memory
  controller does for a partial line.  A partial write under a context whose key does not match the
  stored data therefore garbles the rest of the unit, as on real hardware.
* No integrity and no freshness: replaying old ciphertext with :meth:`write_ciphertext` at the
  same address makes reads return the old plaintext (the reason SNP has an RMP and TDX a MAC).
* Accessing an encrypted context that has no key raises :class:`NoKeyError`; callers model the
  hardware's reaction (fault, poison, fixed pattern) themselves.
* Accesses may cross page boundaries but not the end of memory (``ValueError``).
"""

from __future__ import annotations

import hashlib

import numpy as np

from models.encryption import BLOCK, Engine, SevXexEngine, XtsEngine

__all__ = ["MODES", "NoKeyError", "PhysicalMemory"]

MODES: dict[str, int] = {"xts-line": 64, "xts-page": 4096, "sev-xex": BLOCK}


class NoKeyError(LookupError):
    """An encrypted access named a context that has no key programmed."""


class PhysicalMemory:
    """Physical memory whose bytes really hold ciphertext."""

    def __init__(self, pages: int, *, page_bytes: int = 4096, mode: str = "xts-line", seed: int = 0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(MODES)}")
        if pages <= 0:
            raise ValueError("pages must be positive")
        if page_bytes <= 0 or page_bytes % BLOCK:
            raise ValueError(f"page_bytes must be a positive multiple of {BLOCK}")
        unit = min(MODES[mode], page_bytes)
        if page_bytes % unit:
            raise ValueError(f"page_bytes {page_bytes} is not a multiple of the {mode} unit ({unit})")
        self.pages = pages
        self.page_bytes = page_bytes
        self.mode = mode
        self.seed = seed
        self.unit_bytes = unit
        self.size = pages * page_bytes
        self._mem = np.zeros(self.size, dtype=np.uint8)
        self._engines: dict[int, Engine] = {}
        self._by_key: dict[bytes, Engine] = {}  # cipher objects cached per key, not per context

    # ------------------------------------------------------------------------------ keys
    def _key_len(self) -> int:
        return 16 if self.mode == "sev-xex" else 32

    def derive_key(self, ctx: int) -> bytes:
        """The deterministic key that ``program_key(ctx)`` uses: SHA-256 of seed and ctx."""
        digest = hashlib.sha256(f"tee-check memory key seed={self.seed} ctx={ctx}".encode()).digest()
        return digest[: self._key_len()]

    def _engine_for(self, key: bytes) -> Engine:
        eng = self._by_key.get(key)
        if eng is None:
            if self.mode == "sev-xex":
                eng = SevXexEngine(key, self.unit_bytes)
            else:
                eng = XtsEngine(key, self.unit_bytes)
            self._by_key[key] = eng
        return eng

    def program_key(self, ctx: int, key: bytes | None = None) -> None:
        """Give context ``ctx`` a key (None: derived from seed and ctx).  Stored bytes do not change.

        Key sizes: XTS modes take key1 || key2, 32 bytes (AES-128) or 64 (AES-256); ``sev-xex``
        takes 16 (AES-128) or 32 (AES-256).  Like PCONFIG SET_KEY_* [V TDXM mktme.h] or
        SEV ACTIVATE binding a VEK to an ASID [V L/psp].
        """
        self._engines[ctx] = self._engine_for(self.derive_key(ctx) if key is None else bytes(key))

    def clear_key(self, ctx: int) -> None:
        """The context has no key any more (PCONFIG CLEAR_KEY, SEV DEACTIVATE)."""
        self._engines.pop(ctx, None)

    def has_key(self, ctx: int) -> bool:
        return ctx in self._engines

    def engine(self, ctx: int) -> Engine:
        """The engine of context ``ctx`` (raises :class:`NoKeyError`)."""
        eng = self._engines.get(ctx)
        if eng is None:
            raise NoKeyError(f"context {ctx} has no key programmed")
        return eng

    # ------------------------------------------------------------------------------ helpers
    def _addr(self, page: int, offset: int, length: int) -> int:
        addr = page * self.page_bytes + offset
        if page < 0 or offset < 0 or length < 0 or addr + length > self.size:
            raise ValueError(
                f"access page={page} offset={offset} length={length} outside memory "
                f"({self.pages} pages of {self.page_bytes} bytes)"
            )
        return addr

    def _span(self, addr: int, length: int) -> tuple[int, int]:
        u = self.unit_bytes
        lo = addr - addr % u
        hi = addr + length
        hi += -hi % u
        return lo, hi

    def _unit_addrs(self, lo: int, hi: int) -> np.ndarray:
        return np.arange(lo, hi, self.unit_bytes, dtype=np.uint64)

    # ------------------------------------------------------------------------------ accesses
    def write(self, ctx: int | None, page: int, offset: int, data: bytes) -> None:
        """Store ``data`` at (page, offset), encrypted under ``ctx`` (None = no encryption)."""
        length = len(data)
        addr = self._addr(page, offset, length)
        if length == 0:
            return
        if ctx is None:
            self._mem[addr : addr + length] = np.frombuffer(bytes(data), dtype=np.uint8)
            return
        eng = self.engine(ctx)
        lo, hi = self._span(addr, length)
        ub = self.unit_bytes
        addrs = self._unit_addrs(lo, hi)
        if lo == addr and hi == addr + length:
            plain = np.frombuffer(bytes(data), dtype=np.uint8).reshape(-1, ub)
        else:  # partial unit: read-modify-write under the same key
            plain = eng.decrypt(self._mem[lo:hi].reshape(-1, ub), addrs)
            plain.reshape(-1)[addr - lo : addr - lo + length] = np.frombuffer(bytes(data), dtype=np.uint8)
        self._mem[lo:hi] = eng.encrypt(plain, addrs).reshape(-1)

    def read(self, ctx: int | None, page: int, offset: int, length: int) -> bytes:
        """Read ``length`` bytes at (page, offset), decrypted under ``ctx`` (wrong key: garbage)."""
        addr = self._addr(page, offset, length)
        if ctx is None or length == 0:
            return self._mem[addr : addr + length].tobytes()
        eng = self.engine(ctx)
        lo, hi = self._span(addr, length)
        plain = eng.decrypt(self._mem[lo:hi].reshape(-1, self.unit_bytes), self._unit_addrs(lo, hi))
        return plain.reshape(-1)[addr - lo : addr - lo + length].tobytes()

    def encrypt_at(self, ctx: int | None, page: int, data: bytes) -> bytes:
        """The bytes ``write(ctx, page, 0, data)`` would store, memory untouched (``data``: whole
        units from the start of the page)."""
        return self._transcode(ctx, page, data, encrypt=True)

    def decrypt_at(self, ctx: int | None, page: int, data: bytes) -> bytes:
        """What ``read(ctx, page, 0, len(data))`` would return if memory held ``data`` there,
        memory untouched (``data``: whole units from the start of the page)."""
        return self._transcode(ctx, page, data, encrypt=False)

    def _transcode(self, ctx: int | None, page: int, data: bytes, *, encrypt: bool) -> bytes:
        addr = self._addr(page, 0, len(data))
        if len(data) % self.unit_bytes:
            raise ValueError(f"{len(data)} bytes is not a whole number of {self.unit_bytes}-byte units")
        if ctx is None or not data:
            return bytes(data)
        eng = self.engine(ctx)
        units = np.frombuffer(bytes(data), dtype=np.uint8).reshape(-1, self.unit_bytes)
        addrs = self._unit_addrs(addr, addr + len(data))
        out = eng.encrypt(units, addrs) if encrypt else eng.decrypt(units, addrs)
        return out.reshape(-1).tobytes()

    def read_ciphertext(self, page: int, offset: int = 0, length: int | None = None) -> bytes:
        """The stored bytes as they are (what a hypervisor or DMA sees); default: rest of the page."""
        if length is None:
            length = self.page_bytes - offset
        addr = self._addr(page, offset, length)
        return self._mem[addr : addr + length].tobytes()

    def write_ciphertext(self, page: int, offset: int, data: bytes) -> None:
        """Store raw bytes without encryption (replay / remap attacks, DMA writes)."""
        addr = self._addr(page, offset, len(data))
        self._mem[addr : addr + len(data)] = np.frombuffer(bytes(data), dtype=np.uint8)

    def zero(self, ctx: int | None, page: int) -> None:
        """Store the whole page as zeros encrypted under ``ctx`` (None: plain zeros)."""
        self.write(ctx, page, 0, bytes(self.page_bytes))

    def write_int(self, ctx: int | None, page: int, value: int) -> None:
        """Store ``value`` as 8 bytes little-endian at offset 0 (value taken modulo 2^64)."""
        self.write(ctx, page, 0, (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little"))

    def read_int(self, ctx: int | None, page: int) -> int:
        """Read the 8 bytes at offset 0 of ``page`` as a little-endian unsigned int."""
        return int.from_bytes(self.read(ctx, page, 0, 8), "little")

    # ------------------------------------------------------------------------------ batches
    def _page_unit_addrs(self, pages: np.ndarray) -> np.ndarray:
        per = self.page_bytes // self.unit_bytes
        base = pages.astype(np.uint64) * np.uint64(self.page_bytes)
        offs = np.arange(per, dtype=np.uint64) * np.uint64(self.unit_bytes)
        return (base[:, None] + offs[None, :]).reshape(-1)

    def _check_pages(self, pages: np.ndarray) -> np.ndarray:
        p = np.asarray(pages, dtype=np.int64).reshape(-1)
        if p.size and (p.min() < 0 or p.max() >= self.pages):
            raise ValueError("page index outside memory")
        return p

    def write_pages(self, ctx: int | None, pages: np.ndarray, data: np.ndarray) -> None:
        """Write whole pages at once: ``data`` is uint8 ``(len(pages), page_bytes)``.

        One vectorised engine call for all pages; later duplicates in ``pages`` win.
        """
        p = self._check_pages(pages)
        plain = np.asarray(data, dtype=np.uint8).reshape(p.size, self.page_bytes)
        view = self._mem.reshape(self.pages, self.page_bytes)
        if ctx is None:
            view[p] = plain
            return
        eng = self.engine(ctx)
        ct = eng.encrypt(plain.reshape(-1, self.unit_bytes), self._page_unit_addrs(p))
        view[p] = ct.reshape(p.size, self.page_bytes)

    def read_pages(self, ctx: int | None, pages: np.ndarray) -> np.ndarray:
        """Read whole pages at once: returns uint8 ``(len(pages), page_bytes)`` plaintext."""
        p = self._check_pages(pages)
        stored = self._mem.reshape(self.pages, self.page_bytes)[p]
        if ctx is None:
            return stored
        eng = self.engine(ctx)
        plain = eng.decrypt(stored.reshape(-1, self.unit_bytes), self._page_unit_addrs(p))
        return plain.reshape(p.size, self.page_bytes)
