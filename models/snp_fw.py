"""The AMD-SP (PSP) firmware commands of the SEV-SNP machine.

In: the shared state of `models.snp_base.SnpState`; commands as methods with small ints and
page-type names. Out: `AmdSp`, a base class of `models.snp.SnpMachine`; each command returns
"ok" or the firmware status name (INVALID_GUEST_STATE, INVALID_PAGE_STATE, INVALID_PAGE_SIZE,
INVALID_MDATA_ENTRY, INVALID_PARAM; domain.md 1.3 [V L/uapi-psp]).
Guarantees: checks in the order documented per command; a failing command changes nothing;
swapped-out contents really are sealed (AES-GCM under the AMD-SP's transport key, aad = asid ||
gpa) and unsealed with the tag checked.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from models.snp_base import BLOCK_BYTES, OK, VALUE_BYTES, SnpState
from models.snp_rmp import PERM_ALL, PERM_NONE, GuestState, PageSize, PageState, Perm, SwapRecord

# SNP_LAUNCH_UPDATE page types [V L/psp]
PAGE_TYPES = {"NORMAL": 1, "VMSA": 2, "ZERO": 3, "UNMEASURED": 4, "SECRETS": 5, "CPUID": 6}
_MEASURED_CONTENTS = {"NORMAL", "VMSA", "CPUID"}  # which types hash their contents [R FW ABI]


class AmdSp(SnpState):
    """SNP_LAUNCH_UPDATE / LAUNCH_FINISH, PAGE_MD_INIT, GCTX_CREATE, PAGE_RECLAIM, SWAP_OUT/IN."""

    # ------------------------------------------------------------------ launch
    def launch_update(
        self,
        guest: int,
        page: int,
        gpa: int,
        contents_value: int,
        page_type: str = "NORMAL",
        vmpl_perms: tuple[int, int, int] = (0, 0, 0),
    ) -> str:
        """SNP_LAUNCH_UPDATE [V L/psp; L/kvm-sev]. In order: INVALID_PARAM for an unknown page
        type or perms outside 0..15; INVALID_GUEST_STATE once the guest has passed
        LAUNCH_FINISH; INVALID_PAGE_STATE unless the page is Pre-Guest for (guest, gpa);
        INVALID_PAGE_SIZE for a 2M entry. Effect [R FW ABI]: the page := contents_value (ZERO:
        0) then zeros, encrypted under the guest's key; digest := SHA-384(digest || gpa(8 LE) ||
        type(1) || SHA-384(contents)), contents empty for ZERO/UNMEASURED/SECRETS;
        validated := 1, immutable := 0, vmsa := (type == VMSA), perms[1..3] := vmpl_perms. The
        guest OS learns that gpa is validated (pre-validated boot memory)."""
        self._chk_guest(guest)
        self._chk("page", page, self.pages)
        self._chk("gpa", gpa, self.gpas)
        if page_type not in PAGE_TYPES or any(not 0 <= p <= int(PERM_ALL) for p in vmpl_perms):
            return "INVALID_PARAM"
        if self.guest_state[guest] is not GuestState.LAUNCH:
            return "INVALID_GUEST_STATE"
        e = self.rmp[page]
        if self.page_state(page) != PageState.PRE_GUEST.value or e.asid != guest or e.gpa != gpa:
            return "INVALID_PAGE_STATE"
        if e.size is not PageSize.S4K:
            return "INVALID_PAGE_SIZE"
        value = 0 if page_type == "ZERO" else contents_value
        contents = self._block(value) + bytes(self.page_bytes - len(self._block(value)))
        self.mem.write(guest, page, 0, contents)
        measured = contents if page_type in _MEASURED_CONTENTS else b""
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

    def launch_finish(self, guest: int) -> str:
        """SNP_LAUNCH_FINISH [V L/psp]: INVALID_GUEST_STATE unless the guest is launching; then
        the digest is final and the guest runs. (The guest owner checks the digest before it
        trusts the guest; the firmware does not.)"""
        self._chk_guest(guest)
        if self.guest_state[guest] is not GuestState.LAUNCH:
            return "INVALID_GUEST_STATE"
        self.guest_state[guest] = GuestState.RUNNING
        return OK

    # ------------------------------------------------------------------ firmware-owned pages
    def _make_fw_owned(self, page: int, book: str) -> str:
        self._chk("page", page, self.pages)
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
        self._chk("page", page, self.pages)
        e = self.rmp[page]
        if not e.immutable or self.metadata.get(page) is not None:
            return "INVALID_PAGE_STATE"
        guest_page = e.asid != 0
        perms = (PERM_ALL if guest_page else PERM_NONE, PERM_NONE, PERM_NONE, PERM_NONE)
        for p in self._targets(page):  # a whole 2M entry if the page is part of one
            self.rmp[p] = replace(
                self.rmp[p], immutable=False, validated=False, vmsa=False,
                assigned=guest_page, perms=perms,
            )
            self.metadata.pop(p, None)
            self.context_pages.discard(p)
            self.swap_locked.discard(p)
        return OK

    # ------------------------------------------------------------------ swapping
    def _swap_plaintext(self, page: int, asid: int) -> bytes:
        """What SWAP_OUT seals: the page decrypted with the owner's VEK, as the AMD-SP reads a
        guest page [R FW ABI; domain 1.3]. Contents that are not under that key (a page the
        guest never wrote since it was assigned) come out as garbage, and stay garbage."""
        return self.mem.read(self._ctx(asid), page, 0, self.page_bytes)

    def _aad(self, asid: int, gpa: int) -> bytes:
        return bytes([asid]) + gpa.to_bytes(8, "little")

    def unseal(self, rec: SwapRecord) -> bytes:
        """The plaintext of a sealed record (the AMD-SP's view; raises on a forged record)."""
        return self._transport.decrypt(rec.nonce, rec.sealed, self._aad(rec.asid, rec.gpa))

    def sealed_cell(self, rec: SwapRecord) -> tuple[int, int] | None:
        """(key, value) of the page as it was when sealed: the unsealed bytes encrypted again
        with the owner's VEK at the page they came from give its ciphertext then, which is
        decoded like `cell` (trial decryption). None if it held no stored value."""
        cipher = self.mem.encrypt_at(self._ctx(rec.asid), rec.spa, self.unseal(rec))
        for asid in range(self.guests + 1):
            block = self.mem.decrypt_at(self._ctx(asid), rec.spa, cipher)[:BLOCK_BYTES]
            if not any(block[VALUE_BYTES:]):
                return asid, int.from_bytes(block[:VALUE_BYTES], "little")
        return None

    def page_swap_out(self, page: int, metadata_page: int) -> str:
        """SNP_PAGE_SWAP_OUT [V L/psp id; semantics R, domain 1.3]. INVALID_PAGE_STATE unless
        `page` is a mutable guest page (Guest-Valid/Invalid); INVALID_PAGE_SIZE for a 2M entry;
        INVALID_MDATA_ENTRY unless metadata_page is a Metadata page with an empty slot.
        Effect: contents sealed under the transport key with the RMP state (asid, gpa,
        validated, vmsa, perms) into the slot; the page is locked (Pre-Swap: immutable,
        validated := 0, vmsa := 0) so neither the guest nor the HV can use it until reclaim or
        swap-in."""
        self._chk("page", page, self.pages)
        self._chk("page", metadata_page, self.pages)
        e = self.rmp[page]
        if self.page_state(page) not in (PageState.GUEST_VALID.value, PageState.GUEST_INVALID.value):
            return "INVALID_PAGE_STATE"
        if e.size is not PageSize.S4K:
            return "INVALID_PAGE_SIZE"
        if metadata_page not in self.metadata or self.metadata[metadata_page] is not None:
            return "INVALID_MDATA_ENTRY"
        plain = self._swap_plaintext(page, e.asid)
        self._nonce += 1
        nonce = self._nonce.to_bytes(12, "little")
        sealed = self._transport.encrypt(nonce, plain, self._aad(e.asid, e.gpa))
        self.metadata[metadata_page] = SwapRecord(
            e.asid, e.gpa, e.validated, e.vmsa, e.perms, nonce, sealed, page
        )
        self.rmp[page] = replace(e, immutable=True, validated=False, vmsa=False)
        self.swap_locked.add(page)
        return OK

    def page_swap_in(self, page: int, metadata_page: int) -> str:
        """SNP_PAGE_SWAP_IN [V L/psp id; semantics R]. INVALID_MDATA_ENTRY unless metadata_page
        holds a swapped-out record; INVALID_PAGE_STATE unless `page` is 4K, assigned, immutable,
        a guest page (not firmware-owned) with the record's asid and gpa (the locked original,
        or a page the HV prepared as Pre-Guest for that gpa). Effect: contents unsealed
        (AEAD-checked) and re-encrypted under the guest key at the new SPA; validated, vmsa,
        perms restored; immutable := 0; the slot is emptied."""
        self._chk("page", page, self.pages)
        self._chk("page", metadata_page, self.pages)
        rec = self.metadata.get(metadata_page)
        if rec is None:
            return "INVALID_MDATA_ENTRY"
        e = self.rmp[page]
        if (
            not e.assigned
            or not e.immutable
            or e.asid == 0
            or e.asid != rec.asid
            or e.gpa != rec.gpa
            or e.size is not PageSize.S4K
        ):
            return "INVALID_PAGE_STATE"
        self.mem.write(self._ctx(rec.asid), page, 0, self.unseal(rec))
        self.rmp[page] = replace(
            e, immutable=False, validated=rec.validated, vmsa=rec.vmsa, perms=rec.perms
        )
        self.metadata[metadata_page] = None
        self.swap_locked.discard(page)
        return OK
