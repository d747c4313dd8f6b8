"""The AMD SEV-SNP machine as the hardware manual and the AMD-SP firmware ABI describe it.

In: small sizes (`SnpMachine(pages=8, guests=2, gpas=4, pages_per_2m=2, seed=0)`) and actions as
methods (RMP instructions, guest/HV memory accesses, NPT edits, AMD-SP commands), named and
parameterised like the actions of spec/snp.tee: ints, bools, enum member names (page types),
and RMPADJUST permissions as a set of bit names ({"Read", "Write"}), a Perm or an int.
Out: each action returns its outcome code as a string: "ok" or the vendor name (FAIL_INPUT,
FAIL_PERMISSION, FAIL_OVERLAP, FAIL_SIZEMISMATCH, FAIL_UNCHANGED, NPF, VC, RMP_PF; firmware:
INVALID_GUEST_STATE, INVALID_PAGE_STATE, INVALID_PAGE_SIZE, INVALID_MDATA_ENTRY, INVALID_PARAM;
guest-OS refusal: GUEST_REFUSED_DOUBLE_VALIDATE; GUEST_NOT_RUNNING for a guest instruction or
access before LAUNCH_FINISH, which the spec never takes). Reads (guest_read, guest_fetch,
rmp_check, hv_read) return `(outcome, value)`; the value is None unless the outcome is "ok".
`observe()` returns the state spec/snp.tee declares (non-ghost) as plain values.
Guarantees: memory really holds ciphertext (models.snp_base: one key per ASID, values found by
trial decryption), every check is in the hardware's documented order (domain.md 1.3/1.4, cited
per check), a failing action changes nothing, and out-of-range indices (page, guest, gpa, vmpl)
raise ValueError (a caller bug, not an outcome).

Conventions (model choices, documented):
- Guests are numbered 1..guests and guest g runs with ASID g. ASID 0 is the hypervisor; its
  accesses are unencrypted (host C=0 mapping, SME key not modelled), as are guest shared (C=0)
  accesses. Guests start in the firmware's LAUNCH state; LAUNCH_FINISH makes them RUNNING.
- A "2M" page is `pages_per_2m` consecutive 4K pages, aligned (also for GPAs). A 2M RMP entry is
  stored as a copy in each 4K entry of the region with gpa = base + i (see RmpEntry).
- `npt[g][gpa]` is `(page, PageSize)` or None. A 2M leaf fills the aligned gpa range.
- observe() shape (spec/snp.tee's vars): {"rmp": {page: RmpEntry.record()}, "npt": {guest:
  {gpa: page|None}}, "npt_size": {guest: {gpa: "S4K"|"S2M"|None}}, "mem": {page: {"key": asid,
  "val": int}} (the key found by trial decryption; {"key": None, "val": None} if no key decrypts
  the page to a stored value), "guest_state": {guest: "LAUNCH"|"RUNNING"},
  "guest_os_validated": {guest: frozenset(gpa)}, "md_pages": frozenset(page), "slots": {page:
  None | {"asid", "gpa", "validated", "vmsa", "perms", "key", "val"}} (the unsealed record;
  key and val are the page's Cell when it was sealed, see `sealed_cell`), "context_pages":
  frozenset(page), "swap_locked": frozenset(page)}.
  `page_state(p)` and `launch_digest` are there to read too, outside observe().
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from models.snp_base import NOT_RUNNING, OK
from models.snp_fw import PAGE_TYPES, AmdSp
from models.snp_rmp import (
    PERM_ALL,
    PERM_NONE,
    VMPLS,
    GuestState,
    PageSize,
    PageState,
    Perm,
    RmpEntry,
    SwapRecord,
    as_perm,
    perm_names,
)

__all__ = ["PAGE_TYPES", "GuestState", "PageSize", "PageState", "Perm", "RmpEntry", "SnpMachine",
           "SwapRecord"]


class SnpMachine(AmdSp):
    """RMP instructions, the RMP check on guest accesses, host accesses, NPT edits, the guest
    OS's validation discipline, and the AMD-SP commands (inherited from `AmdSp`)."""

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

    def _owner_match(self, guest: int, gpa: int, page: int) -> bool:
        """Entry not immutable, assigned, gpa and asid match (part of domain 1.3 PVALIDATE)."""
        e = self.rmp[page]
        return not e.immutable and e.assigned and e.gpa == gpa and e.asid == guest

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

    def pvalidate(self, guest: int, vmpl: int, gpa: int, size2m: bool, validate: bool) -> str:
        """PVALIDATE (guest) [V VSM pvalidate; domain 1.3]. Checks in order:
        VMPL != 0 -> FAIL_PERMISSION; 2M request with unaligned gpa -> FAIL_INPUT [R];
        no NPT translation -> NPF; entry immutable / !assigned / gpa != GPA / asid != guest /
        (RMP 2M and request 4K) -> NPF; RMP 4K and request 2M -> FAIL_SIZEMISMATCH;
        validated == requested -> FAIL_UNCHANGED (CF=1); else validated := requested
        (2M: every entry of the region)."""
        self._chk_guest(guest, vmpl)
        if not self.running(guest):
            return NOT_RUNNING
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
        perms: Perm | int | Iterable[str],
        vmsa: bool,
        size2m: bool = False,
    ) -> str:
        """RMPADJUST (guest) [V VSM rmpadjust; domain 1.3]. Checks in order:
        target_vmpl outside 0..3, malformed perms or 2M with unaligned gpa -> FAIL_INPUT;
        target_vmpl <= vmpl -> FAIL_PERMISSION; no translation or entry mismatch (immutable,
        !assigned, gpa, asid, RMP 2M with 4K request) -> NPF; !validated -> VC;
        RMP 4K with 2M request -> FAIL_SIZEMISMATCH; perms not a subset of perms[vmpl] ->
        FAIL_PERMISSION. Effect: perms[target] := perms, vmsa := vmsa (2M: the region)."""
        self._chk_guest(guest, vmpl)
        if not self.running(guest):
            return NOT_RUNNING
        want = as_perm(perms)
        if not 0 <= target_vmpl < VMPLS or want is None:
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
        if not self.running(guest):
            return NOT_RUNNING, None
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
        """A guest store of `value`: private (C=1) encrypted under the guest's ASID key, shared
        (C=0) unencrypted; after the RMP check with Write."""
        outcome, page = self.rmp_check(guest, vmpl, gpa, Perm.Write, private)
        if page is None:
            return outcome
        self.store(guest if private else 0, page, value)
        return OK

    def guest_read(self, guest: int, vmpl: int, gpa: int, private: bool) -> tuple[str, int | None]:
        """A guest load: (outcome, value) with value None unless outcome is "ok"."""
        outcome, page = self.rmp_check(guest, vmpl, gpa, Perm.Read, private)
        if page is None:
            return outcome, None
        return OK, self.load(guest if private else 0, page)

    def guest_fetch(self, guest: int, vmpl: int, gpa: int, user: bool) -> tuple[str, int | None]:
        """An instruction fetch: always treated as private (C=1) [R APM; domain 1.4]; needs
        ExecUser (user mode) or ExecSuper. Returns (outcome, value)."""
        need = Perm.ExecUser if user else Perm.ExecSuper
        outcome, page = self.rmp_check(guest, vmpl, gpa, need, True)
        if page is None:
            return outcome, None
        return OK, self.load(guest, page)

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
        self.store(0, page, value)
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
        cur = table[gpa]
        if cur is not None and cur[1] is PageSize.S2M:  # split the 2M leaf
            for g in self.region(gpa):
                leaf = table[g]
                if leaf is not None:
                    table[g] = (leaf[0], PageSize.S4K)
        table[gpa] = (page, PageSize.S4K)
        return OK

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

    # ------------------------------------------------------------------ guest OS
    def guest_os_pvalidate(self, guest: int, gpa: int, size2m: bool = False) -> str:
        """The guest OS at VMPL0 validates gpa (2M: the 2M page holding gpa) unless its own
        record says it already validated one of those gpas -- its duty never to validate a gpa
        twice, which is what stops an HV remap + re-validate [V L/guest-sev]. Then PVALIDATE(1)
        with its outcome; on "ok" the gpas join the record."""
        self._chk_guest(guest)
        self._chk("gpa", gpa, self.gpas)
        if not self.running(guest):
            return NOT_RUNNING
        span = self.region(gpa) if size2m else range(gpa, gpa + 1)
        if any(b in self.guest_os_validated[guest] for b in span):
            return "GUEST_REFUSED_DOUBLE_VALIDATE"
        outcome = self.pvalidate(guest, 0, gpa, size2m, True)
        if outcome == OK:
            self.guest_os_validated[guest].update(span)
        return outcome

    def guest_os_unvalidate(self, guest: int, gpa: int) -> str:
        """The guest OS rescinds validation of a 4K page (PVALIDATE(0) before a private->shared
        page state change [V L/guest-sev __page_state_change]) and forgets the gpa on success."""
        self._chk_guest(guest)
        outcome = self.pvalidate(guest, 0, gpa, False, False)
        if outcome == OK:
            self.guest_os_validated[guest].discard(gpa)
        return outcome

    # ------------------------------------------------------------------ observation
    def _slot_view(self, rec: SwapRecord | None) -> dict[str, object] | None:
        if rec is None:
            return None
        found = self.sealed_cell(rec)
        key, val = found if found is not None else (None, None)
        return {"asid": rec.asid, "gpa": rec.gpa, "validated": rec.validated, "vmsa": rec.vmsa,
                "perms": {v: perm_names(x) for v, x in enumerate(rec.perms)}, "key": key, "val": val}

    def _cell_view(self, page: int) -> dict[str, int | None]:
        found = self.cell(page)
        return {"key": None, "val": None} if found is None else {"key": found[0], "val": found[1]}

    def observe(self) -> dict[str, object]:
        """Spec-visible state as plain values; shape in the module docstring."""
        pages = range(self.pages)
        return {
            "rmp": {p: self.rmp[p].record() for p in pages},
            "npt": {g: {a: (t[0] if t is not None else None) for a, t in enumerate(tab)}
                    for g, tab in self.npt.items()},
            "npt_size": {g: {a: (t[1].name if t is not None else None) for a, t in enumerate(tab)}
                         for g, tab in self.npt.items()},
            "mem": {p: self._cell_view(p) for p in pages},
            "guest_state": {g: s.value for g, s in self.guest_state.items()},
            "guest_os_validated": {g: frozenset(s) for g, s in self.guest_os_validated.items()},
            "md_pages": frozenset(self.metadata),
            "slots": {p: self._slot_view(self.metadata.get(p)) for p in pages},
            "context_pages": frozenset(self.context_pages),
            "swap_locked": frozenset(self.swap_locked),
        }
