"""The AMD SEV-SNP machine as the hardware manual and the AMD-SP firmware ABI describe it.

In: small sizes (`SnpMachine(pages=8, guests=2, gpas=4, pages_per_2m=2, seed=0)`) and actions as
methods (RMP instructions, guest/HV memory accesses, NPT edits, AMD-SP commands) with small ints.
Out: each action returns its outcome code as a string: "ok" or the vendor name (FAIL_INPUT,
FAIL_PERMISSION, FAIL_OVERLAP, FAIL_SIZEMISMATCH, FAIL_UNCHANGED, NPF, VC, RMP_PF; firmware:
INVALID_PAGE_STATE, INVALID_PAGE_SIZE, INVALID_MDATA_ENTRY, INVALID_PARAM; guest-OS refusal:
GUEST_REFUSED_DOUBLE_VALIDATE). Reads (guest_read, guest_fetch, rmp_check, hv_read) return
`(outcome, value)`; the value is None unless the outcome is "ok".
Guarantees: memory really holds ciphertext (models.memory.PhysicalMemory, one key per ASID),
every check is in the hardware's documented order (domain.md 1.3/1.4, cited per check), and
out-of-range indices (page, guest, gpa, vmpl) raise ValueError (a caller bug, not an outcome).

Conventions (model choices, documented):
- Guests are numbered 1..guests and guest g runs with ASID g. ASID 0 is the hypervisor; its
  accesses are unencrypted (host C=0 mapping, SME key not modelled), as are guest shared (C=0)
  accesses. The firmware transport key for swapping is an AES-GCM key held by the AMD-SP.
- A "2M" page is `pages_per_2m` consecutive 4K pages, aligned (also for GPAs). A 2M RMP entry is
  stored as a copy in each 4K entry of the region with gpa = base + i (see RmpEntry).
- `npt[g][gpa]` is `(page, PageSize)` or None. A 2M leaf fills the aligned gpa range.
- observe() shape: {"rmp": {page: RmpEntry.record()}, "npt": {guest: {gpa: page|None}},
  "npt_size": {guest: {gpa: "S4K"|"S2M"|None}}, "mem": {page: int (first 8 bytes LE, decrypted
  with the owner's key: ASID of an assigned guest page, else unencrypted)},
  "page_state": {page: PageState name}, "launch_digest": {guest: SHA-384 hex str},
  "guest_os_validated": {guest: frozenset(gpa)}, "metadata": {md_page: None | {"asid", "gpa",
  "validated", "vmsa", "perms"}} (one slot per Metadata page)}.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.memory import PhysicalMemory
from models.snp_rmp import (
    PERM_ALL,
    PERM_NONE,
    VMPLS,
    PageSize,
    PageState,
    Perm,
    RmpEntry,
    perm_names,
)

__all__ = ["PAGE_TYPES", "SnpMachine", "SwapRecord", "Perm", "PageSize", "PageState", "RmpEntry"]

OK = "ok"
# SNP_LAUNCH_UPDATE page types [V L/psp]
PAGE_TYPES = {"NORMAL": 1, "VMSA": 2, "ZERO": 3, "UNMEASURED": 4, "SECRETS": 5, "CPUID": 6}
_MEASURED_CONTENTS = {"NORMAL", "VMSA", "CPUID"}  # which types hash their contents [R FW ABI]


@dataclass(frozen=True)
class SwapRecord:
    """A metadata entry of a swapped-out guest page: saved RMP state plus the page contents
    sealed under the firmware transport key (AES-GCM, aad = asid||gpa) [R FW ABI]."""

    asid: int
    gpa: int
    validated: bool
    vmsa: bool
    perms: tuple[Perm, Perm, Perm, Perm]
    nonce: bytes
    sealed: bytes


class SnpMachine:
    """RMP + per-guest NPTs + encrypted physical memory + AMD-SP firmware state."""

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
        self.pages, self.guests, self.gpas, self.n2m = pages, guests, gpas, pages_per_2m
        self.page_bytes = page_bytes
        self.rmp: list[RmpEntry] = [RmpEntry() for _ in range(pages)]
        self.npt: dict[int, list[tuple[int, PageSize] | None]] = {
            g: [None] * gpas for g in self.guest_ids()
        }
        self.mem = PhysicalMemory(pages, page_bytes=page_bytes, mode="sev-xex", seed=seed)
        for g in self.guest_ids():
            self.mem.program_key(g)  # the AMD-SP loads each guest's VEK for its ASID [V L/psp]
        # Guest software: the gpas each guest OS has validated (its duty: never twice).
        self.guest_os_validated: dict[int, set[int]] = {g: set() for g in self.guest_ids()}
        # AMD-SP state.
        self.launch_digest: dict[int, bytes] = {g: bytes(48) for g in self.guest_ids()}
        self.metadata: dict[int, SwapRecord | None] = {}  # Metadata pages -> slot
        self.context_pages: set[int] = set()  # Context (GCTX) pages
        self.swap_locked: set[int] = set()  # guest pages locked immutable by SWAP_OUT (Pre-Swap)
        self._transport = AESGCM(hashlib.sha256(b"snp-transport" + seed.to_bytes(8, "little")).digest()[:16])
        self._nonce = 0

    # ------------------------------------------------------------------ helpers
    def guest_ids(self) -> range:
        return range(1, self.guests + 1)

    def _chk(self, name: str, v: int, hi: int, lo: int = 0) -> None:
        if not lo <= v < hi:
            raise ValueError(f"{name}={v} out of range [{lo}, {hi})")

    def _chk_guest(self, guest: int, vmpl: int | None = None) -> None:
        self._chk("guest", guest, self.guests + 1, 1)
        if vmpl is not None:
            self._chk("vmpl", vmpl, VMPLS)

    def region(self, page: int) -> range:
        """The 4K pages of the aligned 2M region containing `page`."""
        base = page - page % self.n2m
        return range(base, base + self.n2m)

    def _set_region(self, head: int, entry: RmpEntry) -> None:
        """Write a 2M entry: copy into every page of the region with gpa = entry.gpa + i."""
        for i, p in enumerate(self.region(head)):
            self.rmp[p] = replace(entry, gpa=entry.gpa + i)

    def _targets(self, page: int) -> range:
        """Pages an instruction on `page` acts on: its 2M region for a 2M entry, else the page."""
        return self.region(page) if self.rmp[page].size is PageSize.S2M else range(page, page + 1)

    # ------------------------------------------------------------------ RMP instructions
    def rmpupdate(
        self, page: int, asid: int, gpa: int, assigned: bool, size2m: bool, immutable: bool
    ) -> str:
        """RMPUPDATE (hypervisor). Checks in order:
        1. FAIL_INPUT: 2M with page or gpa not 2M-aligned; assigned with asid 0 but not immutable,
           or immutable but unassigned (model choice: keeps `assigned ∧ asid=0 ⇒ immutable`,
           domain 6.3; firmware pages are made with immutable=1 [V L/ccp]).
        2. FAIL_PERMISSION: the current entry (2M: any entry of the region) is immutable
           [V L/virt-sev rmpupdate; domain 6.5].
        3. FAIL_OVERLAP [V L/sev.h; concrete rule R]: a 4K request on a page inside an assigned 2M
           entry (PSMASH first), or a 2M request over a region holding an assigned 4K entry.
        Effect: writes (assigned, asid, gpa, size, immutable); validated := 0, vmsa := 0,
        perms[1..3] := none, perms[0] := all if assigned [V VSM access_s.rs rmpupdate; domain 1.5].
        """
        self._chk("page", page, self.pages)
        self._chk("asid", asid, self.guests + 1)
        self._chk("gpa", gpa, self.gpas)
        if size2m and (page % self.n2m or gpa % self.n2m):
            return "FAIL_INPUT"
        if (assigned and asid == 0 and not immutable) or (immutable and not assigned):
            return "FAIL_INPUT"
        pages = self.region(page) if size2m else range(page, page + 1)
        if any(self.rmp[p].immutable for p in pages):
            return "FAIL_PERMISSION"
        old = self.rmp[page]
        if not size2m and old.size is PageSize.S2M and old.assigned:
            return "FAIL_OVERLAP"
        if size2m and any(
            self.rmp[p].assigned and self.rmp[p].size is PageSize.S4K for p in pages
        ):
            return "FAIL_OVERLAP"
        perms = (PERM_ALL if assigned else PERM_NONE, PERM_NONE, PERM_NONE, PERM_NONE)
        size = PageSize.S2M if size2m else PageSize.S4K
        new = RmpEntry(assigned, asid, gpa, size, False, immutable, False, perms)
        if size2m:
            self._set_region(page, new)
        else:
            if old.size is PageSize.S2M:  # an unassigned 2M entry: the region becomes 4K entries
                for p in self.region(page):
                    self.rmp[p] = replace(self.rmp[p], size=PageSize.S4K)
            self.rmp[page] = new
        return OK

    def psmash(self, page: int) -> str:
        """PSMASH (hypervisor): split a 2M entry into 4K entries. FAIL_INPUT unless `page` is the
        head of a 2M entry; FAIL_PERMISSION if immutable (domain 6.5; choice: input first).
        Keeps validated, assigned, asid, vmsa, perms and per-page gpa [V L/virt-sev; domain 1.3]."""
        self._chk("page", page, self.pages)
        if page % self.n2m or self.rmp[page].size is not PageSize.S2M:
            return "FAIL_INPUT"
        if self.rmp[page].immutable:
            return "FAIL_PERMISSION"
        for p in self.region(page):
            self.rmp[p] = replace(self.rmp[p], size=PageSize.S4K)
        return OK

    def _translate(self, guest: int, gpa: int) -> tuple[int, PageSize] | None:
        self._chk("gpa", gpa, self.gpas)
        return self.npt[guest][gpa]

    def _guest_entry(self, guest: int, gpa: int, size2m: bool) -> tuple[int, RmpEntry] | None:
        """The page and entry a guest instruction (PVALIDATE, RMPADJUST) on gpa acts on, or
        None for #NPF: no translation, an entry that does not match (immutable, unassigned,
        other gpa or asid), or a 2M entry under a 4K request [V VSM pvalidate, rmpadjust]."""
        tr = self._translate(guest, gpa)
        if tr is None:
            return None
        page = tr[0]
        e = self.rmp[page]
        if not self._owner_match(guest, gpa, page) or (e.size is PageSize.S2M and not size2m):
            return None
        return page, e

    def _owner_match(self, guest: int, gpa: int, page: int) -> bool:
        """Entry not immutable, assigned, gpa and asid match (part of domain 1.3 PVALIDATE)."""
        e = self.rmp[page]
        return not e.immutable and e.assigned and e.gpa == gpa and e.asid == guest

    def pvalidate(self, guest: int, vmpl: int, gpa: int, size2m: bool, validate: bool) -> str:
        """PVALIDATE (guest) [V VSM pvalidate; domain 1.3]. Checks in order:
        VMPL != 0 -> FAIL_PERMISSION; 2M request with unaligned gpa -> FAIL_INPUT [R];
        no NPT translation -> NPF; entry immutable / !assigned / gpa != GPA / asid != guest /
        (RMP 2M and request 4K) -> NPF; RMP 4K and request 2M -> FAIL_SIZEMISMATCH;
        validated == requested -> FAIL_UNCHANGED (CF=1); else validated := requested."""
        self._chk_guest(guest, vmpl)
        if vmpl != 0:
            return "FAIL_PERMISSION"
        if size2m and gpa % self.n2m:
            return "FAIL_INPUT"
        found = self._guest_entry(guest, gpa, size2m)
        if found is None:
            return "NPF"
        page, e = found
        if e.size is PageSize.S4K and size2m:
            return "FAIL_SIZEMISMATCH"
        if e.validated == validate:
            return "FAIL_UNCHANGED"
        for p in self._targets(page):
            self.rmp[p] = replace(self.rmp[p], validated=validate)
        return OK

    def rmpadjust(
        self,
        guest: int,
        vmpl: int,
        gpa: int,
        target_vmpl: int,
        perms: int,
        vmsa: bool,
        size2m: bool = False,
    ) -> str:
        """RMPADJUST (guest) [V VSM rmpadjust; domain 1.3]. Checks in order:
        target_vmpl outside 0..3, perms outside 0..15 or 2M with unaligned gpa -> FAIL_INPUT;
        target_vmpl <= vmpl -> FAIL_PERMISSION; no translation or entry mismatch (immutable,
        !assigned, gpa, asid, RMP 2M with 4K request) -> NPF; !validated -> VC;
        RMP 4K with 2M request -> FAIL_SIZEMISMATCH; perms not a subset of perms[vmpl] ->
        FAIL_PERMISSION. Effect: perms[target] := perms, vmsa := vmsa."""
        self._chk_guest(guest, vmpl)
        if not 0 <= target_vmpl < VMPLS or not 0 <= perms <= int(PERM_ALL):
            return "FAIL_INPUT"
        if size2m and gpa % self.n2m:
            return "FAIL_INPUT"
        if target_vmpl <= vmpl:
            return "FAIL_PERMISSION"
        found = self._guest_entry(guest, gpa, size2m)
        if found is None:
            return "NPF"
        page, e = found
        if not e.validated:
            return "VC"
        if e.size is PageSize.S4K and size2m:
            return "FAIL_SIZEMISMATCH"
        want = Perm(perms)
        if want & ~e.perms[vmpl]:
            return "FAIL_PERMISSION"
        for p in self._targets(page):
            self.rmp[p] = replace(self.rmp[p].with_perm(target_vmpl, want), vmsa=vmsa)
        return OK

    # ------------------------------------------------------------------ the RMP check
    def rmp_check(
        self, guest: int, vmpl: int, gpa: int, need: Perm, private: bool
    ) -> tuple[str, int | None]:
        """The RMP check of a guest access (no side effects) [V VSM access_s.rs check_access;
        domain 1.4]. Returns (outcome, spa page or None). Order for C=1: no NPT translation ->
        NPF; rmp.gpa != gpa -> NPF; not (!immutable ∧ assigned ∧ asid == guest ∧ rmp size ==
        NPT leaf size) -> NPF; !validated -> VC (#VC 0x404); `need` not in perms[vmpl] -> NPF.
        For C=0: translation, then assigned -> NPF."""
        self._chk_guest(guest, vmpl)
        tr = self._translate(guest, gpa)
        if tr is None:
            return "NPF", None
        page, leaf = tr
        e = self.rmp[page]
        if not private:
            return ("NPF", None) if e.assigned else (OK, page)
        if e.gpa != gpa:
            return "NPF", None
        if e.immutable or not e.assigned or e.asid != guest or e.size is not leaf:
            return "NPF", None
        if not e.validated:
            return "VC", None
        if need & ~e.perms[vmpl]:
            return "NPF", None
        return OK, page

    def guest_write(self, guest: int, vmpl: int, gpa: int, value: int, private: bool) -> str:
        """A guest store of `value` (8 bytes LE at offset 0). Private data is encrypted under the
        guest's ASID key; shared (C=0) data is stored unencrypted."""
        outcome, page = self.rmp_check(guest, vmpl, gpa, Perm.Write, private)
        if page is None:
            return outcome
        self.mem.write_int(guest if private else None, page, value)
        return OK

    def guest_read(self, guest: int, vmpl: int, gpa: int, private: bool) -> tuple[str, int | None]:
        """A guest load: (outcome, value) with value None unless outcome is "ok"."""
        outcome, page = self.rmp_check(guest, vmpl, gpa, Perm.Read, private)
        if page is None:
            return outcome, None
        return OK, self.mem.read_int(guest if private else None, page)

    def guest_fetch(self, guest: int, vmpl: int, gpa: int, user: bool) -> tuple[str, int | None]:
        """An instruction fetch: always treated as private (C=1) [R APM; domain 1.4]; needs
        ExecUser (user mode) or ExecSuper. Returns (outcome, value)."""
        need = Perm.ExecUser if user else Perm.ExecSuper
        outcome, page = self.rmp_check(guest, vmpl, gpa, need, True)
        if page is None:
            return outcome, None
        return OK, self.mem.read_int(guest, page)

    # ------------------------------------------------------------------ hypervisor
    def _hv_write_check(self, page: int, via_2m: bool) -> bool:
        """Domain 1.3/1.4 and 6.4: HV writes need !assigned; through a >=2M host mapping, no
        entry of the 2M region may be assigned [V L/virt-sev adjust_direct_map]."""
        self._chk("page", page, self.pages)
        pages = self.region(page) if via_2m else range(page, page + 1)
        return not any(self.rmp[p].assigned for p in pages)

    def hv_write(self, page: int, value: int, via_2m: bool = False) -> str:
        """HV store of `value` (unencrypted); RMP_PF if the write is RMP-blocked."""
        if not self._hv_write_check(page, via_2m):
            return "RMP_PF"
        self.mem.write_int(None, page, value)
        return OK

    def hv_write_raw(self, page: int, data: bytes, via_2m: bool = False) -> str:
        """HV store of raw bytes at offset 0 (e.g. replaying captured ciphertext)."""
        if not self._hv_write_check(page, via_2m):
            return "RMP_PF"
        self.mem.write_ciphertext(page, 0, data)
        return OK

    def hv_read(self, page: int) -> tuple[str, bytes]:
        """HV load of a whole page: never blocked, returns the stored ciphertext (no ciphertext
        hiding) [V enclaive; domain 1.4]."""
        self._chk("page", page, self.pages)
        return OK, self.mem.read_ciphertext(page)

    def npt_map(self, guest: int, gpa: int, page: int, size2m: bool = False) -> str:
        """The HV installs a NPT leaf gpa -> page (any page; the NPT is untrusted). A 2M leaf needs
        gpa and page 2M-aligned (else FAIL_INPUT) and covers the whole region. Changing part of
        an existing 2M leaf first splits it into 4K leaves (as a page-table split does)."""
        self._chk_guest(guest)
        self._chk("gpa", gpa, self.gpas)
        self._chk("page", page, self.pages)
        if size2m and (gpa % self.n2m or page % self.n2m):
            return "FAIL_INPUT"
        table = self.npt[guest]
        if size2m:
            for i in range(self.n2m):
                table[gpa + i] = (page + i, PageSize.S2M)
            return OK
        self._split_leaf(guest, gpa)
        table[gpa] = (page, PageSize.S4K)
        return OK

    def _split_leaf(self, guest: int, gpa: int) -> None:
        table = self.npt[guest]
        cur = table[gpa]
        if cur is not None and cur[1] is PageSize.S2M:
            for g in self.region(gpa):
                leaf = table[g]
                if leaf is not None:
                    table[g] = (leaf[0], PageSize.S4K)

    def npt_unmap(self, guest: int, gpa: int) -> str:
        """The HV removes the leaf holding gpa (a whole 2M leaf if gpa is in one)."""
        self._chk_guest(guest)
        self._chk("gpa", gpa, self.gpas)
        table = self.npt[guest]
        cur = table[gpa]
        span = self.region(gpa) if cur is not None and cur[1] is PageSize.S2M else [gpa]
        for g in span:
            table[g] = None
        return OK

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

    # ------------------------------------------------------------------ AMD-SP firmware
    def launch_update(
        self,
        guest: int,
        page: int,
        gpa: int,
        contents_value: int,
        page_type: str = "NORMAL",
        vmpl_perms: tuple[int, int, int] = (0, 0, 0),
    ) -> str:
        """SNP_LAUNCH_UPDATE [V L/psp; L/kvm-sev]. INVALID_PARAM for an unknown page type or
        perms outside 0..15; INVALID_PAGE_STATE unless the page is Pre-Guest for (guest, gpa),
        4K. Effect [R FW ABI]: page := zeros + contents_value (ZERO: all zeros) encrypted under the
        guest key; digest := SHA-384(digest || gpa(8 LE) || type(1) || SHA-384(contents)), with
        contents = empty bytes for ZERO/UNMEASURED/SECRETS; validated := 1, immutable := 0,
        vmsa := (type == VMSA), perms[1..3] := vmpl_perms. The guest OS learns that gpa is
        validated (pre-validated boot memory), so it is added to guest_os_validated."""
        self._chk_guest(guest)
        self._chk("page", page, self.pages)
        self._chk("gpa", gpa, self.gpas)
        if page_type not in PAGE_TYPES or any(not 0 <= p <= int(PERM_ALL) for p in vmpl_perms):
            return "INVALID_PARAM"
        e = self.rmp[page]
        if self.page_state(page) != PageState.PRE_GUEST.value or e.asid != guest or e.gpa != gpa:
            return "INVALID_PAGE_STATE"
        if e.size is not PageSize.S4K:
            return "INVALID_PAGE_SIZE"
        self.mem.zero(guest, page)
        if page_type != "ZERO":
            self.mem.write_int(guest, page, contents_value)
        measured = b""
        if page_type in _MEASURED_CONTENTS:
            measured = self.mem.read(guest, page, 0, self.page_bytes)
        h = hashlib.sha384()
        h.update(self.launch_digest[guest])
        h.update(gpa.to_bytes(8, "little"))
        h.update(bytes([PAGE_TYPES[page_type]]))
        h.update(hashlib.sha384(measured).digest())
        self.launch_digest[guest] = h.digest()
        perms = (PERM_ALL, Perm(vmpl_perms[0]), Perm(vmpl_perms[1]), Perm(vmpl_perms[2]))
        self.rmp[page] = replace(
            e, validated=True, immutable=False, vmsa=page_type == "VMSA", perms=perms
        )
        self.guest_os_validated[guest].add(gpa)
        return OK

    def _make_fw_owned(self, page: int, book: str) -> str:
        if self.page_state(page) != PageState.FIRMWARE.value:
            return "INVALID_PAGE_STATE"
        if self.rmp[page].size is not PageSize.S4K:
            return "INVALID_PAGE_SIZE"
        if book == "md":
            self.metadata[page] = None
        else:
            self.context_pages.add(page)
        return OK

    def page_md_init(self, page: int) -> str:
        """SNP_PAGE_MD_INIT [V L/psp id; semantics R]: a Firmware page (the HV made it with
        RMPUPDATE asid 0, immutable) becomes a Metadata page with one empty slot; else
        INVALID_PAGE_STATE, or INVALID_PAGE_SIZE for a 2M firmware entry."""
        return self._make_fw_owned(page, "md")

    def gctx_create(self, page: int) -> str:
        """SNP_GCTX_CREATE: a Firmware page becomes a guest Context page [V L/kvm-sev uses a
        firmware page; R for the rest]. Errors as page_md_init."""
        return self._make_fw_owned(page, "ctx")

    def page_reclaim(self, page: int) -> str:
        """SNP_PAGE_RECLAIM [V L/kvm-sev comment; L/ccp]: an immutable firmware-owned page
        (Firmware, Pre-Guest, Pre-Swap, Context, empty Metadata) loses immutable so RMPUPDATE
        works again; else INVALID_PAGE_STATE (also for a Metadata page whose slot is in use [R]).
        Model choice [R]: asid-0 pages go straight to Hypervisor (assigned := 0) so that
        `assigned ∧ asid=0 ⇒ immutable` holds; guest pages become Guest-Invalid with
        perms[1..3] := none and vmsa := 0. A 2M entry is reclaimed as a whole."""
        state = self.page_state(page)
        e = self.rmp[page]
        if not e.immutable or (state == PageState.METADATA.value and self.metadata[page]):
            return "INVALID_PAGE_STATE"
        self.metadata.pop(page, None)
        self.context_pages.discard(page)
        self.swap_locked.discard(page)
        guest_page = e.asid != 0
        perms = (PERM_ALL if guest_page else PERM_NONE, PERM_NONE, PERM_NONE, PERM_NONE)
        for p in self._targets(page):  # a whole 2M entry if the page is part of one
            self.rmp[p] = replace(
                self.rmp[p], immutable=False, validated=False, vmsa=False,
                assigned=guest_page, perms=perms,
            )
        return OK

    def page_swap_out(self, page: int, metadata_page: int) -> str:
        """SNP_PAGE_SWAP_OUT [V L/psp id; semantics R, domain 1.3]. INVALID_PAGE_STATE unless
        `page` is a mutable guest page (Guest-Valid/Invalid); INVALID_PAGE_SIZE for a 2M entry;
        INVALID_MDATA_ENTRY unless metadata_page is a Metadata page with an empty slot.
        Effect: contents sealed under the transport key with the RMP state (asid, gpa,
        validated, vmsa, perms) into the slot; the page is locked (Pre-Swap: immutable,
        validated := 0) so neither the guest nor the HV can use it until reclaim or swap-in."""
        self._chk("page", page, self.pages)
        self._chk("page", metadata_page, self.pages)
        e = self.rmp[page]
        if self.page_state(page) not in (PageState.GUEST_VALID.value, PageState.GUEST_INVALID.value):
            return "INVALID_PAGE_STATE"
        if e.size is not PageSize.S4K:
            return "INVALID_PAGE_SIZE"
        if metadata_page not in self.metadata or self.metadata[metadata_page] is not None:
            return "INVALID_MDATA_ENTRY"
        plain = self.mem.read(e.asid, page, 0, self.page_bytes)
        self._nonce += 1
        nonce = self._nonce.to_bytes(12, "little")
        aad = bytes([e.asid]) + e.gpa.to_bytes(8, "little")
        sealed = self._transport.encrypt(nonce, plain, aad)
        self.metadata[metadata_page] = SwapRecord(
            e.asid, e.gpa, e.validated, e.vmsa, e.perms, nonce, sealed
        )
        self.rmp[page] = replace(e, immutable=True, validated=False, vmsa=False)
        self.swap_locked.add(page)
        return OK

    def page_swap_in(self, page: int, metadata_page: int) -> str:
        """SNP_PAGE_SWAP_IN [V L/psp id; semantics R]. INVALID_MDATA_ENTRY unless metadata_page
        holds a swapped-out record; INVALID_PAGE_STATE unless `page` is 4K, assigned, immutable,
        not firmware-owned, with the record's asid and gpa (the locked original page, or a page
        the HV prepared as Pre-Guest for that gpa). Effect: contents unsealed (AEAD-checked) and
        re-encrypted under the guest key at the new SPA; validated, vmsa, perms restored;
        immutable := 0; the slot is emptied."""
        self._chk("page", page, self.pages)
        self._chk("page", metadata_page, self.pages)
        rec = self.metadata.get(metadata_page)
        if rec is None:
            return "INVALID_MDATA_ENTRY"
        e = self.rmp[page]
        if (
            not e.assigned
            or not e.immutable
            or e.asid != rec.asid
            or e.gpa != rec.gpa
            or e.size is not PageSize.S4K
        ):
            return "INVALID_PAGE_STATE"
        aad = bytes([rec.asid]) + rec.gpa.to_bytes(8, "little")
        plain = self._transport.decrypt(rec.nonce, rec.sealed, aad)
        self.mem.write(rec.asid, page, 0, plain)
        self.rmp[page] = replace(
            e, immutable=False, validated=rec.validated, vmsa=rec.vmsa, perms=rec.perms
        )
        self.metadata[metadata_page] = None
        self.swap_locked.discard(page)
        return OK

    # ------------------------------------------------------------------ guest OS
    def guest_os_pvalidate(self, guest: int, gpa: int) -> str:
        """The guest OS validates gpa at VMPL0 unless it already did (its duty never to validate a
        gpa twice, which is what stops an HV remap + re-validate; [V L/guest-sev])."""
        self._chk_guest(guest)
        if gpa in self.guest_os_validated[guest]:
            return "GUEST_REFUSED_DOUBLE_VALIDATE"
        outcome = self.pvalidate(guest, 0, gpa, False, True)
        if outcome == OK:
            self.guest_os_validated[guest].add(gpa)
        return outcome

    def guest_os_unvalidate(self, guest: int, gpa: int) -> str:
        """The guest OS rescinds validation (PVALIDATE(0) before a private->shared page state
        change [V L/guest-sev __page_state_change]) and forgets the gpa on success."""
        self._chk_guest(guest)
        outcome = self.pvalidate(guest, 0, gpa, False, False)
        if outcome == OK:
            self.guest_os_validated[guest].discard(gpa)
        return outcome

    # ------------------------------------------------------------------ observation
    def _owner_ctx(self, page: int) -> int | None:
        e = self.rmp[page]
        return e.asid if e.assigned and e.asid != 0 else None

    def observe(self) -> dict[str, object]:
        """Spec-visible state as plain values; shape in the module docstring."""
        md: dict[int, object] = {}
        for p, rec in sorted(self.metadata.items()):
            md[p] = None if rec is None else {
                "asid": rec.asid,
                "gpa": rec.gpa,
                "validated": rec.validated,
                "vmsa": rec.vmsa,
                "perms": {v: perm_names(x) for v, x in enumerate(rec.perms)},
            }
        return {
            "rmp": {p: e.record() for p, e in enumerate(self.rmp)},
            "npt": {g: {a: (t[0] if t is not None else None) for a, t in enumerate(tab)}
                    for g, tab in self.npt.items()},
            "npt_size": {g: {a: (t[1].name if t is not None else None) for a, t in enumerate(tab)}
                         for g, tab in self.npt.items()},
            "mem": {p: self.mem.read_int(self._owner_ctx(p), p) for p in range(self.pages)},
            "page_state": {p: self.page_state(p) for p in range(self.pages)},
            "launch_digest": {g: d.hex() for g, d in self.launch_digest.items()},
            "guest_os_validated": {g: frozenset(s) for g, s in self.guest_os_validated.items()},
            "metadata": md,
        }
