"""The state of the SEV-SNP machine and its helpers: RMP, NPTs, encrypted DRAM, AMD-SP records.

In: small sizes (pages, guests, gpas, pages per 2M page, bytes per page) and a seed.
Out: `SnpState`, the base class of `models.snp.SnpMachine` (instructions and accesses) and
`models.snp_fw.AmdSp` (firmware commands): the state they share, range checks, 2M regions,
the page-state derivation, and how a value is stored in and found in encrypted memory.
Guarantees: memory really holds ciphertext (models.memory.PhysicalMemory in "sev-xex" mode, one
key per ASID, programmed at construction as the AMD-SP loads each guest's VEK [V L/psp]).

How a value lives in memory (model convention): a store of `value` writes one 16-byte block
at offset 0 of the page -- 8 bytes little-endian value, then 8 zero bytes -- encrypted under
the writer's key (ASID 0 = unencrypted: host accesses and guest C=0 accesses; the SME key is
not modelled). The zero half is redundancy: `cell(page)` finds the key a page's value is under
by trial decryption with every key the machine has (a wrong key yields 8 zero bytes with
probability 2^-64), the way an observer holding all VEKs would. Nothing tracks the key on the
side, so a raw ciphertext write (replay, DRAM alias) shows up as what it decrypts to.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.memory import PhysicalMemory
from models.snp_rmp import VMPLS, GuestState, PageSize, PageState, RmpEntry, SwapRecord

OK = "ok"
NOT_RUNNING = "GUEST_NOT_RUNNING"  # model-only: a guest without running vCPUs executes nothing
VALUE_BYTES = 8
BLOCK_BYTES = 16


class SnpState:
    """RMP + per-guest NPTs + encrypted physical memory + guest-OS and AMD-SP bookkeeping."""

    def __init__(
        self,
        *,
        pages: int = 8,
        guests: int = 2,
        gpas: int = 4,
        pages_per_2m: int = 2,
        seed: int = 0,
        page_bytes: int = 64,
    ) -> None:
        if pages_per_2m < 1 or pages % pages_per_2m or gpas % pages_per_2m:
            raise ValueError("pages and gpas must be multiples of pages_per_2m")
        if page_bytes < BLOCK_BYTES or page_bytes % BLOCK_BYTES:
            raise ValueError(f"page_bytes must be a positive multiple of {BLOCK_BYTES}")
        self.pages, self.guests, self.gpas, self.n2m = pages, guests, gpas, pages_per_2m
        self.page_bytes = page_bytes
        self.rmp: list[RmpEntry] = [RmpEntry() for _ in range(pages)]
        # npt[g][gpa] = (page, leaf size) or None; a 2M leaf fills its aligned gpa range.
        self.npt: dict[int, list[tuple[int, PageSize] | None]] = {
            g: [None] * gpas for g in self.guest_ids()
        }
        self.mem = PhysicalMemory(pages, page_bytes=page_bytes, mode="sev-xex", seed=seed)
        for g in self.guest_ids():
            self.mem.program_key(g)  # the AMD-SP loads each guest's VEK for its ASID [V L/psp]
        # Guest software: the gpas each guest OS has validated (its duty: never twice).
        self.guest_os_validated: dict[int, set[int]] = {g: set() for g in self.guest_ids()}
        # AMD-SP state.
        self.guest_state: dict[int, GuestState] = {g: GuestState.LAUNCH for g in self.guest_ids()}
        self.launch_digest: dict[int, bytes] = {g: bytes(48) for g in self.guest_ids()}
        self.metadata: dict[int, SwapRecord | None] = {}  # Metadata pages -> their one slot
        self.context_pages: set[int] = set()  # Context (GCTX) pages
        self.swap_locked: set[int] = set()  # guest pages locked immutable by SWAP_OUT (Pre-Swap)
        key = hashlib.sha256(b"snp-transport" + seed.to_bytes(8, "little")).digest()[:16]
        self._transport = AESGCM(key)
        self._nonce = 0

    # ------------------------------------------------------------------ ranges and regions
    def guest_ids(self) -> range:
        """Guest numbers 1..guests; guest g runs with ASID g."""
        return range(1, self.guests + 1)

    def _chk(self, name: str, v: int, hi: int, lo: int = 0) -> None:
        if not lo <= v < hi:
            raise ValueError(f"{name}={v} out of range [{lo}, {hi})")

    def _chk_guest(self, guest: int, vmpl: int | None = None) -> None:
        self._chk("guest", guest, self.guests + 1, 1)
        if vmpl is not None:
            self._chk("vmpl", vmpl, VMPLS)

    def running(self, guest: int) -> bool:
        """Guest `guest` has passed LAUNCH_FINISH, so its vCPUs execute instructions."""
        return self.guest_state[guest] is GuestState.RUNNING

    def region(self, page: int) -> range:
        """The 4K pages (or gpas) of the aligned 2M region containing `page`."""
        base = page - page % self.n2m
        return range(base, base + self.n2m)

    def _set_region(self, head: int, entry: RmpEntry) -> None:
        """Write a 2M entry: copy into every page of the region with gpa = entry.gpa + i."""
        for i, p in enumerate(self.region(head)):
            self.rmp[p] = replace(entry, gpa=entry.gpa + i)

    def _targets(self, page: int) -> range:
        """Pages an instruction on `page` acts on: its 2M region for a 2M entry, else the page."""
        return self.region(page) if self.rmp[page].size is PageSize.S2M else range(page, page + 1)

    # ------------------------------------------------------------------ page states
    def page_state(self, page: int) -> str:
        """One of the eight PageState names, derived from the RMP entry plus AMD-SP bookkeeping
        (domain 1.2): !assigned -> HYPERVISOR; assigned asid 0 (always immutable here) ->
        METADATA / CONTEXT if the firmware made it one, else FIRMWARE [V L/ccp]; assigned guest
        page immutable -> PRE_SWAP if locked by SWAP_OUT [R] else PRE_GUEST [V L/kvm-sev];
        otherwise GUEST_VALID / GUEST_INVALID by `validated` [V L/virt-sev]."""
        self._chk("page", page, self.pages)
        e = self.rmp[page]
        if not e.assigned:
            s = PageState.HYPERVISOR
        elif e.asid == 0:
            if page in self.metadata:
                s = PageState.METADATA
            elif page in self.context_pages:
                s = PageState.CONTEXT
            else:
                s = PageState.FIRMWARE
        elif e.immutable:
            s = PageState.PRE_SWAP if page in self.swap_locked else PageState.PRE_GUEST
        else:
            s = PageState.GUEST_VALID if e.validated else PageState.GUEST_INVALID
        return s.value

    # ------------------------------------------------------------------ values in memory
    @staticmethod
    def _ctx(asid: int) -> int | None:
        """The memory-controller context of an ASID: None (unencrypted) for ASID 0."""
        return asid if asid != 0 else None

    @staticmethod
    def _block(value: int) -> bytes:
        return (value & 0xFFFFFFFFFFFFFFFF).to_bytes(VALUE_BYTES, "little") + bytes(BLOCK_BYTES - VALUE_BYTES)

    def store(self, asid: int, page: int, value: int) -> None:
        """Store `value` (mod 2^64) at offset 0 of `page`, encrypted under `asid`'s key."""
        self.mem.write(self._ctx(asid), page, 0, self._block(value))

    def load(self, asid: int, page: int) -> int:
        """The value at offset 0 of `page` as `asid` reads it (garbage under a wrong key)."""
        return self.mem.read_int(self._ctx(asid), page)

    def cell(self, page: int) -> tuple[int, int] | None:
        """(key, value): the ASID whose key the value at offset 0 of `page` is under, found by
        trial decryption (ASID 0 first, then the guests), and the value; None when no key
        yields a stored value (garbage, e.g. contents re-encrypted under a wrong key)."""
        for asid in range(self.guests + 1):
            block = self.mem.read(self._ctx(asid), page, 0, BLOCK_BYTES)
            if not any(block[VALUE_BYTES:]):
                return asid, int.from_bytes(block[:VALUE_BYTES], "little")
        return None
